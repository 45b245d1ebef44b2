"""The patient COT dashboard: everything in the chart over time -> `DashboardView`.

PPACT gave the PCP "a dashboard of all assessment information in the chart" (product.md): MME
and PEG/PHQ-9/GAD-7 trends, opioid prescription and dispense history with early refills and
overlaps marked, urine drug screens with results, agreements, PDMP checks, weekly progress notes
(newest first), encounters, the patient's goals and the findings with their evidence. Each
section says which data it used and whether that data loaded completely (`views.availability`).

Every record gets a row whose HTML id is `views.anchor(ref)`, so each evidence link on the
summary lands on a row here; records no section shows are listed under "Other records".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from app.clinical.findings import build_context, evaluate_context
from app.clinical.goals import goal_progress, status_label
from app.clinical.model import Chart, DrugClass, Finding, MedicationKind, Quantity
from app.clinical.monitoring import PDMP_GROUP
from app.clinical.policy import ClinicPolicy
from app.clinical.pro import ppact_episode, pro_scores
from app.clinical.summary import PatientHeader, TrendPoint, mme_trend
from app.clinical.supply import SupplyWindow
from app.clinical.terminology import Terminology, load_terminology
from app.clinical.uds import evaluate_uds
from app.clinical.views import (
    Availability,
    SourceStatus,
    age_on,
    all_availability,
    anchor,
    anchors,
    by_ref,
    medication_date,
    prescriber_of,
    sig_of,
)

UDS_LOOKBACK_DAYS = 730
_SEDATIVE_CLASSES = frozenset(
    {
        DrugClass.BENZODIAZEPINE,
        DrugClass.GABAPENTINOID,
        DrugClass.Z_DRUG,
        DrugClass.MUSCLE_RELAXANT,
        DrugClass.BARBITURATE,
        DrugClass.OTHER_CNS_DEPRESSANT,
    }
)


@dataclass(frozen=True, slots=True)
class Row:
    """One dashboard table row: its anchor, the date it sorts by and its cells."""

    anchor: str
    day: date | None
    cells: tuple[str, ...]
    flags: tuple[str, ...] = ()
    text: str | None = None  # long text shown under the row (progress notes)
    links: tuple[str, ...] = ()  # anchors of the records a finding rests on


@dataclass(frozen=True, slots=True)
class Section:
    """One dashboard section: a sortable table and where its data came from."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    availability: Availability
    used: str  # "24 records from MedicationRequest, MedicationDispense ..."
    empty: str


@dataclass(frozen=True, slots=True)
class ProSeries:
    instrument: str
    label: str
    points: tuple[tuple[date, float], ...]
    maximum: float


@dataclass(frozen=True, slots=True)
class DashboardView:
    as_of: date
    patient: PatientHeader | None
    thresholds: tuple[float, ...]
    mme: tuple[TrendPoint, ...]
    pro: tuple[ProSeries, ...]
    sections: tuple[Section, ...]
    findings: tuple[Finding, ...]
    availability: dict[str, Availability]


def build_dashboard(
    chart: Chart,
    policy: ClinicPolicy,
    as_of: date,
    *,
    sources: Mapping[str, SourceStatus] | None = None,
    terminology: Terminology | None = None,
) -> DashboardView:
    """Every dashboard section for one patient at `as_of` (same arguments as `build_summary`)."""
    terms = terminology or load_terminology()
    avail = all_availability(sources or {})
    ctx = build_context(chart, policy, as_of, terminology=terms)
    findings = evaluate_context(ctx)
    sections = [
        _medications(chart, findings, avail, opioids=True),
        _medications(chart, findings, avail, opioids=False),
        _uds(chart, as_of, avail, terms, ctx.windows),
        _scores(chart, avail),
        _goals(chart, as_of, avail),
        _documents(chart, avail, agreements=True),
        _pdmp(chart, avail, terms),
        _documents(chart, avail, agreements=False),
        _encounters(chart, avail),
        _conditions(chart, avail),
        _findings(findings, avail),
    ]
    shown = {row.anchor for section in sections for row in section.rows}
    sections.append(_others(chart, shown, avail))
    p = chart.patient
    header = (
        PatientHeader(p.name, age_on(p.birth_date, as_of), p.gender, p.mrn, p.birth_date)
        if p
        else None
    )
    scores = [s for s in pro_scores(chart) if s.problem is None and s.date <= as_of]
    pro = tuple(
        ProSeries(key, label, tuple((s.date, s.score) for s in scores if s.instrument == key), top)
        for key, label, top in (("peg", "PEG", 10), ("phq9", "PHQ-9", 27), ("gad7", "GAD-7", 21))
    )
    return DashboardView(
        as_of=as_of,
        patient=header,
        thresholds=tuple(policy.mme.thresholds),
        mme=mme_trend(chart, policy, as_of, terminology=terms),
        pro=pro,
        sections=tuple(sections),
        findings=findings,
        availability=avail,
    )


def _used(rows: int, avail: Availability) -> str:
    return f"{rows} record(s) from {', '.join(avail.sources)}"


def _section(
    key: str, title: str, columns: tuple[str, ...], rows: list[Row], avail: Availability, empty: str
) -> Section:
    ordered = sorted(rows, key=lambda r: (r.day is None, -(r.day or date.min).toordinal()))
    return Section(key, title, columns, tuple(ordered), avail, _used(len(rows), avail), empty)


def _medications(
    chart: Chart, findings: tuple[Finding, ...], avail: Mapping[str, Availability], *, opioids: bool
) -> Section:
    early: dict[str, str] = {}
    overlapping: set[str] = set()
    for f in findings:
        if f.code == "early-refill":
            refills = f.data.get("refills")
            for item in refills if isinstance(refills, list) else []:
                if isinstance(item, dict):
                    early[str(item.get("ref"))] = f"early refill ({item.get('days_early')} days)"
        if f.code == "overlapping-opioid-supply":
            overlapping.update(f.evidence)
    records = by_ref(chart)
    rows = []
    for m in chart.medications:
        if m.classification.is_opioid != opioids:
            continue
        flags = tuple(
            flag
            for flag in (
                early.get(m.ref),
                "overlapping supply" if m.ref in overlapping else None,
                "entered in error" if m.entered_in_error else None,
            )
            if flag
        )
        who = m.pharmacy if m.kind is MedicationKind.DISPENSE else prescriber_of(m, records)
        days = m.days_supply or m.expected_supply_days
        rows.append(
            Row(
                anchor(m.ref),
                medication_date(m),
                (
                    _day(medication_date(m)),
                    m.kind.value.removeprefix("Medication"),
                    m.text or m.ref,
                    sig_of(m, records) or "",
                    _quantity(m.dispense_quantity),
                    f"{days:g}" if days is not None else "",
                    who or "",
                    m.status or "",
                ),
                flags,
                text=("Could not read: " + "; ".join(m.notes)) if m.notes else None,
            )
        )
    columns = (
        "Date",
        "Kind",
        "Medication",
        "Sig",
        "Qty",
        "Days",
        "Prescriber / pharmacy",
        "Status",
    )
    if opioids:
        return _section(
            "opioids", "Opioid prescriptions and dispenses", columns, rows,
            avail["medications"], "No opioid records in the chart.",
        )  # fmt: skip
    return _section(
        "other-medications", "Sedatives, naloxone and other medications", columns, rows,
        avail["medications"], "No other medication records.",
    )  # fmt: skip


def _uds(
    chart: Chart,
    as_of: date,
    avail: Mapping[str, Availability],
    terms: Terminology,
    windows: tuple[SupplyWindow, ...],
) -> Section:
    rows = [
        Row(
            anchor(u.ref),
            u.date,
            (
                _day(u.date),
                ", ".join(u.detected) or "none",
                ", ".join(u.not_detected),
                ", ".join(u.unexpected_found) or "none",
                ", ".join(u.expected_missing) or "none",
                ", ".join((*u.unknown, *u.notes)),
            ),
            ("unexpected",) if u.unexpected_found or u.expected_missing else (),
        )
        for u in evaluate_uds(
            chart, as_of, lookback_days=UDS_LOOKBACK_DAYS, terminology=terms, windows=windows
        )
    ]
    columns = ("Date", "Detected", "Not detected", "Unexpected", "Expected, missing", "Unread")
    return _section(
        "uds", "Urine drug screens", columns, rows, avail["uds"], "No urine drug screens."
    )


def _scores(chart: Chart, avail: Mapping[str, Availability]) -> Section:
    episode = ppact_episode(chart)
    rows = [
        Row(
            anchor(s.ref),
            s.date,
            (_day(s.date), s.instrument.upper().replace("PHQ9", "PHQ-9").replace("GAD7", "GAD-7"),
             f"{s.score:g}", s.band or "", s.problem or ""),
        )
        for s in pro_scores(chart)
    ]  # fmt: skip
    if episode is not None:
        rows.append(
            Row(
                anchor(episode.ref),
                episode.start,
                (_day(episode.start), "PPACT program", episode.status or "", _day(episode.end), ""),
            )
        )
    columns = ("Date", "Instrument", "Score", "Band", "Problem")
    return _section(
        "scores", "PEG, PHQ-9 and GAD-7 scores; PPACT", columns, rows, avail["pro"],
        "No scores recorded.",
    )  # fmt: skip


def _goals(chart: Chart, as_of: date, avail: Mapping[str, Availability]) -> Section:
    """Every goal; the PPACT ones say "PPACT" and carry their discharge direction."""
    episode = ppact_episode(chart)
    progress = (
        {g.ref: g for g in goal_progress(chart, as_of=as_of, episode=episode)} if episode else {}
    )
    rows = []
    for goal in chart.goals:
        p = progress.get(goal.ref)
        rows.append(
            Row(
                anchor(goal.ref),
                goal.start,
                (_day(goal.start), goal.description or "", goal.lifecycle_status or "",
                 status_label(goal) or "", _day(goal.status_date), _day(goal.target_due),
                 f"PPACT: {p.direction}" if p else ""),
                text="; ".join(goal.annotations) or None,
            )
        )  # fmt: skip
    columns = ("Start", "Goal", "Lifecycle", "Achievement", "Status date", "Due", "Program")
    return _section("goals", "Patient goals", columns, rows, avail["goals"], "No goals on record.")


def _documents(chart: Chart, avail: Mapping[str, Availability], *, agreements: bool) -> Section:
    rows = []
    for d in chart.documents:
        is_agreement = any(c.code == "94136-9" for c in d.type_codes)
        if is_agreement != agreements:
            continue
        rows.append(
            Row(
                anchor(d.ref),
                d.date,
                (_day(d.date), d.text or "", d.author or "", d.doc_status or d.status or "",
                 _day(d.period_end)),
                text=None if agreements else d.content_text,
            )
        )  # fmt: skip
    columns = ("Date", "Document", "Author", "Status", "Ends")
    if agreements:
        return _section(
            "agreements", "Treatment agreements", columns, rows, avail["agreements"],
            "No treatment agreement on record.",
        )  # fmt: skip
    return _section(
        "notes", "Progress notes (newest first)", columns, rows, avail["notes"],
        "No progress notes.",
    )  # fmt: skip


def _pdmp(chart: Chart, avail: Mapping[str, Availability], terms: Terminology) -> Section:
    rows = [
        Row(anchor(p.ref), p.performed, (_day(p.performed), p.text or "", p.status or ""))
        for p in chart.procedures
        if PDMP_GROUP in terms.procedure_groups(p.codes)
    ] + [
        Row(anchor(o.ref), o.effective, (_day(o.effective), o.text or "", o.status or ""))
        for o in chart.observations
        if PDMP_GROUP in terms.procedure_groups((*o.codes, *o.value_codes))
    ]
    return _section(
        "pdmp", "PDMP checks", ("Date", "Check", "Status"), rows, avail["pdmp"],
        "No PDMP check on record.",
    )  # fmt: skip


def _encounters(chart: Chart, avail: Mapping[str, Availability]) -> Section:
    rows = [
        Row(
            anchor(e.ref),
            e.start or e.end,
            (_day(e.start or e.end), e.class_code or "", e.text or "", e.participant or "",
             e.status or ""),
        )
        for e in chart.encounters
    ]  # fmt: skip
    columns = ("Date", "Class", "Type", "With", "Status")
    return _section(
        "encounters", "Encounters", columns, rows, avail["encounters"], "No encounters."
    )


def _conditions(chart: Chart, avail: Mapping[str, Availability]) -> Section:
    rows = [
        Row(
            anchor(c.ref),
            c.onset or c.recorded,
            (_day(c.onset or c.recorded), c.text or "", c.clinical_status or "",
             ", ".join(sorted(str(g) for g in c.groups))),
        )
        for c in chart.conditions
    ]  # fmt: skip
    return _section(
        "conditions", "Conditions", ("Onset", "Condition", "Status", "Groups"), rows,
        avail["conditions"], "No conditions.",
    )  # fmt: skip


def _findings(findings: tuple[Finding, ...], avail: Mapping[str, Availability]) -> Section:
    rows = [
        Row(
            f"finding-{i}",
            None,
            (str(f.severity), f.text, f.citation.label, f"{len(f.evidence)}"),
            links=anchors(f.evidence),
        )
        for i, f in enumerate(findings)
    ]
    return Section(
        "findings", "Findings and their evidence", ("Severity", "Finding", "Source", "Records"),
        tuple(rows), avail["medications"], f"{len(rows)} finding(s) under the clinic policy",
        "No findings.",
    )  # fmt: skip


def _others(chart: Chart, shown: set[str], avail: Mapping[str, Availability]) -> Section:
    records = [
        *((o.ref, o.effective, o.text) for o in chart.observations),
        *((p.ref, p.performed, p.text) for p in chart.procedures),
        *((s.ref, s.authored_on, s.text) for s in chart.service_requests),
        *((e.ref, e.start, e.text) for e in chart.episodes),
        *((q.ref, q.authored, q.questionnaire) for q in chart.questionnaire_responses),
    ]
    rows = [
        Row(anchor(ref), day, (_day(day), ref.split("/")[0], text or ""))
        for ref, day, text in records
        if anchor(ref) not in shown
    ]
    return _section(
        "others", "Other records", ("Date", "Type", "Text"), rows, avail["referrals"],
        "No other records.",
    )  # fmt: skip


def _quantity(quantity: Quantity | None) -> str:
    if quantity is None:
        return ""
    return f"{quantity.value:g} {quantity.unit or ''}".strip()


def _day(day: date | None) -> str:
    return day.isoformat() if day else ""


__all__ = ["DashboardView", "ProSeries", "Row", "Section", "anchors", "build_dashboard"]
