"""Monitoring due dates under the clinic policy: UDS, agreement, PDMP, visit, PEG, PHQ-9.

Building Block 2 (standard work) and Block 3 (tracking every COT patient) of the Six Building
Blocks: each COT patient is due for a urine drug screen, a signed treatment agreement, a PDMP
check, an opioid follow-up visit and PEG / PHQ-9 scores at intervals the clinic sets
(`monitoring` section of the policy). CDC 2022 Recommendations 7 (follow-up), 9 (PDMP) and 10
(toxicology testing) are the clinical basis.

Each item's due date is the last record's date plus the policy interval (an agreement's own end
date when it gives one). Status, with ``soon = as_of + due_soon_days``:

- OVERDUE when the due date is before `as_of`;
- DUE_SOON when it is on or after `as_of` and on or before `soon` (due exactly on `as_of` is
  due soon: it can still be done today);
- DONE when it is after `soon`;
- NEVER when there is no record on or before `as_of`.

What counts as a record of each item is in docs/policy.md ("Monitoring items").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from app.clinical.model import LOINC, Chart, DocumentRecord, EncounterRecord
from app.clinical.policy import ClinicPolicy
from app.clinical.pro import pro_scores
from app.clinical.terminology import Terminology, load_terminology
from app.clinical.uds import RESULT_STATUSES, is_uds_result

TREATMENT_AGREEMENT_LOINC = "94136-9"
PDMP_GROUP = "pdmp-review"
#: Encounter classes (v3-ActCode) that are an outpatient visit: ambulatory and virtual.
VISIT_CLASSES = frozenset({"AMB", "VR"})
#: Classes that never count, even with an office-visit type code.
NON_VISIT_CLASSES = frozenset({"EMER", "IMP", "ACUTE", "NONAC", "OBSENC", "SS", "PRENC"})


class DueStatus(StrEnum):
    OVERDUE = "overdue"
    DUE_SOON = "due-soon"
    DONE = "done"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class MonitoringItem:
    """One monitoring item's status at `as_of`.

    Args:
        key: "uds", "agreement", "pdmp", "opioid-visit", "peg" or "phq9".
        label: for a person.
        last_date: date of the last record on or before `as_of`.
        due_date: when it is next due; None when never done.
        status: overdue / due soon / done / never.
        interval_days: the policy interval.
        evidence: refs of the last record(s) (all records on the last date).
        detail: one sentence for a person.
    """

    key: str
    label: str
    last_date: date | None
    due_date: date | None
    status: DueStatus
    interval_days: int
    evidence: tuple[str, ...]
    detail: str | None


@dataclass(frozen=True, slots=True)
class _Done:
    day: date
    ref: str
    due: date | None = None  # own expiry (agreement end date)


def due_status(due_date: date, as_of: date, due_soon_days: int) -> DueStatus:
    """Overdue before `as_of`; due soon up to `as_of + due_soon_days`; done after that."""
    if due_date < as_of:
        return DueStatus.OVERDUE
    if due_date <= as_of + timedelta(days=due_soon_days):
        return DueStatus.DUE_SOON
    return DueStatus.DONE


def monitoring_status(
    chart: Chart,
    policy: ClinicPolicy,
    as_of: date,
    *,
    terminology: Terminology | None = None,
) -> tuple[MonitoringItem, ...]:
    """All six monitoring items, in a fixed order (uds, agreement, pdmp, visit, peg, phq9).

    Args:
        chart: the patient's records.
        policy: intervals and `due_soon_days` from its `monitoring` section.
        as_of: the day the status is computed for; later records are ignored.
        terminology: defaults to the vendored one.

    Returns:
        One item per key.
    """
    terms = terminology or load_terminology()
    intervals = policy.monitoring
    scores = [s for s in pro_scores(chart) if s.problem is None]
    done: dict[str, list[_Done]] = {
        "uds": [
            _Done(o.effective, o.ref)
            for o in chart.observations
            if o.effective is not None and is_uds_result(o, terms)
        ],
        "agreement": _agreements(chart.documents, intervals.agreement_days),
        "pdmp": _pdmp_checks(chart, terms),
        "opioid-visit": [
            _Done(day, e.ref)
            for e in chart.encounters
            if (day := e.start or e.end) is not None and _is_visit(e, terms)
        ],
        "peg": [_Done(s.date, s.ref) for s in scores if s.instrument == "peg"],
        "phq9": [_Done(s.date, s.ref) for s in scores if s.instrument == "phq9"],
    }
    specs = (
        ("uds", "Urine drug screen", intervals.uds_days),
        ("agreement", "Treatment agreement", intervals.agreement_days),
        ("pdmp", "PDMP check", intervals.pdmp_days),
        ("opioid-visit", "Opioid follow-up visit", intervals.opioid_visit_days),
        ("peg", "PEG pain score", intervals.peg_days),
        ("phq9", "PHQ-9 depression score", intervals.phq9_days),
    )
    return tuple(
        _item(key, label, days, done[key], as_of, intervals.due_soon_days)
        for key, label, days in specs
    )


def _item(
    key: str,
    label: str,
    interval_days: int,
    records: Sequence[_Done],
    as_of: date,
    due_soon_days: int,
) -> MonitoringItem:
    past = [r for r in records if r.day <= as_of]
    if not past:
        return MonitoringItem(
            key, label, None, None, DueStatus.NEVER, interval_days, (), f"No {label} on record."
        )
    last_day = max(r.day for r in past)
    last = [r for r in past if r.day == last_day]
    due = max((r.due or last_day + timedelta(days=interval_days)) for r in last)
    status = due_status(due, as_of, due_soon_days)
    detail = f"Last {last_day.isoformat()}; due {due.isoformat()}."
    if any(r.due is not None for r in last):
        detail = f"Last {last_day.isoformat()}; the agreement ends {due.isoformat()}."
    return MonitoringItem(
        key, label, last_day, due, status, interval_days, tuple(sorted(r.ref for r in last)), detail
    )


def _agreements(documents: Sequence[DocumentRecord], interval_days: int) -> list[_Done]:
    found = []
    for doc in documents:
        is_agreement = any(
            c.system == LOINC and c.code == TREATMENT_AGREEMENT_LOINC for c in doc.type_codes
        )
        if not is_agreement or doc.status != "current" or doc.doc_status == "entered-in-error":
            continue
        if doc.date is None:
            continue  # undated: no due date can be computed from it
        found.append(_Done(doc.date, doc.ref, doc.period_end))
    return found


def _pdmp_checks(chart: Chart, terms: Terminology) -> list[_Done]:
    found = [
        _Done(p.performed, p.ref)
        for p in chart.procedures
        if p.performed is not None
        and p.status == "completed"
        and PDMP_GROUP in terms.procedure_groups(p.codes)
    ]
    found += [
        _Done(o.effective, o.ref)
        for o in chart.observations
        if o.effective is not None
        and o.status in RESULT_STATUSES
        and PDMP_GROUP in terms.procedure_groups((*o.codes, *o.value_codes))
    ]
    return found


def _is_visit(encounter: EncounterRecord, terms: Terminology) -> bool:
    if encounter.status != "finished":
        return False
    class_code = (encounter.class_code or "").upper()
    if class_code in NON_VISIT_CLASSES:
        return False
    return class_code in VISIT_CLASSES or terms.is_office_visit(encounter.type_codes)
