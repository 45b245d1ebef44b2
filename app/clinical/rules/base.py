"""The shared shape of a rule and the context every rule reads.

Rules are declarative (docs/style.md "Rules are declarative"): each one is a small class with a
stable kebab-case `id`, a title, a guideline `citation`, the CDS Hooks it applies to and an
`evaluate(ctx)` that returns findings. What several rules need (total MME with the draft
orders, supply windows, COT status, exclusions) is computed once per evaluation into a
`RuleContext`, so that the summary, the CDS cards and the registry read the same numbers.

Draft orders (the unsigned orders of a CDS `order-select`/`order-sign` call) count as active
from `as_of` for their supply length; see `draft_window`.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, ClassVar

from app.clinical.model import (
    Chart,
    Citation,
    ConditionGroup,
    ConditionRecord,
    DrugClass,
    Finding,
    MedicationKind,
    MedicationRecord,
    MmeTotal,
    Severity,
)
from app.clinical.supply import SupplyWindow, supply_window

if TYPE_CHECKING:
    from app.clinical.cot import CotStatus
    from app.clinical.policy import ClinicPolicy
    from app.clinical.terminology import Terminology

#: CDS Hooks a rule can answer.
PATIENT_VIEW = "patient-view"
ORDER_SELECT = "order-select"
ORDER_SIGN = "order-sign"
ALL_HOOKS: tuple[str, ...] = (PATIENT_VIEW, ORDER_SELECT, ORDER_SIGN)

#: Classes whose supply counts as "an opioid for pain" in co-prescribing and refill rules.
#: MOUD (buprenorphine or methadone for OUD) is left out: CDC 2022 Recommendation 11 warns
#: against withholding MOUD because of a sedative, and Recommendation 12 covers it.
PAIN_OPIOID_CLASSES: frozenset[DrugClass] = frozenset(
    {DrugClass.OPIOID_ANALGESIC, DrugClass.BUPRENORPHINE_PAIN}
)

#: Statuses that mean the order never happened or was withdrawn.
VOID_STATUSES: frozenset[str] = frozenset({"entered-in-error", "cancelled"})


@dataclass(frozen=True, slots=True)
class Exclusion:
    """One reason the CDC IG general inclusion criteria are not met.

    Args:
        code: stable id: "age", "cancer", "hospice", "end-of-life" or "sickle-cell".
        label: short phrase for a person, e.g. "age 16 (under 18)".
        evidence: "ResourceType/id" references it rests on.
    """

    code: str
    label: str
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Everything the rules read, computed once per `evaluate` call.

    Args:
        chart: the patient's record.
        policy: the clinic policy in force.
        as_of: the date every computation is made at.
        drafts: unsigned orders of a CDS call, already given supply windows from `as_of`.
        mme: total MME/day at `as_of` including the drafts.
        windows: supply windows of the chart's medications and of the drafts.
        cot: whether the patient meets the clinic's COT definition.
        exclusions: reasons the patient is outside the CDC IG inclusion criteria.
        records_by_ref: chart and draft medication records by reference.
        terminology: passed on to the modules rules call (None: the vendored one).
    """

    chart: Chart
    policy: ClinicPolicy
    as_of: date
    mme: MmeTotal
    cot: CotStatus
    drafts: tuple[MedicationRecord, ...] = ()
    windows: tuple[SupplyWindow, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    records_by_ref: dict[str, MedicationRecord] = field(default_factory=dict, compare=False)
    terminology: Terminology | None = field(default=None, compare=False)

    @property
    def excluded(self) -> bool:
        """True when any exclusion applies."""
        return bool(self.exclusions)

    @property
    def draft_refs(self) -> frozenset[str]:
        """References of the draft orders."""
        return frozenset(d.ref for d in self.drafts)

    @property
    def medications(self) -> tuple[MedicationRecord, ...]:
        """The chart's medication records followed by the drafts."""
        return self.chart.medications + self.drafts

    def record(self, ref: str) -> MedicationRecord | None:
        """The medication record (chart or draft) a supply window belongs to."""
        return self.records_by_ref.get(ref)

    def windows_of(self, classes: frozenset[DrugClass]) -> tuple[SupplyWindow, ...]:
        """Supply windows of medications in any of `classes`."""
        found = []
        for window in self.windows:
            record = self.record(window.ref)
            if record is not None and record.classification.classes & classes:
                found.append(window)
        return tuple(found)

    def windows_at(self, classes: frozenset[DrugClass], day: date) -> tuple[SupplyWindow, ...]:
        """Supply windows of medications in `classes` that cover `day`."""
        return tuple(w for w in self.windows_of(classes) if w.start <= day <= w.end)

    def active_conditions(self, group: ConditionGroup) -> tuple[ConditionRecord, ...]:
        """Active conditions in one clinical group."""
        return tuple(c for c in self.chart.conditions if group in c.groups and c.is_active)


class Rule(ABC):
    """One rule: metadata on the class, logic in `evaluate`.

    `codes` lists every finding code the rule can return (a rule such as co-prescribing
    returns several). `suppressed_when_excluded` says whether the rule is silenced when the
    patient meets a CDC IG exclusion (see docs/clinical-decisions.md, "Findings and rules");
    `cot_only` whether it applies only to patients who meet the COT definition.
    """

    id: ClassVar[str]
    title: ClassVar[str]
    citation: ClassVar[Citation]
    hooks: ClassVar[tuple[str, ...]] = ALL_HOOKS
    codes: ClassVar[tuple[str, ...]]
    suppressed_when_excluded: ClassVar[bool] = True

    @abstractmethod
    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        """Return the findings of this rule for one patient (empty when nothing applies)."""

    def finding(
        self,
        code: str,
        severity: Severity,
        text: str,
        evidence: Sequence[str],
        data: dict[str, object] | None = None,
        *,
        citation: Citation | None = None,
    ) -> Finding:
        """Build a finding carrying this rule's citation; evidence is de-duplicated in order."""
        return Finding(
            code=code,
            severity=severity,
            text=text,
            citation=citation or self.citation,
            evidence=tuple(dict.fromkeys(evidence)),
            data=dict(data or {}),
        )


# --------------------------------------------------------------------------- helpers


def record_date(record: MedicationRecord) -> date | None:
    """The date a medication record happened: hand-over, start of use, authoring or validity."""
    if record.kind is MedicationKind.DISPENSE:
        return record.handed_over or record.authored_on
    if record.kind is MedicationKind.STATEMENT:
        return record.effective_start or record.authored_on
    return record.authored_on or record.validity_start


def draft_window(
    record: MedicationRecord, as_of: date, *, terminology: Terminology | None = None
) -> SupplyWindow:
    """Supply window of an unsigned order: active from `as_of` for its supply length.

    `supply.supply_window` skips drafts, so the order is read as if active. When its length
    cannot be read the draft still counts, for `as_of` alone, marked estimated.
    """
    readable = dataclasses.replace(record, status="active")
    window = supply_window(readable, terminology=terminology)
    days = window.days if window is not None and window.days > 0 else 1
    return SupplyWindow(
        ref=record.ref,
        start=as_of,
        end=as_of + timedelta(days=days - 1),
        days=days,
        source=window.source if window is not None else "draft",
        estimated=window.estimated if window is not None else True,
    )


def overlap(a: SupplyWindow, b: SupplyWindow) -> tuple[date, date] | None:
    """First and last day both windows cover (ends inclusive), or None."""
    start = max(a.start, b.start)
    end = min(a.end, b.end)
    return (start, end) if start <= end else None


def covered_days(windows: Sequence[SupplyWindow], start: date, end: date) -> set[date]:
    """Days in [start, end] covered by at least one window."""
    days: set[date] = set()
    for window in windows:
        day = max(window.start, start)
        last = min(window.end, end)
        while day <= last:
            days.add(day)
            day += timedelta(days=1)
    return days


Interval = tuple[date, date]  # first and last day, both inclusive


def covered_intervals(windows: Sequence[SupplyWindow], start: date, end: date) -> list[Interval]:
    """Days in [start, end] covered by at least one window, as sorted disjoint intervals.

    Interval arithmetic instead of sets of days: open-ended windows (ongoing statements) and
    hundreds of refills stay cheap.
    """
    clipped = sorted(
        (max(w.start, start), min(w.end, end)) for w in windows if w.start <= end and w.end >= start
    )
    merged: list[Interval] = []
    for first, last in clipped:
        if merged and first <= merged[-1][1] + timedelta(days=1):
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def intersect_intervals(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Days in both sorted disjoint interval lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        first, last = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if first <= last:
            out.append((first, last))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def covered_by_two_or_more(groups: Sequence[Sequence[Interval]]) -> list[Interval]:
    """Days covered by at least two of the groups (each a sorted disjoint interval list)."""
    events: list[tuple[date, int]] = []
    for intervals in groups:
        for first, last in intervals:
            events.append((first, 1))
            events.append((last + timedelta(days=1), -1))
    events.sort()
    out: list[Interval] = []
    depth = 0
    opened: date | None = None
    for day, step in events:
        before = depth
        depth += step
        if before < 2 <= depth:
            opened = day
        elif before >= 2 > depth and opened is not None:
            last = day - timedelta(days=1)
            if out and out[-1][1] + timedelta(days=1) >= opened:
                out[-1] = (out[-1][0], last)
            else:
                out.append((opened, last))
            opened = None
    return out


def interval_days(intervals: Sequence[Interval]) -> int:
    """Number of days the intervals cover."""
    return sum((last - first).days + 1 for first, last in intervals)


def years_between(born: date, on: date) -> int:
    """Age in whole years on a date; the birthday itself counts (1961-11-01 -> 65 on 2026-11-01).

    A 29 February birthday is reached on 1 March in common years.
    """
    years = on.year - born.year
    if (on.month, on.day) < (born.month, born.day):
        years -= 1
    return years


def display_name(record: MedicationRecord | None, ref: str) -> str:
    """A medication's name for a sentence: text, first coding display, else its reference."""
    if record is None:
        return ref
    if record.text:
        return record.text
    for code in record.codes:
        if code.display:
            return code.display
    return ref
