"""Shared pieces of the page view models: data availability per block and evidence anchors.

The summary, dashboard and outreach views (product.md "The surfaces", SMART app) all show
whether the data a block rests on loaded. A FHIR search that failed or was not permitted must
read as "unavailable", never as "nothing on record" (product.md "Safety rule"; docs/standards.md
section 4, 403 -> "degrade the feature, say what is missing"). The edge hands in one status per
loader section (`app.fhir.load.SectionStatus` fits `SourceStatus` structurally, so this module
imports nothing outside the clinical core).

Every number on the summary links to the dashboard row of the record it rests on; `anchor`
turns a "ResourceType/id" reference into the HTML id both pages use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Protocol

from app.clinical.model import Chart, MedicationKind, MedicationRecord
from app.clinical.rules.base import record_date, years_between

#: Page blocks -> the loader sections (`app.fhir.queries.patient_queries` ids) they read.
BLOCK_SOURCES: dict[str, tuple[str, ...]] = {
    "patient": ("patient",),
    "medications": (
        "medication-request",
        "medication-request-active",
        "medication-dispense",
        "medication-statement",
        "medication-reference",
    ),
    "conditions": (
        "condition-problem-list",
        "condition-encounter-diagnosis",
        "condition-health-concern",
    ),
    "uds": ("observation-laboratory",),
    "pro": ("observation-survey", "observation-pro", "questionnaire-response"),
    "pdmp": ("observation-pdmp", "procedure"),
    "agreements": ("document-agreement",),
    "notes": ("document-progress-note",),
    "encounters": ("encounter",),
    "ppact": ("episode-of-care", "care-plan"),
    "goals": ("goal",),
    "referrals": ("service-request", "procedure"),
}

#: What a block shows, for sentences such as "Medications: unavailable".
BLOCK_LABELS: dict[str, str] = {
    "patient": "Patient",
    "medications": "Medications",
    "conditions": "Conditions",
    "uds": "Urine drug screens",
    "pro": "PEG / PHQ-9 / GAD-7 scores",
    "pdmp": "PDMP checks",
    "agreements": "Treatment agreements",
    "notes": "Progress notes",
    "encounters": "Encounters",
    "ppact": "PPACT program",
    "goals": "Patient goals",
    "referrals": "Referrals and procedures",
}

#: Monitoring item keys (`monitoring.monitoring_status`) -> the block their records come from.
MONITORING_BLOCKS: dict[str, str] = {
    "uds": "uds",
    "agreement": "agreements",
    "pdmp": "pdmp",
    "opioid-visit": "encounters",
    "peg": "pro",
    "phq9": "pro",
}

#: Sections that only complete others (reading referenced Medications); never alone decisive.
_SECONDARY = frozenset({"medication-reference"})
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class SourceStatus(Protocol):
    """How one loader section went; `app.fhir.load.SectionStatus` has this shape."""

    @property
    def state(self) -> str: ...  # "complete" | "partial" | "failed" | "not-permitted"

    @property
    def reason(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether one block's data loaded.

    Args:
        block: key of `BLOCK_SOURCES`.
        label: what the block shows.
        state: "complete", "partial" (some data may be missing) or "unavailable".
        reasons: one sentence per section that did not load completely.
        sources: the loader sections the block reads.
    """

    block: str
    label: str
    state: str
    reasons: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        """False when nothing can be shown (every source failed or was refused)."""
        return self.state != "unavailable"

    @property
    def complete(self) -> bool:
        return self.state == "complete"


def availability(block: str, sources: Mapping[str, SourceStatus]) -> Availability:
    """The availability of one block from the loader's section statuses.

    A section missing from `sources` counts as complete: the chart came whole (a Bundle file,
    a CDS prefetch). A block is unavailable when all its primary sections failed or were
    refused; partial when only some did, or one was partial.
    """
    names = BLOCK_SOURCES[block]
    label = BLOCK_LABELS[block]
    asked = [(name, sources[name]) for name in names if name in sources]
    bad = [(name, s) for name, s in asked if s.state != "complete"]
    if not bad:
        return Availability(block, label, "complete", (), names)
    reasons = tuple(_reason(name, s) for name, s in bad)
    lost = {name for name, s in bad if s.state in {"failed", "not-permitted"}}
    primary = set(names) - _SECONDARY
    state = "unavailable" if primary <= lost else "partial"
    return Availability(block, label, state, reasons, names)


def all_availability(sources: Mapping[str, SourceStatus]) -> dict[str, Availability]:
    """Availability of every block, keyed by block."""
    return {block: availability(block, sources) for block in BLOCK_SOURCES}


def _reason(name: str, status: SourceStatus) -> str:
    what = {
        "failed": "could not be loaded",
        "not-permitted": "was not permitted",
        "partial": "loaded in part",
    }.get(status.state, status.state)
    detail = f": {status.reason}" if status.reason else ""
    return f"{name} {what}{detail}"


@lru_cache(maxsize=8192)
def anchor(ref: str) -> str:
    """HTML id of a record's row on the dashboard: "ev-MedicationDispense-md-1"."""
    return "ev-" + _UNSAFE.sub("_", ref.replace("/", "-"))


def anchors(refs: Iterable[str]) -> tuple[str, ...]:
    """`anchor` of each reference, order kept, duplicates dropped."""
    return tuple(dict.fromkeys(anchor(ref) for ref in refs))


def medication_date(record: MedicationRecord) -> date | None:
    """The date a medication record happened (hand-over, start, authoring)."""
    return record_date(record)


def sig_of(record: MedicationRecord, by_ref: Mapping[str, MedicationRecord]) -> str | None:
    """The sig as written, from the record or (for a dispense) its prescription."""
    if record.sig_text:
        return record.sig_text
    texts = [d.text for d in record.dosages if d.text]
    if texts:
        return "; ".join(texts)
    request = by_ref.get(record.authorizing_prescription or "")
    return sig_of(request, {}) if request is not None else None


def prescriber_of(record: MedicationRecord, by_ref: Mapping[str, MedicationRecord]) -> str | None:
    """Prescriber display of a record, or of the prescription a dispense fills."""
    request = by_ref.get(record.authorizing_prescription or "")
    if record.kind is MedicationKind.DISPENSE and request is not None:
        return request.prescriber_display or request.prescriber
    return record.prescriber_display or record.prescriber


def last_fill(
    record: MedicationRecord, medications: Sequence[MedicationRecord], as_of: date
) -> date | None:
    """Latest hand-over on or before `as_of` of the same drug (RxNorm code, else text)."""
    dispense = last_dispense(record, medications, as_of)
    return dispense.handed_over if dispense is not None else None


def _same_code(record: MedicationRecord, other: MedicationRecord) -> bool:
    codes = set(record.rxnorm_codes)
    return bool(codes & set(other.rxnorm_codes)) if codes else other.text == record.text


def _same_ingredients(record: MedicationRecord, other: MedicationRecord) -> bool:
    mine = record.classification.ingredients
    return bool(mine) and set(mine) == set(other.classification.ingredients)


def last_dispense(
    record: MedicationRecord, medications: Sequence[MedicationRecord], as_of: date
) -> MedicationRecord | None:
    """The latest dispense handed over on or before `as_of` of the same drug as `record`.

    Same drug: a shared RxNorm code (the same text when `record` has none); when no dispense
    has one, the same ingredients (`Classification.ingredients`), e.g. another patch strength.
    """
    found = [
        m
        for m in medications
        if m.kind is MedicationKind.DISPENSE
        and m.handed_over is not None
        and m.handed_over <= as_of
        and not m.entered_in_error
    ]
    for same in (_same_code, _same_ingredients):
        matching = [m for m in found if same(record, m)]
        if matching:
            return max(matching, key=lambda m: (m.handed_over or date.min, m.ref))
    return None


def current_prescription(
    record: MedicationRecord, medications: Sequence[MedicationRecord], as_of: date
) -> MedicationRecord | None:
    """The latest active MedicationRequest authored on or before `as_of` for `record`'s drug.

    Used when the counted record names no prescriber (a patient-reported MedicationStatement):
    the clinician expects the prescription. Same drug as in `last_dispense`.
    """
    found = [
        m
        for m in medications
        if m.kind is MedicationKind.REQUEST
        and m.status == "active"
        and m.authored_on is not None
        and m.authored_on <= as_of
        and m.ref != record.ref
    ]
    for same in (_same_code, _same_ingredients):
        matching = [m for m in found if same(record, m)]
        if matching:
            return max(matching, key=lambda m: (m.authored_on or date.min, m.ref))
    return None


def age_on(born: date | None, on: date) -> int | None:
    """Age in whole years, None when the birth date is unknown."""
    return years_between(born, on) if born is not None else None


def by_ref(chart: Chart) -> dict[str, MedicationRecord]:
    """The chart's medication records keyed by reference."""
    return {m.ref: m for m in chart.medications}
