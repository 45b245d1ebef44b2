"""The FHIR reads and searches the product sends for one patient, as data.

The loader (`load.py`) runs them; CDS prefetch templates are built from the same list
(`relative_url` keeps `{{context.patientId}}` readable), so the app and the hooks ask the EHR
the same questions.

Choices, with their sources (docs standards sections 4 and 5):

- MedicationRequest: `patient` + `intent` + an explicit `status` list. US Core's SHALL
  combination is `intent=order,plan`; we ask for every R4 request intent except `option`, so
  proposals and the order/original-order family are not missed, and fall back to the SHALL
  combination once when a server answers 400 (athenahealth requires intent; some servers reject
  values they do not use). Epic returns only active medications unless statuses are listed, so
  all statuses are listed. `authoredon=ge{lookback}` bounds the volume; a second search without
  a date brings active / on-hold orders written before the lookback, which would otherwise be
  dropped. `_include=MedicationRequest:medication` brings referenced Medications.
- Observation always carries `category` or `code` (Epic answers 400 without one).
- Conditions are not date-bounded: a cancer or OUD diagnosis from years ago still matters.
- Treatment agreements (LOINC 94136-9) are not date-bounded either; progress notes are.
- Goal: `patient` only (US Core Goal: `patient` SHALL). Not date-bounded and every
  lifecycle-status is wanted: the PPACT intake goals and their status at discharge are read
  whether the goal is active, completed or cancelled since.

Dates are `ge` + a day (US Core "Date Precision"), counted back from an explicit `as_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal
from urllib.parse import urlencode

from app.clinical.pro import INSTRUMENTS

MEDICATION_REQUEST_INTENTS = (
    "order",
    "plan",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "proposal",
)
#: The US Core SHALL combination, used when a server refuses the full intent list.
US_CORE_INTENTS = ("order", "plan")
MEDICATION_REQUEST_STATUSES = (
    "active",
    "on-hold",
    "cancelled",
    "completed",
    "entered-in-error",
    "stopped",
    "draft",
    "unknown",
)
MEDICATION_DISPENSE_STATUSES = (
    "preparation",
    "in-progress",
    "cancelled",
    "on-hold",
    "completed",
    "entered-in-error",
    "stopped",
    "declined",
    "unknown",
)
MEDICATION_STATEMENT_STATUSES = (
    "active",
    "completed",
    "entered-in-error",
    "intended",
    "stopped",
    "on-hold",
    "unknown",
    "not-taken",
)
CONDITION_CATEGORIES = {
    "condition-problem-list": "problem-list-item",
    "condition-encounter-diagnosis": "encounter-diagnosis",
    "condition-health-concern": "health-concern",
}
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
PDMP_FINDING = "http://snomed.info/sct|461651000124104"  # PDMP data reviewed (finding)
TREATMENT_AGREEMENT = "http://loinc.org|94136-9"
PROGRESS_NOTE = "http://loinc.org|11506-3"
DEFAULT_LOOKBACK_DAYS = 730
#: PEG, PHQ-9 and GAD-7 scores, panels and items by code (US Core's SHALL `patient+code`
#: search): scores filed without a `survey` category are still found.
PRO_LOINC_CODES = tuple(
    sorted({c for i in INSTRUMENTS for c in (*i.total_codes, *i.panel_codes, *i.item_codes)})
)


@dataclass(frozen=True, slots=True)
class FhirQuery:
    """One read or search the loader sends; its id names a section of the patient record.

    Attributes:
        id: Stable kebab-case section id, e.g. "medication-request".
        resource_type: Resource type searched or read.
        interaction: "search" or "read" (a read uses `resource_id`).
        params: Search parameters, in order; repeated names allowed.
        fallback_params: Parameters to retry with once when the server answers 400.
        resource_id: Id for a read.
    """

    id: str
    resource_type: str
    interaction: Literal["search", "read"] = "search"
    params: tuple[tuple[str, str], ...] = ()
    fallback_params: tuple[tuple[str, str], ...] | None = None
    resource_id: str | None = None

    def relative_url(self) -> str:
        """`Type?a=b` (or `Type/id`), braces, commas, colons and bars left readable.

        Usable as a CDS Hooks prefetch template when built with a `{{context.patientId}}`
        patient id.
        """
        if self.interaction == "read":
            return f"{self.resource_type}/{self.resource_id}"
        return f"{self.resource_type}?{urlencode(self.params, safe=',:|{}/')}"


def lookback_start(as_of: date, lookback_days: int) -> date:
    """First day of the lookback window ending at `as_of` (inclusive)."""
    if lookback_days < 0:
        raise ValueError("lookback_days must not be negative")
    return as_of - timedelta(days=lookback_days)


def patient_queries(
    patient_id: str, *, as_of: date, lookback_days: int = DEFAULT_LOOKBACK_DAYS
) -> tuple[FhirQuery, ...]:
    """Every read and search for one patient's COT record.

    Args:
        patient_id: Patient logical id (or a prefetch token such as "{{context.patientId}}").
        as_of: The day the record is loaded for.
        lookback_days: How far back dated searches reach.

    Returns:
        The queries, Patient read first; ids are unique.
    """
    since = f"ge{lookback_start(as_of, lookback_days).isoformat()}"
    patient = ("patient", patient_id)

    def search(query_id: str, resource_type: str, *params: tuple[str, str]) -> FhirQuery:
        return FhirQuery(query_id, resource_type, "search", (patient, *params))

    med_request_tail = (
        ("status", ",".join(MEDICATION_REQUEST_STATUSES)),
        ("authoredon", since),
        ("_include", "MedicationRequest:medication"),
    )
    return (
        FhirQuery("patient", "Patient", "read", resource_id=patient_id),
        FhirQuery(
            "medication-request",
            "MedicationRequest",
            "search",
            (patient, ("intent", ",".join(MEDICATION_REQUEST_INTENTS)), *med_request_tail),
            fallback_params=(patient, ("intent", ",".join(US_CORE_INTENTS)), *med_request_tail),
        ),
        FhirQuery(
            "medication-request-active",
            "MedicationRequest",
            "search",
            (
                patient,
                ("intent", ",".join(MEDICATION_REQUEST_INTENTS)),
                ("status", "active,on-hold"),
                ("_include", "MedicationRequest:medication"),
            ),
            fallback_params=(
                patient,
                ("intent", ",".join(US_CORE_INTENTS)),
                ("status", "active,on-hold"),
                ("_include", "MedicationRequest:medication"),
            ),
        ),
        search(
            "medication-dispense",
            "MedicationDispense",
            ("status", ",".join(MEDICATION_DISPENSE_STATUSES)),
            ("whenhandedover", since),
        ),
        search(
            "medication-statement",
            "MedicationStatement",
            ("status", ",".join(MEDICATION_STATEMENT_STATUSES)),
        ),
        *(
            search(query_id, "Condition", ("category", category))
            for query_id, category in CONDITION_CATEGORIES.items()
        ),
        search(
            "observation-laboratory",
            "Observation",
            ("category", f"{OBSERVATION_CATEGORY_SYSTEM}|laboratory"),
            ("date", since),
        ),
        search(
            "observation-survey",
            "Observation",
            ("category", f"{OBSERVATION_CATEGORY_SYSTEM}|survey"),
            ("date", since),
        ),
        search(
            "observation-pro",
            "Observation",
            ("code", ",".join(f"http://loinc.org|{code}" for code in PRO_LOINC_CODES)),
            ("date", since),
        ),
        search("observation-pdmp", "Observation", ("code", PDMP_FINDING), ("date", since)),
        search("procedure", "Procedure", ("date", since)),
        search("questionnaire-response", "QuestionnaireResponse", ("authored", since)),
        search("document-agreement", "DocumentReference", ("type", TREATMENT_AGREEMENT)),
        search(
            "document-progress-note",
            "DocumentReference",
            ("type", PROGRESS_NOTE),
            ("date", since),
        ),
        search("encounter", "Encounter", ("date", since)),
        search("service-request", "ServiceRequest", ("authored", since)),
        search("care-plan", "CarePlan"),
        search("episode-of-care", "EpisodeOfCare"),
        search("goal", "Goal"),
    )
