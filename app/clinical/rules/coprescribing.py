"""Opioids co-prescribed with benzodiazepines or other CNS depressants.

CDC 2022 Recommendation 11: use particular caution prescribing opioids with benzodiazepines
and consider whether the benefits outweigh the risks with other CNS depressants. The IG
(OpioidCDSREC11PatientView.cql) fires on an active opioid and an active sedative; we compare
supply windows instead, so a past overlap is caught too: two supplies count as co-prescribed
when they cover a common day on or after `as_of - COPRESCRIBING_LOOKBACK_DAYS` (future days of a
draft order included). Opioid = opioid analgesic or buprenorphine for pain (MOUD is left out, see
`PAIN_OPIOID_CLASSES`). Which sedative classes alert is clinic policy
(`sedatives.alert_classes`); the opioid + benzodiazepine + muscle relaxant "triple threat" is
always checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from app.clinical.citations import REC_11_SEDATIVES
from app.clinical.model import DrugClass, Finding, Severity
from app.clinical.rules.base import (
    PAIN_OPIOID_CLASSES,
    Rule,
    RuleContext,
    covered_intervals,
    display_name,
    intersect_intervals,
    interval_days,
)
from app.clinical.supply import SupplyWindow

#: Overlaps that ended more than this many days before `as_of` are history, not an alert.
COPRESCRIBING_LOOKBACK_DAYS = 90
#: Future days looked at (drafts and post-dated supplies); a year is more than any fill.
HORIZON_DAYS = 366


@dataclass(frozen=True, slots=True)
class SedativeOverlap:
    """Days an opioid supply and supplies of one or more sedative classes cover together."""

    classes: tuple[DrugClass, ...]
    first_day: date
    last_day: date
    days: int
    refs: tuple[str, ...]  # the opioid and sedative windows that take part

    def period_text(self, as_of: date) -> str:
        """ "since X (current)" when the overlap reaches as_of, else "X to Y"."""
        if self.last_day >= as_of:
            return f"since {self.first_day.isoformat()} (current)"
        return f"{self.first_day.isoformat()} to {self.last_day.isoformat()}"

    def as_data(self) -> dict[str, object]:
        return {
            "classes": [str(c) for c in self.classes],
            "overlap_start": self.first_day.isoformat(),
            "overlap_end": self.last_day.isoformat(),
            "overlap_days": self.days,
        }


def _shared(
    ctx: RuleContext, groups: list[tuple[SupplyWindow, ...]], classes: tuple[DrugClass, ...]
) -> SedativeOverlap | None:
    if any(not g for g in groups):
        return None
    start = ctx.as_of - timedelta(days=COPRESCRIBING_LOOKBACK_DAYS)
    end = ctx.as_of + timedelta(days=HORIZON_DAYS)
    shared = covered_intervals(groups[0], start, end)
    for group in groups[1:]:
        shared = intersect_intervals(shared, covered_intervals(group, start, end))
    if not shared:
        return None
    refs = [
        w.ref
        for g in groups
        for w in g
        if any(w.start <= last and w.end >= first for first, last in shared)
    ]
    return SedativeOverlap(
        classes, shared[0][0], shared[-1][1], interval_days(shared), tuple(dict.fromkeys(refs))
    )


def sedative_overlaps(ctx: RuleContext) -> tuple[SedativeOverlap, ...]:
    """One overlap per sedative class in the policy's `alert_classes`, in policy order."""
    opioids = ctx.windows_of(PAIN_OPIOID_CLASSES)
    found = []
    for drug_class in dict.fromkeys(ctx.policy.sedatives.alert_classes):
        sedatives = ctx.windows_of(frozenset({DrugClass(drug_class)}))
        shared = _shared(ctx, [opioids, sedatives], (DrugClass(drug_class),))
        if shared is not None:
            found.append(shared)
    return tuple(found)


def triple_threat(ctx: RuleContext) -> SedativeOverlap | None:
    """Days an opioid, a benzodiazepine and a muscle relaxant all cover."""
    classes = (DrugClass.BENZODIAZEPINE, DrugClass.MUSCLE_RELAXANT)
    groups = [ctx.windows_of(PAIN_OPIOID_CLASSES)]
    groups += [ctx.windows_of(frozenset({c})) for c in classes]
    return _shared(ctx, groups, classes)


class CoprescribingRule(Rule):
    id = "coprescribing"
    title = "Opioid with a benzodiazepine or other CNS depressant"
    citation = REC_11_SEDATIVES
    codes = (
        "opioid-benzo-coprescribing",
        "opioid-cns-depressant-coprescribing",
        "triple-threat",
    )

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        findings = []
        for found in sedative_overlaps(ctx):
            drug_class = found.classes[0]
            names = ", ".join(dict.fromkeys(display_name(ctx.record(r), r) for r in found.refs))
            when = found.period_text(ctx.as_of)
            data = found.as_data() | {"subclass": str(drug_class)}
            if drug_class is DrugClass.BENZODIAZEPINE:
                text = f"Opioid and benzodiazepine supplies overlap {when} ({names})."
                code = "opioid-benzo-coprescribing"
            else:
                text = f"Opioid and {drug_class} supplies overlap {when} ({names})."
                code = "opioid-cns-depressant-coprescribing"
            findings.append(self.finding(code, Severity.MODERATE, text, found.refs, data))
        triple = triple_threat(ctx)
        if triple is not None:
            when = triple.period_text(ctx.as_of)
            findings.append(
                self.finding(
                    "triple-threat",
                    Severity.HIGH,
                    f"Opioid, benzodiazepine and muscle relaxant supplies overlap {when}.",
                    triple.refs,
                    triple.as_data(),
                )
            )
        return tuple(findings)
