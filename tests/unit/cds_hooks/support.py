"""Helpers shared by the CDS tests and benchmarks/bench_cds.py: requests, prefetch, JWTs.

`prefetch_for` plays the EHR: it files a patient's resources under the service's prefetch keys
by resource type (and category), as an EHR that ran the templates would return them.
"""

from __future__ import annotations

import time
import uuid
from datetime import date
from typing import Any

from joserfc import jwt
from joserfc.jws import JWSRegistry

ANCHOR = date(2026, 11, 1)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"

_KEY_BY_TYPE = {
    "Patient": "patient",
    "MedicationRequest": "medication-request",
    "MedicationDispense": "medication-dispense",
    "MedicationStatement": "medication-statement",
    "Procedure": "procedure",
    "DocumentReference": "document-agreement",
    "Encounter": "encounter",
}


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


def _key(resource: dict[str, Any]) -> str | None:
    kind = resource["resourceType"]
    if kind == "Condition":
        return "condition-problem-list"
    if kind == "Observation":
        codes = [c.get("code") for c in resource.get("code", {}).get("coding", [])]
        return "observation-pdmp" if "461651000124104" in codes else "observation-laboratory"
    return _KEY_BY_TYPE.get(kind)


def prefetch_for(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A full prefetch object (every template key) from one patient's resources."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        key = _key(resource)
        if key is not None:
            grouped.setdefault(key, []).append(resource)
    medications = [r for r in resources if r["resourceType"] == "Medication"]
    grouped.setdefault("medication-request", []).extend(medications)
    prefetch: dict[str, Any] = {}
    from cds_hooks.prefetch import PREFETCH_SECTIONS

    for key in PREFETCH_SECTIONS:
        found = grouped.get(key, [])
        if key == "patient":
            prefetch[key] = found[0] if found else None
        else:
            prefetch[key] = searchset(found)
    return prefetch


def bundle_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle["entry"]]


def medication_request(
    rid: str,
    rxcui: str,
    display: str,
    *,
    patient: str,
    status: str = "draft",
    authored: str | None = None,
    days: int = 30,
    quantity: float = 60,
    dose: float = 1,
    per_day: int = 2,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": "order",
        "subject": {"reference": f"Patient/{patient}"},
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": rxcui, "display": display}],
            "text": display,
        },
        "dosageInstruction": [
            {
                "text": f"{dose:g} tablet {per_day} times a day",
                "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": dose, "unit": "tablet"}}],
            }
        ],
        "dispenseRequest": {
            "quantity": {"value": quantity, "unit": "tablet"},
            "expectedSupplyDuration": {
                "value": days,
                "unit": "days",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            },
        },
    }
    if authored:
        resource["authoredOn"] = authored
    return resource


def hook_request(
    hook: str,
    patient: str,
    *,
    drafts: list[dict[str, Any]] | None = None,
    selections: list[str] | None = None,
    prefetch: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/prac-1", "patientId": patient}
    if hook != "patient-view":
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": d} for d in drafts or []],
        }
    if hook == "order-select":
        context["selections"] = (
            selections
            if selections is not None
            else [f"MedicationRequest/{d['id']}" for d in drafts or []]
        )
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        **extra,
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def sign_jwt(
    key: Any,
    *,
    iss: str,
    aud: str | list[str],
    alg: str = "RS384",
    kid: str = "k1",
    jku: str | None = None,
    now: float | None = None,
    lifetime: int = 300,
    jti: str | None = None,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
) -> str:
    """A real signed JWT as a CDS client sends it."""
    issued = int(now if now is not None else time.time())
    head: dict[str, Any] = {"alg": alg, "typ": "JWT", "kid": kid}
    if jku:
        head["jku"] = jku
    head.update(header or {})
    body: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "exp": issued + lifetime,
        "iat": issued,
        "jti": jti or str(uuid.uuid4()),
    }
    body.update(claims or {})
    return jwt.encode(head, body, key, registry=JWSRegistry(algorithms=[alg]))


# --------------------------------------------------------------------------- chart builders

LOINC = "http://loinc.org"
OXY_5 = ("1049621", "oxycodone hydrochloride 5 MG Oral Tablet")
OXY_10 = ("1049683", "oxycodone hydrochloride 10 MG Oral Tablet")
HYDROMORPHONE_2 = ("897696", "hydromorphone hydrochloride 2 MG Oral Tablet")
ALPRAZOLAM = ("308048", "alprazolam 0.5 MG Oral Tablet")
CARISOPRODOL = ("197446", "carisoprodol 350 MG Oral Tablet")
GABAPENTIN = ("310431", "gabapentin 300 MG Oral Capsule")
NALOXONE = ("1725059", "naloxone hydrochloride 40 MG/ML Nasal Spray")


def _ref(patient: str) -> dict[str, str]:
    return {"reference": f"Patient/{patient}"}


def patient(pid: str, birth: str = "1968-04-02") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": birth, "gender": "female"}


def dispense(
    rid: str, drug: tuple[str, str], handed: date, *, patient: str, days: int = 30, qty: float = 60
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationDispense",
        "id": rid,
        "status": "completed",
        "subject": _ref(patient),
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": drug[0], "display": drug[1]}],
            "text": drug[1],
        },
        "whenHandedOver": handed.isoformat(),
        "daysSupply": {"value": days, "unit": "d", "system": "http://unitsofmeasure.org"},
        "quantity": {"value": qty, "unit": "tablet"},
        "dosageInstruction": [
            {
                "text": "1 tablet twice a day",
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
            }
        ],
    }


def condition(rid: str, system: str, code: str, display: str, *, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": rid,
        "subject": _ref(patient),
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "problem-list-item",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": system, "code": code, "display": display}]},
    }


def pdmp_check(rid: str, day: date, *, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": rid,
        "status": "completed",
        "subject": _ref(patient),
        "code": {
            "coding": [
                {
                    "system": SNOMED,
                    "code": "461621000124108",
                    "display": "Review of prescription drug monitoring program record",
                }
            ]
        },
        "performedDateTime": day.isoformat(),
    }


def agreement(rid: str, day: date, *, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "id": rid,
        "status": "current",
        "subject": _ref(patient),
        "type": {"coding": [{"system": LOINC, "code": "94136-9"}]},
        "date": f"{day.isoformat()}T10:00:00Z",
        "content": [{"attachment": {"contentType": "text/plain", "title": "Agreement"}}],
    }


def visit(rid: str, day: date, *, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": rid,
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
        },
        "type": [{"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "99213"}]}],
        "subject": _ref(patient),
        "period": {"start": day.isoformat(), "end": day.isoformat()},
    }


def uds(rid: str, day: date, code: str, display: str, positive: bool, *, patient: str) -> dict:
    value = ("10828004", "Positive") if positive else ("260385009", "Negative")
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "subject": _ref(patient),
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "effectiveDateTime": day.isoformat(),
        "valueCodeableConcept": {
            "coding": [{"system": SNOMED, "code": value[0], "display": value[1]}]
        },
    }


def monitored_cot_patient(
    pid: str,
    as_of: date = ANCHOR,
    *,
    last_fill_days_ago: int = 28,
    pdmp_days_ago: int | None = 20,
    uds_days_ago: int | None = 60,
    naloxone: bool = True,
    birth: str = "1968-04-02",
) -> list[dict[str, Any]]:
    """A COT patient on oxycodone 5 mg twice a day (15 MME/day), monitoring up to date."""
    from datetime import timedelta

    resources: list[dict[str, Any]] = [patient(pid, birth)]
    for n in range(5):
        day = as_of - timedelta(days=last_fill_days_ago + 30 * n)
        resources.append(dispense(f"{pid}-oxy-{n}", OXY_5, day, patient=pid))
    if pdmp_days_ago is not None:
        resources.append(
            pdmp_check(f"{pid}-pdmp", as_of - timedelta(days=pdmp_days_ago), patient=pid)
        )
    resources.append(agreement(f"{pid}-agr", as_of - timedelta(days=100), patient=pid))
    resources.append(visit(f"{pid}-visit", as_of - timedelta(days=30), patient=pid))
    if uds_days_ago is not None:
        resources.append(
            uds(
                f"{pid}-uds",
                as_of - timedelta(days=uds_days_ago),
                "19642-8",
                "oxyCODONE [Presence] in Urine by Screen method",
                True,
                patient=pid,
            )
        )
    if naloxone:
        resources.append(
            dispense(f"{pid}-nlx", NALOXONE, as_of - timedelta(days=200), patient=pid, qty=2)
        )
    return resources
