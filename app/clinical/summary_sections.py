"""The blocks of the one-page summary, each built from the chart and the core's results.

Split from `summary.py` (which assembles them into `SummaryView`): the current regimen with
MME/day per drug (`mme.total_mme` lines; prescriber and last fill from the drug's prescription
and dispenses when the counted record is a patient-reported statement), naloxone, PPACT intake
vs discharge (`pro.intake_discharge`, goals from `goals.goal_progress`), pertinent conditions
and other treatments (non-opioid drugs, procedures, referrals). The risk rows live in
`summary_risks.py`, the monitoring table in `summary_monitoring.py`; both are re-exported here.
Each row carries the dashboard anchors of the records it rests on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from app.clinical.goals import goal_progress
from app.clinical.mme import format_mme
from app.clinical.model import (
    Chart,
    ConditionGroup,
    DrugClass,
    EpisodeRecord,
    MedicationKind,
    MmeLine,
    MmeTotal,
)
from app.clinical.monitoring import PDMP_GROUP
from app.clinical.pro import intake_discharge, ppact_episode, pro_scores
from app.clinical.summary_monitoring import MonitoringRow, monitoring
from app.clinical.summary_risks import MAX_RISKS, RiskRow, risks
from app.clinical.terminology import Terminology
from app.clinical.views import anchors as to_anchors
from app.clinical.views import (
    by_ref,
    current_prescription,
    last_dispense,
    medication_date,
    prescriber_of,
    sig_of,
)

__all__ = [
    "MAX_CONDITIONS",
    "MAX_RISKS",
    "MAX_TREATMENTS",
    "PRO_LABELS",
    "GoalRow",
    "ItemRow",
    "MonitoringRow",
    "Naloxone",
    "Ppact",
    "ProRow",
    "Regimen",
    "RegimenRow",
    "RiskRow",
    "conditions",
    "goal_rows",
    "monitoring",
    "naloxone",
    "ppact",
    "regimen",
    "risks",
    "treatments",
]

MAX_CONDITIONS = 6
MAX_TREATMENTS = 6
_PERTINENT_GROUPS = frozenset(ConditionGroup) - {ConditionGroup.PREGNANCY}


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
    anchors: tuple[str, ...]  # the counted record first, then the prescription it relies on
    prescriber_anchors: tuple[str, ...] = ()
    fill_anchors: tuple[str, ...] = ()


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
class Naloxone:
    on_record: bool
    last_date: date | None
    drug: str | None
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
class GoalRow:
    """One patient goal: as set at intake, its state at discharge, the direction.

    `intake_text` reads "set 2026-03-02"; `discharge_text` "achieved (2026-07-01)", or says why
    there is no discharge state ("program ongoing; now in progress").
    """

    description: str
    intake_text: str
    discharge_text: str
    discharge: str | None
    direction: str
    anchors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ppact:
    enrolled: bool
    start: date | None
    end: date | None
    status: str | None
    rows: tuple[ProRow, ...]
    goals: tuple[GoalRow, ...]
    anchors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ItemRow:
    """A condition, treatment or referral: text, date, anchors."""

    text: str
    day: date | None
    kind: str
    anchors: tuple[str, ...]


PRO_LABELS = {"peg": "PEG (pain, 0-10)", "phq9": "PHQ-9 (depression, 0-27)", "gad7": "GAD-7 (0-21)"}


def _line_row(line: MmeLine, chart: Chart, as_of: date) -> RegimenRow:
    """One regimen row; prescriber and last fill from the drug's prescription and dispenses.

    A patient-reported MedicationStatement (or an order without a named requester) names no
    prescriber: the row then shows the latest active MedicationRequest for the same drug and
    links it as evidence next to the record that was counted.
    """
    records = by_ref(chart)
    record = records.get(line.ref)
    prescriber = prescriber_of(record, records) if record else None
    refs = [line.ref]
    prescriber_refs: list[str] = []
    if record is not None:
        request = records.get(record.authorizing_prescription or "")
        if record.kind is MedicationKind.REQUEST:
            request = record
        if prescriber is None:
            request = current_prescription(record, chart.medications, as_of)
            if request is not None:
                prescriber = request.prescriber_display or request.prescriber
                refs.append(request.ref)
        if request is not None and prescriber is not None:
            prescriber_refs.append(request.ref)
    fill = last_dispense(record, chart.medications, as_of) if record else None
    return RegimenRow(
        drug=line.display or (record.text if record else None) or line.ref,
        sig=sig_of(record, records) if record else None,
        mme_text=format_mme(line.mme_per_day) if line.mme_per_day is not None else "unknown",
        mme_per_day=line.mme_per_day,
        long_acting=line.long_acting,
        prescriber=prescriber,
        last_fill=fill.handed_over if fill else None,
        complete=line.complete,
        notes=line.notes,
        anchors=to_anchors(refs),
        prescriber_anchors=to_anchors(prescriber_refs),
        fill_anchors=to_anchors([fill.ref] if fill else []),
    )


def regimen(chart: Chart, total: MmeTotal, as_of: date) -> Regimen:
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


def naloxone(chart: Chart, as_of: date) -> Naloxone:
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


def ppact(chart: Chart, as_of: date) -> Ppact:
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
        goals=goal_rows(chart, episode, as_of),
        anchors=to_anchors([episode.ref]) if episode else (),
    )


def goal_rows(chart: Chart, episode: EpisodeRecord | None, as_of: date) -> tuple[GoalRow, ...]:
    """The goals of the PPACT episode (`goals.goal_progress`), worded for the page."""
    rows = []
    for g in goal_progress(chart, as_of=as_of, episode=episode):
        intake = f"set {g.start.isoformat()}" if g.start else "set (no date)"
        now = f"now {g.status}" if g.status else "no status"
        if g.discharge is not None:
            dated = f" ({g.status_date.isoformat()})" if g.status_date else ""
            discharge = f"{g.discharge}{dated}"
        elif episode is None:
            discharge = now
        elif episode.end is None or episode.end > as_of:
            discharge = f"program ongoing; {now}"
        else:
            discharge = f"not reassessed at discharge; {now}"
        rows.append(
            GoalRow(g.description, intake, discharge, g.discharge, g.direction, to_anchors([g.ref]))
        )
    return tuple(rows)


def conditions(chart: Chart) -> tuple[ItemRow, ...]:
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


def treatments(chart: Chart, as_of: date, terms: Terminology) -> tuple[ItemRow, ...]:
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
