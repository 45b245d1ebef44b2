"""FHIR JSON for COT monitoring: urine drug screens, PDMP checks, agreements, PROs, notes.

Codes follow the contracts the clinical readers use: UDS Observations carry a LOINC code from
the CDC UDS value sets, category laboratory, a SNOMED Positive/Negative valueCodeableConcept
and a v3-ObservationInterpretation; PDMP checks are SNOMED 461621000124108 Procedures (or the
461651000124104 finding); agreements are DocumentReferences typed LOINC 94136-9, progress notes
LOINC 11506-3; PEG (91148-7 with item components), PHQ-9 (44261-6) and GAD-7 (70274-6) are
survey Observations with valueQuantity scores.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from app.synth.codes import (
    AGREEMENT_LOINC,
    DOCREF_CATEGORY,
    GAD7_PANEL,
    GAD7_PANEL_DISPLAY,
    GAD7_TOTAL,
    GAD7_TOTAL_DISPLAY,
    LOINC,
    NEGATIVE,
    OBSERVATION_CATEGORY,
    PDMP_REVIEW,
    PDMP_REVIEWED_FINDING,
    PEG_ACTIVITY,
    PEG_ENJOYMENT,
    PEG_PAIN,
    PEG_TOTAL,
    PHQ9_PANEL,
    PHQ9_PANEL_DISPLAY,
    PHQ9_TOTAL,
    PHQ9_TOTAL_DISPLAY,
    POSITIVE,
    PROGRESS_NOTE_DISPLAY,
    PROGRESS_NOTE_LOINC,
    SNOMED,
    UCUM,
    UDS_PANEL_COMPONENTS,
    UDS_TESTS,
    V3_INTERPRETATION,
)
from app.synth.resources import (
    Resource,
    coding,
    concept,
    practitioner_ref,
    ref,
    resource,
    text_attachment,
)

LABORATORY = concept(coding(OBSERVATION_CATEGORY, "laboratory", "Laboratory"))
SURVEY = concept(coding(OBSERVATION_CATEGORY, "survey", "Survey"))
CLINICAL_NOTE = concept(coding(DOCREF_CATEGORY, "clinical-note", "Clinical Note"))


def _result(positive: bool) -> dict[str, Any]:
    system, code, display = POSITIVE if positive else NEGATIVE
    return concept(coding(system, code, display))


def _interpretation(positive: bool) -> list[dict[str, Any]]:
    if positive:
        return [
            concept(
                coding(V3_INTERPRETATION, "POS", "Positive"),
                coding(V3_INTERPRETATION, "A", "Abnormal"),
            )
        ]
    return [
        concept(
            coding(V3_INTERPRETATION, "NEG", "Negative"),
            coding(V3_INTERPRETATION, "N", "Normal"),
        )
    ]


def uds_test(
    resource_id: str, patient_id: str, test_key: str, *, positive: bool, when: str
) -> Resource:
    """One urine drug screen analyte as its own Observation."""
    test = UDS_TESTS[test_key]
    return resource(
        "Observation",
        resource_id,
        status="final",
        category=[LABORATORY],
        code=concept(coding(LOINC, test.loinc, test.display), text=test.display),
        subject=ref("Patient", patient_id),
        effectiveDateTime=when,
        valueCodeableConcept=_result(positive),
        interpretation=_interpretation(positive),
    )


def uds_panel(
    resource_id: str, patient_id: str, positives: frozenset[str], *, when: str
) -> Resource:
    """The 5-drug screening panel with one component per analyte."""
    panel = UDS_TESTS["panel-5"]
    components = []
    for key in UDS_PANEL_COMPONENTS:
        test = UDS_TESTS[key]
        positive = key in positives
        components.append(
            {
                "code": concept(coding(LOINC, test.loinc, test.display)),
                "valueCodeableConcept": _result(positive),
                "interpretation": _interpretation(positive),
            }
        )
    return resource(
        "Observation",
        resource_id,
        status="final",
        category=[LABORATORY],
        code=concept(coding(LOINC, panel.loinc, panel.display), text=panel.display),
        subject=ref("Patient", patient_id),
        effectiveDateTime=when,
        component=components,
    )


def pdmp_check(
    resource_id: str, patient_id: str, *, when: str, practitioner_id: str, as_finding: bool = False
) -> Resource:
    """A PDMP review: Procedure by default, or the SNOMED 'review done' finding Observation."""
    if as_finding:
        code, display = PDMP_REVIEWED_FINDING
        return resource(
            "Observation",
            resource_id,
            status="final",
            code=concept(coding(SNOMED, code, display), text="PDMP reviewed"),
            subject=ref("Patient", patient_id),
            effectiveDateTime=when,
            performer=[practitioner_ref(practitioner_id)],
        )
    code, display = PDMP_REVIEW
    return resource(
        "Procedure",
        resource_id,
        status="completed",
        code=concept(coding(SNOMED, code, display), text="PDMP reviewed"),
        subject=ref("Patient", patient_id),
        performedDateTime=when,
        performer=[{"actor": practitioner_ref(practitioner_id)}],
    )


def coded_procedure(
    resource_id: str, patient_id: str, code: tuple[str, str], *, when: str, practitioner_id: str
) -> Resource:
    """A completed SNOMED-coded Procedure (hospice admission, opioid counselling)."""
    return resource(
        "Procedure",
        resource_id,
        status="completed",
        code=concept(coding(SNOMED, code[0], code[1]), text=code[1]),
        subject=ref("Patient", patient_id),
        performedDateTime=when,
        performer=[{"actor": practitioner_ref(practitioner_id)}],
    )


def treatment_agreement(
    resource_id: str,
    patient_id: str,
    *,
    signed: date,
    when: str,
    author_id: str,
    superseded: bool,
    valid_days: int = 365,
) -> Resource:
    """A signed opioid treatment agreement, valid for `valid_days` from signing."""
    text = (
        "Opioid treatment agreement (synthetic test document). The patient agrees to use one "
        "prescriber and one pharmacy, to urine drug screening on request and to PDMP review."
    )
    return resource(
        "DocumentReference",
        resource_id,
        status="superseded" if superseded else "current",
        docStatus="final",
        type=concept(coding(LOINC, AGREEMENT_LOINC), text="Opioid treatment agreement"),
        category=[CLINICAL_NOTE],
        subject=ref("Patient", patient_id),
        date=when,
        author=[practitioner_ref(author_id)],
        description="Opioid treatment agreement",
        content=[{"attachment": text_attachment(text, "Opioid treatment agreement")}],
        context={
            "period": {
                "start": signed.isoformat(),
                "end": (signed + timedelta(days=valid_days)).isoformat(),
            }
        },
    )


def progress_note(
    resource_id: str, patient_id: str, *, week: int, when: str, author_id: str, body: str
) -> Resource:
    """A weekly PPACT progress note as a text/plain DocumentReference."""
    title = f"PPACT weekly progress note, week {week}"
    return resource(
        "DocumentReference",
        resource_id,
        status="current",
        docStatus="final",
        type=concept(coding(LOINC, PROGRESS_NOTE_LOINC, PROGRESS_NOTE_DISPLAY), text=title),
        category=[CLINICAL_NOTE],
        subject=ref("Patient", patient_id),
        date=when,
        author=[practitioner_ref(author_id)],
        description=title,
        content=[{"attachment": text_attachment(body, title)}],
    )


def _score(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "{score}", "system": UCUM, "code": "{score}"}


def peg(
    resource_id: str, patient_id: str, *, pain: int, enjoyment: int, activity: int, when: str
) -> Resource:
    """PEG: total (mean of the three 0-10 items, one decimal) with the items as components."""
    total = round((pain + enjoyment + activity) / 3, 1)
    items = (
        (PEG_PAIN, "Pain on average"),
        (PEG_ENJOYMENT, "Enjoyment of life"),
        (PEG_ACTIVITY, "General activity"),
    )
    values = (pain, enjoyment, activity)
    return resource(
        "Observation",
        resource_id,
        status="final",
        category=[SURVEY],
        code=concept(coding(LOINC, PEG_TOTAL), text="PEG 3-item pain scale score"),
        subject=ref("Patient", patient_id),
        effectiveDateTime=when,
        valueQuantity=_score(total),
        component=[
            {"code": concept(coding(LOINC, code), text=label), "valueQuantity": _score(value)}
            for (code, label), value in zip(items, values, strict=True)
        ],
    )


def phq9_total(resource_id: str, patient_id: str, *, score: int, when: str) -> Resource:
    return resource(
        "Observation",
        resource_id,
        status="final",
        category=[SURVEY],
        code=concept(coding(LOINC, PHQ9_TOTAL, PHQ9_TOTAL_DISPLAY), text="PHQ-9 total score"),
        subject=ref("Patient", patient_id),
        effectiveDateTime=when,
        valueQuantity=_score(score),
    )


def gad7_total(resource_id: str, patient_id: str, *, score: int, when: str) -> Resource:
    return resource(
        "Observation",
        resource_id,
        status="final",
        category=[SURVEY],
        code=concept(coding(LOINC, GAD7_TOTAL, GAD7_TOTAL_DISPLAY), text="GAD-7 total score"),
        subject=ref("Patient", patient_id),
        effectiveDateTime=when,
        valueQuantity=_score(score),
    )


def survey_panel(
    resource_id: str, patient_id: str, *, instrument: str, member_id: str, when: str
) -> Resource:
    """A PHQ-9 or GAD-7 panel Observation pointing at its total score with hasMember."""
    code, display = {
        "phq9": (PHQ9_PANEL, PHQ9_PANEL_DISPLAY),
        "gad7": (GAD7_PANEL, GAD7_PANEL_DISPLAY),
    }[instrument]
    return resource(
        "Observation",
        resource_id,
        status="final",
        category=[SURVEY],
        code=concept(coding(LOINC, code, display), text=display),
        subject=ref("Patient", patient_id),
        effectiveDateTime=when,
        hasMember=[ref("Observation", member_id)],
    )
