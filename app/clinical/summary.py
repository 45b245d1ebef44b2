"""The one-page PPACT summary: Chart + clinic policy + as-of date -> `SummaryView`.

PPACT gave the PCP "a brief one-page summary of the intake and discharge assessment"; the trial's
lesson was that information must be short and in one known place (product.md). The view holds
what the page shows, in priority order and already cut to fit one printed page: regimen with
MME/day, MME trend, sedatives, naloxone, risk findings, monitoring due dates under the clinic
policy, PPACT intake vs discharge, pertinent conditions, other treatments and 3-5 talking points
(`talking.py`). Every figure carries the references it rests on; the page links them to the
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
from app.clinical.mme import daily_mme_series, format_mme
from app.clinical.model import Chart, ConditionGroup, DrugClass, Finding, MmeLine, MmeTotal
from app.clinical.monitoring import PDMP_GROUP, monitoring_status
from app.clinical.policy import ClinicPolicy
from app.clinical.pro import intake_discharge, ppact_episode, pro_scores
from app.clinical.rules.coprescribing import sedative_overlaps
from app.clinical.supply import SupplyWindow
from app.clinical.talking import TalkingPoint, talking_points
from app.clinical.terminology import Terminology, load_terminology
from app.clinical.uds import evaluate_uds
from app.clinical.views import (
    MONITORING_BLOCKS,
    Availability,
    SourceStatus,
    age_on,
    all_availability,
    by_ref,
    last_fill,
    medication_date,
    prescriber_of,
    sig_of,
)
from app.clinical.views import (
    anchors as to_anchors,
)

#: Months of MME history on the summary chart, and the sampling step.
TREND_DAYS = 730
TREND_STEP_DAYS = 7
#: Risk findings shown on the page; the rest are counted and live on the dashboard.
MAX_RISKS = 6
#: Longer risk sentences lose their closing parenthesis (drug lists); the dashboard has all.
SHORT_RISK_CHARS = 110
MAX_CONDITIONS = 6
_NOT_RISKS = frozenset({"cot"})
#: Findings that say the same thing on the page; the first (most urgent) one stands for all.
_SAME_TOPIC = {
    "opioid-benzo-coprescribing": "sedatives",
    "opioid-cns-depressant-coprescribing": "sedatives",
    "triple-threat": "sedatives",
    "multiple-opioid-prescribers": "sources",
    "multiple-pharmacies": "sources",
}
_PERTINENT_GROUPS = frozenset(ConditionGroup) - {ConditionGroup.PREGNANCY}


@dataclass(frozen=True, slots=True)
class PatientHeader:
    name: str | None
    age: int | None
    sex: str | None
    mrn: str | None
    birth_date: date | None


@dataclass(frozen=True, slots=True)
class RegimenRow:
    """One current opioid: drug, sig, MME/day, long-acting, prescriber, last fill."""

    drug: str
    sig: str | None
    mme_text: str  # "180" or "unknown"
    mme_per_day: float | None
    long_acting: bool
    prescriber: str | None
    last_fill: date | None
    complete: bool
    notes: tuple[str, ...]
    anchors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Regimen:
    rows: tuple[RegimenRow, ...]
    separate: tuple[RegimenRow, ...]  # buprenorphine/methadone for OUD: not in the total
    total_text: str
    total_mme: float
    complete: bool
    reasons: tuple[str, ...]
    anchors: tuple[str, ...]


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
class Naloxone:
    on_record: bool
    last_date: date | None
    drug: str | None
    anchors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RiskRow:
    code: str
    severity: str
    text: str
    citation: str
    citation_url: str
    anchors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MonitoringRow:
    key: str
    label: str
    status: str  # overdue | due-soon | done | never | unknown (data unavailable)
    last_date: date | None
    due_date: date | None
    detail: str | None
    anchors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProRow:
    instrument: str
    label: str
    intake: float | None
    intake_date: date | None
    discharge: float | None
    discharge_date: date | None
    change: float | None
    direction: str
    band_change: str | None  # "moderate -> mild"
    anchors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ppact:
    enrolled: bool
    start: date | None
    end: date | None
    status: str | None
    rows: tuple[ProRow, ...]
    goals: str | None
    anchors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ItemRow:
    """A condition, treatment or referral: text, date, anchors."""

    text: str
    day: date | None
    kind: str
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


PRO_LABELS = {"peg": "PEG (pain, 0-10)", "phq9": "PHQ-9 (depression, 0-27)", "gad7": "GAD-7 (0-21)"}


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
    risks = _risks(findings)
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
        availability=avail,
        regimen=_regimen(chart, ctx.mme, as_of),
        trend=mme_trend(chart, policy, as_of, terminology=terms),
        sedatives=sedatives,
        naloxone=_naloxone(chart, as_of),
        risks=risks[:MAX_RISKS],
        more_risks=max(0, len(risks) - MAX_RISKS),
        monitoring=_monitoring(chart, policy, as_of, avail, terms, ctx.windows),
        ppact=_ppact(chart),
        conditions=_conditions(chart)[:MAX_CONDITIONS],
        treatments=_treatments(chart, as_of, terms),
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


def _line_row(line: MmeLine, chart: Chart, as_of: date) -> RegimenRow:
    records = by_ref(chart)
    record = records.get(line.ref)
    return RegimenRow(
        drug=line.display or (record.text if record else None) or line.ref,
        sig=sig_of(record, records) if record else None,
        mme_text=format_mme(line.mme_per_day) if line.mme_per_day is not None else "unknown",
        mme_per_day=line.mme_per_day,
        long_acting=line.long_acting,
        prescriber=prescriber_of(record, records) if record else None,
        last_fill=last_fill(record, chart.medications, as_of) if record else None,
        complete=line.complete,
        notes=line.notes,
        anchors=to_anchors([line.ref]),
    )


def _regimen(chart: Chart, total: MmeTotal, as_of: date) -> Regimen:
    lines, excluded = total.lines, total.excluded
    rows = tuple(_line_row(line, chart, as_of) for line in lines)
    return Regimen(
        rows=rows,
        separate=tuple(_line_row(line, chart, as_of) for line in excluded),
        total_text=format_mme(total.total_mme),
        total_mme=total.total_mme,
        complete=total.complete,
        reasons=total.reasons,
        anchors=to_anchors(line.ref for line in lines),
    )


def _names(chart: Chart, refs: tuple[str, ...], classes: set[DrugClass]) -> tuple[str, ...]:
    records = by_ref(chart)
    names = [
        records[r].text or r
        for r in refs
        if r in records and records[r].classification.classes & classes
    ]
    return tuple(dict.fromkeys(names))


def _naloxone(chart: Chart, as_of: date) -> Naloxone:
    found = [
        (day, m)
        for m in chart.medications
        if DrugClass.NALOXONE in m.classification.classes
        and not m.entered_in_error
        and (day := medication_date(m)) is not None
        and day <= as_of
    ]
    if not found:
        return Naloxone(False, None, None, ())
    day, record = max(found, key=lambda item: item[0])
    return Naloxone(True, day, record.text, to_anchors([record.ref]))


def _risks(findings: tuple[Finding, ...]) -> tuple[RiskRow, ...]:
    seen: set[str] = set()
    rows = []
    for f in findings:
        topic = _SAME_TOPIC.get(f.code, f.code)
        if f.code in _NOT_RISKS or topic in seen:
            continue
        seen.add(topic)
        rows.append(
            RiskRow(
                f.code, str(f.severity), _short(f.text), f.citation.label, f.citation.url,
                to_anchors(f.evidence),
            )
        )  # fmt: skip
    return tuple(rows)


def _short(text: str) -> str:
    """A finding sentence without its closing parenthesised list when it runs long."""
    if len(text) <= SHORT_RISK_CHARS or not text.endswith(").") or " (" not in text:
        return text
    depth = 0
    for index in range(len(text) - 2, -1, -1):
        depth += {")": 1, "(": -1}.get(text[index], 0)
        if depth == 0:
            return text[:index].rstrip() + "."
    return text


def _monitoring(
    chart: Chart,
    policy: ClinicPolicy,
    as_of: date,
    avail: Mapping[str, Availability],
    terms: Terminology,
    windows: tuple[SupplyWindow, ...],
) -> tuple[MonitoringRow, ...]:
    uds = evaluate_uds(chart, as_of, terminology=terms, windows=windows)
    rows = []
    for item in monitoring_status(chart, policy, as_of, terminology=terms):
        block = avail[MONITORING_BLOCKS[item.key]]
        detail = item.detail
        refs = item.evidence
        if item.key == "uds" and item.last_date is not None:
            same_day = [u for u in uds if u.date == item.last_date]
            unexpected = sorted({t for u in same_day for t in u.unexpected_found})
            missing = sorted({t for u in same_day for t in u.expected_missing})
            result = "as expected"
            if unexpected or missing:
                result = "; ".join(
                    part
                    for part in (
                        "unexpected " + ", ".join(unexpected) if unexpected else "",
                        "expected but not found " + ", ".join(missing) if missing else "",
                    )
                    if part
                )
            detail = f"Last result: {result}."
        status = str(item.status)
        if not block.available:
            status, detail = "unknown", f"{block.label} could not be loaded; status unknown."
        rows.append(
            MonitoringRow(
                item.key, item.label, status, item.last_date, item.due_date, detail,
                to_anchors(refs),
            )
        )  # fmt: skip
    return tuple(rows)


def _ppact(chart: Chart) -> Ppact:
    episode = ppact_episode(chart)
    rows = []
    for c in intake_discharge(chart):
        bands = None
        if c.intake and c.discharge and c.intake.band and c.discharge.band:
            bands = f"{c.intake.band} -> {c.discharge.band}"
        refs = [
            *(c.intake.evidence if c.intake else ()),
            *(c.discharge.evidence if c.discharge else ()),
        ]
        rows.append(
            ProRow(
                instrument=c.instrument,
                label=PRO_LABELS[c.instrument],
                intake=c.intake.score if c.intake else None,
                intake_date=c.intake.date if c.intake else None,
                discharge=c.discharge.score if c.discharge else None,
                discharge_date=c.discharge.date if c.discharge else None,
                change=c.change,
                direction=c.direction,
                band_change=bands,
                anchors=to_anchors(refs),
            )
        )
    if episode is None:
        latest = {s.instrument: s for s in pro_scores(chart) if s.problem is None}
        rows = [
            ProRow(k, PRO_LABELS[k], None, None, s.score, s.date, None, "unknown", s.band,
                   to_anchors(s.evidence))
            for k in PRO_LABELS
            if (s := latest.get(k)) is not None
        ]  # fmt: skip
    return Ppact(
        enrolled=episode is not None,
        start=episode.start if episode else None,
        end=episode.end if episode else None,
        status=episode.status if episode else None,
        rows=tuple(rows),
        goals=None,
        anchors=to_anchors([episode.ref]) if episode else (),
    )


def _conditions(chart: Chart) -> tuple[ItemRow, ...]:
    rows = [
        ItemRow(
            c.text or (c.codes[0].display if c.codes else None) or c.ref,
            c.onset or c.recorded,
            ", ".join(sorted(str(g) for g in c.groups)),
            to_anchors([c.ref]),
        )
        for c in chart.conditions
        if c.is_active and (c.groups & _PERTINENT_GROUPS or "problem-list-item" in c.categories)
    ]
    # Groups that change opioid risk first, then newest.
    return tuple(sorted(rows, key=lambda r: (r.kind == "", -(r.day or date.min).toordinal())))


def _treatments(chart: Chart, as_of: date, terms: Terminology) -> tuple[ItemRow, ...]:
    """Non-opioid medicines active in the last 180 days, procedures and referrals."""
    since = as_of - timedelta(days=180)
    skip = {DrugClass.NALOXONE, DrugClass.BENZODIAZEPINE} | set(_CNS)
    meds: dict[str, ItemRow] = {}
    for m in sorted(chart.medications, key=lambda r: medication_date(r) or date.min):
        day = medication_date(m)
        if m.classification.is_opioid or m.classification.classes & skip or m.entered_in_error:
            continue
        if day is None or not since <= day <= as_of:
            continue
        name = m.text or m.ref
        meds[name] = ItemRow(name, day, "medication", to_anchors([m.ref]))
    others = [
        ItemRow(p.text or p.ref, p.performed, "procedure", to_anchors([p.ref]))
        for p in chart.procedures
        if p.performed
        and since <= p.performed <= as_of
        and PDMP_GROUP not in terms.procedure_groups(p.codes)
    ] + [
        ItemRow(s.text or s.ref, s.authored_on, "referral", to_anchors([s.ref]))
        for s in chart.service_requests
        if s.status not in {"entered-in-error", "revoked"}
        and s.authored_on
        and since <= s.authored_on <= as_of
    ]
    return tuple(meds.values()) + tuple(others)


_CNS = (
    DrugClass.GABAPENTINOID,
    DrugClass.Z_DRUG,
    DrugClass.MUSCLE_RELAXANT,
    DrugClass.BARBITURATE,
    DrugClass.OTHER_CNS_DEPRESSANT,
)
