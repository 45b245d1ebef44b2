"""Regimens -> MedicationRequest, MedicationDispense and MedicationStatement JSON.

Each fill of a regimen is a signed order (MedicationRequest with dosageInstruction timing and
doseQuantity, dispenseRequest quantity and expectedSupplyDuration, requester) and, when the
pharmacy filled it before the anchor date, a MedicationDispense (whenHandedOver, daysSupply,
quantity, performer pharmacy, authorizingPrescription). Shapes follow FHIR R4 Dosage,
MedicationRequest and MedicationDispense; the "messy" variants reproduce what EHR exports
really contain (Epic writes doseQuantity in v3-orderableDrugForm units and points
medicationReference at a contained Medication).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.synth.codes import (
    DRUGS,
    MEDREQ_CATEGORY,
    RXNORM,
    SNOMED,
    UCUM,
    UNKNOWN_DRUG_TEXT,
    UNKNOWN_RXCUI,
    V3_ORDERABLE_DRUG_FORM,
    Drug,
)
from app.synth.cohort import WINDOW_DAYS, DoseStep, PatientPlan, Regimen
from app.synth.resources import (
    Resource,
    at_time,
    coding,
    concept,
    day_of,
    pharmacy_ref,
    practitioner_ref,
    ref,
    resource,
    tag,
)

ROUTES: dict[str, tuple[str, str]] = {
    "oral": ("26643006", "Oral route (qualifier value)"),
    "transdermal": ("45890007", "Transdermal route (qualifier value)"),
    "sublingual": ("37839007", "Sublingual route (qualifier value)"),
    "nasal": ("46713006", "Nasal route (qualifier value)"),
}
ORDERABLE_FORMS: dict[str, tuple[str, str]] = {
    "tablet": ("TAB", "Tablet"),
    "capsule": ("CAP", "Capsule"),
}
#: Styles a single fill can be written in when the plan turns messiness on.
FILL_STYLES: tuple[str, ...] = (
    "text-only-sig",
    "contained-medication",
    "medication-reference",
    "orderable-drug-form",
    "dose-range",
)


@dataclass(frozen=True, slots=True)
class Fill:
    """One prescription of a regimen step, and its dispense day (None: not yet picked up)."""

    day: int
    step: DoseStep
    prescriber: str
    pharmacy: str
    dispense_day: int | None
    style: str = "structured"


def regimen_fills(
    regimen: Regimen, rng: random.Random, *, styles: tuple[str, ...] = ()
) -> list[Fill]:
    """Fills of a regimen: one per supply period, sometimes early, sometimes a little late."""
    fills: list[Fill] = []
    for step in regimen.steps:
        day = step.start_day
        while day < min(step.end_day, WINDOW_DAYS):
            dispense_day = day + rng.randint(0, 2)
            style = "structured"
            if styles and len(fills) % 3 == 1:
                # Every third fill is written in the next messy style, so each one shows up.
                style = styles[(len(fills) // 3) % len(styles)]
            fills.append(
                Fill(
                    day=day,
                    step=step,
                    prescriber=regimen.prescribers[len(fills) % len(regimen.prescribers)],
                    pharmacy=rng.choice(regimen.pharmacies),
                    dispense_day=dispense_day if dispense_day < WINDOW_DAYS else None,
                    style=style,
                )
            )
            if rng.random() < regimen.early_refill_rate:
                gap = step.fill_days - rng.randint(5, 10)  # early refill
            else:
                gap = step.fill_days + rng.randint(0, 3)
            next_day = day + max(gap, 3)
            runs_out = day + step.fill_days - 1
            if step.end_day >= WINDOW_DAYS and next_day >= WINDOW_DAYS > runs_out:
                # Ongoing therapy never lapses on the anchor date itself: refill the day the
                # supply runs out, so "current dose" demos are not an accident of jitter.
                next_day = max(runs_out, day + 1)
            day = next_day
    return fills


def route_for(drug: Drug) -> str:
    return {"patch": "transdermal", "film": "sublingual", "package": "nasal"}.get(drug.unit, "oral")


def sig_text(step: DoseStep) -> str:
    """The free-text sig a prescriber would see, e.g. 'Take 1 tablet by mouth every 6 hours'."""
    drug = DRUGS[step.drug]
    units = f"{step.units_per_dose:g} {drug.unit}{'s' if step.units_per_dose > 1 else ''}"
    if step.period_unit == "h":
        when = f"every {step.period:g} hours"
    elif step.period_unit == "wk":
        when = "once weekly"
    elif step.frequency == 1:
        when = "once daily"
    else:
        when = f"{step.frequency} times daily"
    verb = {"patch": "Apply", "film": "Dissolve"}.get(drug.unit, "Take")
    where = {"patch": "to skin", "film": "under the tongue"}.get(drug.unit, "by mouth")
    prn = " as needed for pain" if step.as_needed else ""
    return f"{verb} {units} {where} {when}{prn}"


def _quantity(value: float, drug: Drug) -> dict[str, Any]:
    return {"value": value, "unit": drug.unit, "system": UCUM, "code": drug.ucum}


def _days(value: int) -> dict[str, Any]:
    return {"value": value, "unit": "days", "system": UCUM, "code": "d"}


def dosage(
    step: DoseStep, *, style: str = "structured", prn_max_dose: bool = False
) -> dict[str, Any]:
    """One FHIR Dosage for a step, written in the given style."""
    drug = DRUGS[step.drug]
    text = sig_text(step)
    if style == "text-only-sig":
        return {"sequence": 1, "text": text.replace("Take", "take").replace(" by mouth", " po")}
    route_code, route_display = ROUTES[route_for(drug)]
    out: dict[str, Any] = {
        "sequence": 1,
        "text": text,
        "timing": {
            "repeat": {
                "frequency": step.frequency,
                "period": step.period,
                "periodUnit": step.period_unit,
            }
        },
    }
    if step.as_needed:
        out["asNeededBoolean"] = True
    out["route"] = concept(coding(SNOMED, route_code, route_display))
    if style == "dose-range" and step.as_needed:
        high = step.units_per_dose + 1
        out["text"] = text.replace(
            f"{step.units_per_dose:g} {drug.unit}", f"1-{high:g} {drug.unit}s"
        )
        out["doseAndRate"] = [
            {"doseRange": {"low": _quantity(1, drug), "high": _quantity(high, drug)}}
        ]
    elif style == "orderable-drug-form" and drug.unit in ORDERABLE_FORMS:
        form_code, form_display = ORDERABLE_FORMS[drug.unit]
        out["doseAndRate"] = [
            {
                "doseQuantity": {
                    "value": step.units_per_dose,
                    "unit": form_display,
                    "system": V3_ORDERABLE_DRUG_FORM,
                    "code": form_code,
                }
            }
        ]
    else:
        out["doseAndRate"] = [{"doseQuantity": _quantity(step.units_per_dose, drug)}]
    if prn_max_dose and step.as_needed:
        out["maxDosePerPeriod"] = {
            "numerator": _quantity(math.ceil(step.units_per_day), drug),
            "denominator": {"value": 1, "unit": "day", "system": UCUM, "code": "d"},
        }
    return out


def medication_concept(drug: Drug) -> dict[str, Any]:
    return concept(coding(RXNORM, drug.rxcui, drug.display), text=drug.display)


def _medication_fields(
    drug: Drug, style: str, medication_id: str | None
) -> tuple[dict[str, Any], list[Resource]]:
    """medication[x] (and contained resources) of an order or dispense written in `style`."""
    if style == "contained-medication":
        contained: Resource = {
            "resourceType": "Medication",
            "id": "med1",
            "meta": tag(),
            "code": medication_concept(drug),
        }
        return {"medicationReference": {"reference": "#med1", "display": drug.display}}, [contained]
    if style == "medication-reference" and medication_id:
        return {"medicationReference": ref("Medication", medication_id, drug.display)}, []
    return {"medicationCodeableConcept": medication_concept(drug)}, []


def medication_resource(medication_id: str, drug: Drug) -> Resource:
    """A Medication resource in the bundle, for orders that use medicationReference."""
    return resource("Medication", medication_id, code=medication_concept(drug))


def medication_request(
    request_id: str,
    patient_id: str,
    fill: Fill,
    start: date,
    *,
    status: str,
    medication_id: str | None = None,
    prn_max_dose: bool = False,
) -> Resource:
    drug = DRUGS[fill.step.drug]
    authored = day_of(start, fill.day)
    medication, contained = _medication_fields(drug, fill.style, medication_id)
    fields: dict[str, Any] = {}
    if contained:
        fields["contained"] = contained
    quantity = math.ceil(fill.step.units_per_day * fill.step.fill_days)
    return resource(
        "MedicationRequest",
        request_id,
        **fields,
        status=status,
        intent="order",
        category=[concept(coding(MEDREQ_CATEGORY, "community", "Community"))],
        **medication,
        subject=ref("Patient", patient_id),
        authoredOn=at_time(authored, fill.day * 37),
        requester=practitioner_ref(fill.prescriber),
        dosageInstruction=[dosage(fill.step, style=fill.style, prn_max_dose=prn_max_dose)],
        dispenseRequest={
            "validityPeriod": {
                "start": authored.isoformat(),
                "end": day_of(start, fill.day + 30).isoformat(),
            },
            "numberOfRepeatsAllowed": 0,
            "quantity": _quantity(quantity, drug),
            "expectedSupplyDuration": _days(fill.step.fill_days),
        },
    )


def medication_dispense(
    dispense_id: str,
    patient_id: str,
    request_id: str,
    fill: Fill,
    start: date,
    *,
    medication_id: str | None = None,
) -> Resource:
    assert fill.dispense_day is not None  # noqa: S101 - callers only pass dispensed fills
    drug = DRUGS[fill.step.drug]
    medication, contained = _medication_fields(drug, fill.style, medication_id)
    fields: dict[str, Any] = {"contained": contained} if contained else {}
    handed = day_of(start, fill.dispense_day)
    return resource(
        "MedicationDispense",
        dispense_id,
        **fields,
        status="completed",
        **medication,
        subject=ref("Patient", patient_id),
        performer=[{"actor": pharmacy_ref(fill.pharmacy)}],
        authorizingPrescription=[ref("MedicationRequest", request_id)],
        quantity=_quantity(math.ceil(fill.step.units_per_day * fill.step.fill_days), drug),
        daysSupply={"value": fill.step.fill_days, "unit": "day", "system": UCUM, "code": "d"},
        whenPrepared=at_time(handed, fill.dispense_day * 53),
        whenHandedOver=at_time(handed, fill.dispense_day * 53 + 45),
        dosageInstruction=[dosage(fill.step, style=fill.style)],
    )


def medication_statement(
    statement_id: str,
    patient_id: str,
    step: DoseStep,
    *,
    first_day: str,
    asserted: str,
    encounter_id: str | None,
    status: str = "active",
    end_day: str | None = None,
) -> Resource:
    """A medication-list entry reconciled at a visit (`first_day` may be a partial date)."""
    drug = DRUGS[step.drug]
    period = {"start": first_day}
    if end_day:
        period["end"] = end_day
    fields: dict[str, Any] = {}
    if encounter_id:
        fields["context"] = ref("Encounter", encounter_id)
    return resource(
        "MedicationStatement",
        statement_id,
        status=status,
        medicationCodeableConcept=medication_concept(drug),
        subject=ref("Patient", patient_id),
        **fields,
        effectivePeriod=period,
        dateAsserted=asserted,
        informationSource=ref("Patient", patient_id),
        dosage=[dosage(step)],
    )


def unknown_code_request(
    request_id: str, patient_id: str, *, authored: str, prescriber: str
) -> Resource:
    """An active order whose RxNorm code no terminology knows: MME must be 'not computable'."""
    return resource(
        "MedicationRequest",
        request_id,
        status="active",
        intent="order",
        category=[concept(coding(MEDREQ_CATEGORY, "community", "Community"))],
        medicationCodeableConcept=concept(coding(RXNORM, UNKNOWN_RXCUI), text=UNKNOWN_DRUG_TEXT),
        subject=ref("Patient", patient_id),
        authoredOn=authored,
        requester=practitioner_ref(prescriber),
        dosageInstruction=[
            {
                "sequence": 1,
                "text": "Take 1 capsule by mouth every 8 hours as needed for pain",
                "timing": {"repeat": {"frequency": 1, "period": 8, "periodUnit": "h"}},
                "asNeededBoolean": True,
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 1,
                            "unit": "capsule",
                            "system": UCUM,
                            "code": "{cap}",
                        }
                    }
                ],
            }
        ],
        dispenseRequest={
            "quantity": {"value": 90, "unit": "capsule", "system": UCUM, "code": "{cap}"},
            "expectedSupplyDuration": _days(30),
        },
    )


def naloxone_request(
    request_id: str, patient_id: str, *, drug_key: str, authored: str, prescriber: str
) -> Resource:
    drug = DRUGS[drug_key]
    route_code, route_display = ROUTES["nasal"]
    return resource(
        "MedicationRequest",
        request_id,
        status="completed",
        intent="order",
        category=[concept(coding(MEDREQ_CATEGORY, "community", "Community"))],
        medicationCodeableConcept=medication_concept(drug),
        subject=ref("Patient", patient_id),
        authoredOn=authored,
        requester=practitioner_ref(prescriber),
        dosageInstruction=[
            {
                "sequence": 1,
                "text": "Spray 4 mg into one nostril for suspected opioid overdose; "
                "may repeat in 2 to 3 minutes in the other nostril",
                "asNeededBoolean": True,
                "route": concept(coding(SNOMED, route_code, route_display)),
            }
        ],
        dispenseRequest={"quantity": _quantity(1, drug), "expectedSupplyDuration": _days(30)},
    )


def naloxone_dispense(
    dispense_id: str,
    patient_id: str,
    request_id: str,
    *,
    drug_key: str,
    handed: str,
    pharmacy: str,
) -> Resource:
    drug = DRUGS[drug_key]
    return resource(
        "MedicationDispense",
        dispense_id,
        status="completed",
        medicationCodeableConcept=medication_concept(drug),
        subject=ref("Patient", patient_id),
        performer=[{"actor": pharmacy_ref(pharmacy)}],
        authorizingPrescription=[ref("MedicationRequest", request_id)],
        quantity=_quantity(1, drug),
        daysSupply={"value": 30, "unit": "day", "system": UCUM, "code": "d"},
        whenHandedOver=handed,
    )


def request_status(fill: Fill, *, is_last: bool) -> str:
    """ "active" for the latest fill whose supply reaches the anchor date, else "completed"."""
    if is_last and fill.day + fill.step.fill_days >= WINDOW_DAYS:
        return "active"
    return "completed"


def plan_styles(plan: PatientPlan) -> tuple[str, ...]:
    """Fill styles the plan's messiness allows, in a fixed order."""
    return tuple(style for style in FILL_STYLES if style in plan.messy)
