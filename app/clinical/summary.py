"""The one-page PPACT summary: Chart + clinic policy + as-of date -> `SummaryView`.

PPACT gave the PCP "a brief one-page summary of the intake and discharge assessment"; the trial's
lesson was that information must be short and in one known place (product.md). The view holds
what the page shows, in priority order and already cut to fit one printed page: regimen with
MME/day, MME trend, sedatives, naloxone, risk findings, monitoring due dates under the clinic
policy, PPACT intake vs discharge, pertinent conditions, other treatments and 3-5 talking points.
The blocks are built in `summary_sections.py`, the talking points in `talking.py`; this module
assembles them. Every figure carries the references it rests on; the page links them to the
dashboard rows (`views.anchor`).

Numbers come from the core (`findings.build_context`, `mme.total_mme`, `monitoring`, `uds`,
`pro`), never recomputed here, so the page, the CDS cards and the registry agree. A block
whose FHIR data did not load is marked unavailable with the reason, never shown as empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from app.clinical.findings import build_context, evaluate_context
from app.clinical.mme import daily_mme_series
from app.clinical.model import Chart, DrugClass, Finding
from app.clinical.policy import ClinicPolicy
from app.clinical.rules.coprescribing import sedative_overlaps
from app.clinical.summary_sections import (
    MAX_CONDITIONS,
    MAX_RISKS,
    MAX_TREATMENTS,
    PRO_LABELS,
    GoalRow,
    ItemRow,
    MonitoringRow,
    Naloxone,
    Ppact,
    ProRow,
    Regimen,
    RegimenRow,
    RiskRow,
    conditions,
    monitoring,
    naloxone,
    ppact,
    regimen,
    risks,
    treatments,
)
from app.clinical.talking import TalkingPoint, talking_points
from app.clinical.terminology import Terminology, load_terminology
from app.clinical.views import Availability, SourceStatus, age_on, all_availability, by_ref
from app.clinical.views import anchors as to_anchors

__all__ = [
    "MAX_CONDITIONS",
    "MAX_RISKS",
    "MAX_TREATMENTS",
    "PRO_LABELS",
    "GoalRow",
    "ItemRow",
    "MonitoringRow",
    "Naloxone",
    "PatientHeader",
    "Ppact",
    "ProRow",
    "Regimen",
    "RegimenRow",
    "RiskRow",
    "SedativeRow",
    "SummaryView",
    "TrendPoint",
    "build_summary",
    "mme_trend",
]

#: Months of MME history on the summary chart, and the sampling step.
TREND_DAYS = 730
TREND_STEP_DAYS = 7


@dataclass(frozen=True, slots=True)
class PatientHeader:
    name: str | None
    age: int | None
    sex: str | None
    mrn: str | None
    birth_date: date | None


@dataclass(frozen=True, slots=True)
class TrendPoint:
    day: date
    mme: float
    complete: bool


@dataclass(frozen=True, slots=True)
class SedativeRow:
    drug_class: str
    drugs: tuple[str, ...]
    overlap_start: date
    overlap_end: date | None  # None: still overlapping at as_of
    days: int
    anchors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SummaryView:
    as_of: date
    patient: PatientHeader | None
    cot_text: str
    is_cot: bool
    edition: str
    thresholds: tuple[float, ...]
    completeness: str
    data_complete: bool
    availability: dict[str, Availability]
    regimen: Regimen
    trend: tuple[TrendPoint, ...]
    sedatives: tuple[SedativeRow, ...]
    naloxone: Naloxone
    risks: tuple[RiskRow, ...]
    more_risks: int
    monitoring: tuple[MonitoringRow, ...]
    ppact: Ppact
    conditions: tuple[ItemRow, ...]
    treatments: tuple[ItemRow, ...]
    talking_points: tuple[TalkingPoint, ...]
    findings: tuple[Finding, ...] = field(default=(), repr=False)
    problems: tuple[str, ...] = ()


def build_summary(
    chart: Chart,
    policy: ClinicPolicy,
    as_of: date,
    *,
    sources: Mapping[str, SourceStatus] | None = None,
    terminology: Terminology | None = None,
) -> SummaryView:
    """Everything the one-page summary shows, for one patient at `as_of`.

    Args:
        chart: the patient's records.
        policy: the clinic policy (thresholds, monitoring intervals, sedative classes).
        as_of: the day the summary is for.
        sources: loader section id -> status; None when the chart came whole.
        terminology: defaults to the vendored one.
    """
    terms = terminology or load_terminology()
    avail = all_availability(sources or {})
    ctx = build_context(chart, policy, as_of, terminology=terms)
    findings = evaluate_context(ctx)
    found_risks = risks(findings, as_of)
    sedatives = tuple(
        SedativeRow(
            drug_class=", ".join(str(c) for c in o.classes),
            drugs=_names(chart, o.refs, set(o.classes)),
            overlap_start=o.first_day,
            overlap_end=None if o.last_day >= as_of else o.last_day,
            days=o.days,
            anchors=to_anchors(o.refs),
        )
        for o in sedative_overlaps(ctx)
    )
    return SummaryView(
        as_of=as_of,
        patient=_patient(chart, as_of),
        cot_text=ctx.cot.reason,
        is_cot=ctx.cot.is_cot,
        edition=policy.mme.edition,
        thresholds=tuple(policy.mme.thresholds),
        completeness=_completeness(avail, chart),
        data_complete=all(a.complete for a in avail.values()) and not chart.problems,
        availability=avail,
        regimen=regimen(chart, ctx.mme, as_of),
        trend=mme_trend(chart, policy, as_of, terminology=terms),
        sedatives=sedatives,
        naloxone=naloxone(chart, as_of),
        risks=found_risks[:MAX_RISKS],
        more_risks=max(0, len(found_risks) - MAX_RISKS),
        monitoring=monitoring(chart, policy, as_of, avail, terms, ctx.windows),
        ppact=ppact(chart, as_of),
        conditions=conditions(chart)[:MAX_CONDITIONS],
        treatments=treatments(chart, as_of, terms)[:MAX_TREATMENTS],
        talking_points=talking_points(findings, chart, as_of),
        findings=findings,
        problems=chart.problems,
    )


def mme_trend(
    chart: Chart, policy: ClinicPolicy, as_of: date, *, terminology: Terminology | None = None
) -> tuple[TrendPoint, ...]:
    """Total MME/day every `TREND_STEP_DAYS` over the last `TREND_DAYS`, ending on `as_of`."""
    start = as_of - timedelta(days=TREND_DAYS - 1)
    series = daily_mme_series(
        chart.medications,
        start=start,
        end=as_of,
        edition=policy.mme.edition,
        terminology=terminology,
        outside_2022_table=policy.mme.outside_2022_table,
    )
    picked = [p for i, p in enumerate(reversed(series)) if i % TREND_STEP_DAYS == 0]
    return tuple(TrendPoint(day, mme, complete) for day, mme, complete in reversed(picked))


def _patient(chart: Chart, as_of: date) -> PatientHeader | None:
    p = chart.patient
    if p is None:
        return None
    return PatientHeader(p.name, age_on(p.birth_date, as_of), p.gender, p.mrn, p.birth_date)


def _completeness(avail: Mapping[str, Availability], chart: Chart) -> str:
    missing = [a.label for a in avail.values() if not a.available]
    partial = [a.label for a in avail.values() if a.available and not a.complete]
    parts = []
    if missing:
        parts.append("unavailable: " + ", ".join(missing))
    if partial:
        parts.append("incomplete: " + ", ".join(partial))
    if chart.problems:
        parts.append(f"{len(chart.problems)} record(s) could not be read")
    if not parts:
        return "All chart sections loaded."
    return "Data " + "; ".join(parts) + "."


def _names(chart: Chart, refs: tuple[str, ...], classes: set[DrugClass]) -> tuple[str, ...]:
    records = by_ref(chart)
    names = [
        records[r].text or r
        for r in refs
        if r in records and records[r].classification.classes & classes
    ]
    return tuple(dict.fromkeys(names))
