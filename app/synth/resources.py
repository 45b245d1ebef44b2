"""FHIR R4 JSON builders for the people, places and visits of the synthetic cohort.

Shapes follow the FHIR R4 resource definitions (http://hl7.org/fhir/R4/) and US Core where it
names a coding (condition categories, clinical-note documents). Every resource carries the
synthetic-data tag so a server loaded with the cohort can find and purge it. Practitioners and
Organizations are shared by all patients and repeated in every bundle that refers to them, so
each bundle loads on its own.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from app.synth.codes import (
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    CPT,
    DIAGNOSES,
    HOSPICE_CARE,
    ICD10CM,
    MRN_SYSTEM,
    ORG_TYPE,
    SNOMED,
    SYNTHETIC_TAG_CODE,
    SYNTHETIC_TAG_SYSTEM,
    V3_ACT_CODE,
)

Resource = dict[str, Any]

#: Local time zone of the synthetic clinic, written into every dateTime that has a time.
TZ_OFFSET = "-07:00"
STAFF_SYSTEM = "urn:ppact-cot:staff"
ORG_SYSTEM = "urn:ppact-cot:organization"
CLINIC_ID = "ppact-org-clinic"
CLINIC_NAME = "PPACT Test Family Medicine Clinic"


@dataclass(frozen=True, slots=True)
class Staff:
    """A made-up practitioner shared across the cohort."""

    id: str
    given: str
    family: str
    suffix: str
    role: str

    @property
    def display(self) -> str:
        return f"{self.given} {self.family}, {self.suffix}"


STAFF: dict[str, Staff] = {
    row.id: row
    for row in (
        Staff("ppact-prac-01", "Quinn", "Testdoc", "MD", "primary care"),
        Staff("ppact-prac-02", "Riley", "Samplewell", "MD", "primary care"),
        Staff("ppact-prac-03", "Morgan", "Fakename", "NP", "primary care"),
        Staff("ppact-prac-04", "Casey", "Placeholder", "PA-C", "urgent care"),
        Staff("ppact-prac-05", "Jamie", "Demoson", "MD", "pain medicine"),
        Staff("ppact-prac-06", "Taylor", "Mockley", "MD", "psychiatry"),
        Staff("ppact-prac-07", "Drew", "Examplar", "DO", "emergency medicine"),
        Staff("ppact-prac-08", "Sky", "Notreal", "LICSW", "PPACT behavioral health clinician"),
        Staff("ppact-prac-09", "Robin", "Fixture", "RN", "PPACT nurse care manager"),
        Staff("ppact-prac-10", "Alex", "Mockwell", "MD", "oncology"),
    )
}

PHARMACY_NAMES: dict[str, str] = {
    "ppact-pharm-01": "Alder Street Test Pharmacy",
    "ppact-pharm-02": "Birch Avenue Test Pharmacy",
    "ppact-pharm-03": "Cedar Plaza Test Pharmacy",
    "ppact-pharm-04": "Dogwood Mail-Order Test Pharmacy",
    "ppact-pharm-05": "Elm Road Test Pharmacy",
}


# --------------------------------------------------------------------------- primitives


def tag() -> dict[str, Any]:
    """The `meta` of every synthetic resource."""
    return {"tag": [{"system": SYNTHETIC_TAG_SYSTEM, "code": SYNTHETIC_TAG_CODE}]}


def resource(resource_type: str, resource_id: str, **fields: Any) -> Resource:
    """A resource dict with type, id and tag first, then `fields` in the order given."""
    return {"resourceType": resource_type, "id": resource_id, "meta": tag(), **fields}


def ref(resource_type: str, resource_id: str, display: str | None = None) -> dict[str, str]:
    """A literal relative reference ``Type/id``."""
    out = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        out["display"] = display
    return out


def practitioner_ref(staff_id: str) -> dict[str, str]:
    return ref("Practitioner", staff_id, STAFF[staff_id].display)


def pharmacy_ref(pharmacy_id: str) -> dict[str, str]:
    return ref("Organization", pharmacy_id, PHARMACY_NAMES[pharmacy_id])


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(*codings: dict[str, str], text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": list(codings)}
    if text:
        out["text"] = text
    return out


def day_of(start: date, day: int) -> date:
    return start + timedelta(days=day)


def at_time(day: date, minutes_after_8am: int) -> str:
    """A local dateTime between 08:00 and 15:59 (same calendar day in UTC too)."""
    minutes = minutes_after_8am % (8 * 60)
    return f"{day.isoformat()}T{8 + minutes // 60:02d}:{minutes % 60:02d}:00{TZ_OFFSET}"


def text_attachment(text: str, title: str) -> dict[str, str]:
    """A small text/plain attachment, base64 encoded as FHIR `Attachment.data` requires."""
    return {
        "contentType": "text/plain",
        "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
        "title": title,
    }


# --------------------------------------------------------------------------- shared resources


def practitioner(staff_id: str) -> Resource:
    staff = STAFF[staff_id]
    return resource(
        "Practitioner",
        staff.id,
        identifier=[{"system": STAFF_SYSTEM, "value": staff.id}],
        active=True,
        name=[
            {
                "use": "official",
                "text": staff.display,
                "family": staff.family,
                "given": [staff.given],
                "suffix": [staff.suffix],
            }
        ],
        qualification=[{"code": {"text": staff.role}}],
    )


def organization(org_id: str) -> Resource:
    if org_id == CLINIC_ID:
        return resource(
            "Organization",
            org_id,
            active=True,
            type=[concept(coding(ORG_TYPE, "prov", "Healthcare Provider"))],
            name=CLINIC_NAME,
            address=[{"city": "Testville", "state": "WA", "country": "US"}],
        )
    return resource(
        "Organization",
        org_id,
        identifier=[{"system": ORG_SYSTEM, "value": org_id}],
        active=True,
        type=[{"text": "Pharmacy"}],
        name=PHARMACY_NAMES[org_id],
        address=[{"city": "Testville", "state": "WA", "country": "US"}],
    )


# --------------------------------------------------------------------------- patient chart


def patient(
    patient_id: str, *, number: int, given: str, gender: str, birth_date: date, pcp: str
) -> Resource:
    family = f"Synth{number:04d}"
    return resource(
        "Patient",
        patient_id,
        identifier=[{"use": "usual", "system": MRN_SYSTEM, "value": f"TEST{number:06d}"}],
        active=True,
        name=[{"use": "official", "text": f"{given} {family}", "family": family, "given": [given]}],
        gender=gender,
        birthDate=birth_date.isoformat(),
        generalPractitioner=[practitioner_ref(pcp)],
        managingOrganization=ref("Organization", CLINIC_ID, CLINIC_NAME),
    )


def condition(
    resource_id: str,
    patient_id: str,
    diagnosis_key: str,
    *,
    onset: str,
    recorded: date,
    category: str = "problem-list-item",
    abatement: date | None = None,
) -> Resource:
    """A Condition coded in ICD-10-CM and (when known) SNOMED CT; `onset` may be partial."""
    row = DIAGNOSES[diagnosis_key]
    codings = [coding(ICD10CM, row.icd10, row.icd10_display)]
    if row.snomed:
        codings.append(coding(SNOMED, row.snomed, row.snomed_display))
    clinical = "resolved" if abatement else "active"
    category_display = {
        "problem-list-item": "Problem List Item",
        "encounter-diagnosis": "Encounter Diagnosis",
    }[category]
    out = resource(
        "Condition",
        resource_id,
        clinicalStatus=concept(coding(CONDITION_CLINICAL, clinical)),
        verificationStatus=concept(coding(CONDITION_VERIFICATION, "confirmed")),
        category=[concept(coding(CONDITION_CATEGORY, category, category_display))],
        code=concept(*codings, text=row.icd10_display),
        subject=ref("Patient", patient_id),
        onsetDateTime=onset,
        recordedDate=recorded.isoformat(),
    )
    if abatement:
        out["abatementDateTime"] = abatement.isoformat()
    return out


def encounter(
    resource_id: str,
    patient_id: str,
    *,
    when: date,
    minutes: int,
    practitioner_id: str,
    telehealth: bool = False,
    reason: str | None = None,
    cpt: str = "99213",
) -> Resource:
    """An outpatient office visit (class AMB) or a telehealth visit (class VR)."""
    start = at_time(when, minutes)
    end = at_time(when, minutes + 30)
    class_code = ("VR", "virtual") if telehealth else ("AMB", "ambulatory")
    visit_text = "Telehealth video visit" if telehealth else "Office visit"
    out = resource(
        "Encounter",
        resource_id,
        status="finished",
        **{"class": coding(V3_ACT_CODE, *class_code)},
        type=[concept(coding(CPT, cpt), text=visit_text)],
        subject=ref("Patient", patient_id),
        participant=[{"individual": practitioner_ref(practitioner_id)}],
        period={"start": start, "end": end},
        serviceProvider=ref("Organization", CLINIC_ID, CLINIC_NAME),
    )
    if reason:
        out["reasonCode"] = [{"text": reason}]
    return out


def hospice_encounter(
    resource_id: str, patient_id: str, *, admit: date, discharge: date
) -> Resource:
    """An inpatient stay discharged to hospice (hospice-disposition value set)."""
    return resource(
        "Encounter",
        resource_id,
        status="finished",
        **{"class": coding(V3_ACT_CODE, "IMP", "inpatient encounter")},
        type=[{"text": "Hospital admission"}],
        subject=ref("Patient", patient_id),
        participant=[{"individual": practitioner_ref("ppact-prac-10")}],
        period={"start": at_time(admit, 60), "end": at_time(discharge, 180)},
        hospitalization={
            "dischargeDisposition": concept(
                coding(SNOMED, HOSPICE_CARE[0], HOSPICE_CARE[1]), text="Discharged to hospice"
            )
        },
        serviceProvider=ref("Organization", CLINIC_ID, CLINIC_NAME),
    )


def episode_of_care(
    resource_id: str, patient_id: str, *, start: date, end: date | None
) -> Resource:
    """The PPACT program episode: type text "PPACT" and its period (open while ongoing)."""
    period = {"start": start.isoformat()}
    if end is not None:
        period["end"] = end.isoformat()
    return resource(
        "EpisodeOfCare",
        resource_id,
        status="finished" if end is not None else "active",
        type=[{"text": "PPACT"}],
        patient=ref("Patient", patient_id),
        managingOrganization=ref("Organization", CLINIC_ID, CLINIC_NAME),
        period=period,
        careManager=practitioner_ref("ppact-prac-09"),
    )
