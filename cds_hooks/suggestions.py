"""What a card offers: suggested FHIR resources and the override reasons with their snooze lengths.

Suggested resources are built with the `fhir.resources` R4B models, so every `create` action
carries a resource that validates as FHIR R4 (CDS Hooks 2.0 "Action"). Override reasons are the
CDC Opioid IG's CodeSystem (`terminology.override_reasons()`, with display as the spec requires):
the snooze reasons whose length the clinic policy offers, and "comment". A policy snooze length
the IG has no code for (say 14 days) gets a code of ours, `snooze-14-days`. A snooze is never
longer than the longest length the policy offers.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from app.clinical.model import LOINC, RXNORM
from app.clinical.policy import ClinicPolicy
from app.clinical.terminology import Terminology
from cds_hooks.models import Action, OverrideReason, Suggestion

#: CodeSystem of our own override reasons (policy snooze lengths the IG has no code for).
PPACT_OVERRIDE_SYSTEM = "urn:ppact-cot:cds-override-reason"
#: Days each IG snooze code stands for (a month is 30 days, six months 182, a year 365).
IG_SNOOZE_DAYS: dict[str, int] = {
    "snooze-1-month": 30,
    "snooze-3-months": 90,
    "snooze-6-months": 182,
    "snooze-1-year": 365,
}
IG_OTHER_REASONS = ("comment",)

NALOXONE_RXCUI = "1725059"  # in the CDC naloxone-medications value set
NALOXONE_DISPLAY = "naloxone hydrochloride 40 MG/ML Nasal Spray"  # RxNorm's name (4 mg/0.1 mL)
NALOXONE_TEXT = "naloxone 4 mg nasal spray"
UDS_LOINC = "65750-2"
UDS_DISPLAY = "Drugs of abuse 5 panel - Urine by Screen method"


def override_reasons(policy: ClinicPolicy, terminology: Terminology) -> list[OverrideReason]:
    """Snooze reasons for each policy snooze length, then the IG's other reasons offered."""
    by_code = {c.code: c for c in terminology.override_reasons()}
    reasons: list[OverrideReason] = []
    for days in policy.snooze.choices_days:
        code = next((c for c, d in IG_SNOOZE_DAYS.items() if d == days), None)
        ig = by_code.get(code) if code else None
        if ig is not None and ig.display:
            reasons.append(OverrideReason(system=ig.system, code=ig.code, display=ig.display))
        else:
            reasons.append(
                OverrideReason(
                    system=PPACT_OVERRIDE_SYSTEM,
                    code=f"snooze-{days}-days",
                    display=f"Snooze Alert for {days} Days",
                )
            )
    for code in IG_OTHER_REASONS:
        ig = by_code.get(code)
        if ig is not None and ig.display:
            reasons.append(OverrideReason(system=ig.system, code=ig.code, display=ig.display))
    return reasons


def snooze_days(code: str | None, policy: ClinicPolicy) -> int | None:
    """Days a reason code snoozes for, capped at the policy's longest choice; None: no snooze."""
    if not code:
        return None
    base = code.removesuffix("-with-comment")
    days: int | None = IG_SNOOZE_DAYS.get(base)
    if days is None and base.startswith("snooze-") and base.endswith("-days"):
        number = base[len("snooze-") : -len("-days")]
        days = int(number) if number.isdigit() and int(number) > 0 else None
    if days is None:
        return None
    return min(days, max(policy.snooze.choices_days))


def _suggestion(label: str, actions: list[Action], *, recommended: bool) -> Suggestion:
    return Suggestion(
        label=label, uuid=str(uuid.uuid4()), isRecommended=recommended, actions=actions
    )


def _requester(user_id: str) -> dict[str, str] | None:
    kind = user_id.split("/", 1)[0]
    return {"reference": user_id} if kind in {"Practitioner", "PractitionerRole"} else None


def naloxone_order(patient_id: str, user_id: str, as_of: date) -> dict[str, Any]:
    """A draft naloxone nasal spray MedicationRequest (validated R4B resource as JSON)."""
    fields: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": as_of.isoformat(),
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": NALOXONE_RXCUI, "display": NALOXONE_DISPLAY}],
            "text": NALOXONE_TEXT,
        },
        "reasonCode": [{"text": "Opioid overdose rescue (CDC 2022 Recommendation 8)"}],
        "dosageInstruction": [
            {
                "text": "For suspected opioid overdose: spray 4 mg into one nostril; may repeat"
                " every 2-3 minutes in alternating nostrils. Call 911.",
                "asNeededBoolean": True,
            }
        ],
        "dispenseRequest": {
            "quantity": {"value": 2, "unit": "spray device"},
            "numberOfRepeatsAllowed": 1,
        },
    }
    requester = _requester(user_id)
    if requester:
        fields["requester"] = requester
    resource: dict[str, Any] = MedicationRequest.model_validate(fields).model_dump(
        mode="json", exclude_none=True, by_alias=True
    )
    return resource


def uds_order(patient_id: str, user_id: str, as_of: date) -> dict[str, Any]:
    """A draft urine drug screen ServiceRequest (validated R4B resource as JSON)."""
    fields: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": as_of.isoformat(),
        "category": [
            {
                "coding": [
                    {
                        "system": "http://snomed.info/sct",
                        "code": "108252007",
                        "display": "Laboratory procedure",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": UDS_LOINC, "display": UDS_DISPLAY}]},
        "reasonCode": [{"text": "Chronic opioid therapy monitoring (CDC 2022 Recommendation 10)"}],
    }
    requester = _requester(user_id)
    if requester:
        fields["requester"] = requester
    resource: dict[str, Any] = ServiceRequest.model_validate(fields).model_dump(
        mode="json", exclude_none=True, by_alias=True
    )
    return resource


def add_naloxone(patient_id: str, user_id: str, as_of: date) -> Suggestion:
    """Suggestion: create a naloxone order."""
    action = Action(
        type="create",
        description="Add a naloxone 4 mg nasal spray order",
        resource=naloxone_order(patient_id, user_id, as_of),
    )
    return _suggestion("Order naloxone nasal spray", [action], recommended=True)


def order_uds(patient_id: str, user_id: str, as_of: date) -> Suggestion:
    """Suggestion: create a urine drug screen order."""
    action = Action(
        type="create",
        description="Add a urine drug screen order",
        resource=uds_order(patient_id, user_id, as_of),
    )
    return _suggestion("Order a urine drug screen", [action], recommended=True)


def remove_draft(ref: str, name: str) -> Suggestion:
    """Suggestion: delete a draft order (CDS Hooks delete action with resourceId)."""
    action = Action(type="delete", description=f"Remove the draft order for {name}", resourceId=ref)
    return _suggestion(f"Remove draft: {name}"[:80], [action], recommended=False)
