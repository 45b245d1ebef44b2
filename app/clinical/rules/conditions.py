"""Risk flags from the problem list: depression, anxiety, PTSD, sleep-disordered breathing,
overdose history.

CDC 2022 Recommendation 8 names these as factors that raise the risk of opioid harm (mental
health conditions, sleep-disordered breathing, prior overdose). Condition groups come from the
vendored CDC/VSAC value sets through `terminology.condition_groups`. A flag is a fact about the
chart, so it is shown even when the patient meets a CDC IG exclusion.
"""

from __future__ import annotations

from typing import ClassVar

from app.clinical.citations import REC_8_RISK
from app.clinical.model import ConditionGroup, ConditionRecord, Finding, Severity
from app.clinical.rules.base import Rule, RuleContext

_NOT_REAL = frozenset({"refuted", "entered-in-error"})


def _condition_day(condition: ConditionRecord) -> str | None:
    day = condition.onset or condition.recorded
    return day.isoformat() if day is not None else None


class ActiveConditionFlag(Rule):
    """A finding when the patient has an active condition in one group."""

    citation = REC_8_RISK
    suppressed_when_excluded = False
    group: ClassVar[ConditionGroup]
    label: ClassVar[str]

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        found = ctx.active_conditions(self.group)
        if not found:
            return ()
        return (
            self.finding(
                self.id,
                Severity.LOW,
                f"Active {self.label} on record, a risk factor for opioid harm.",
                [c.ref for c in found],
                {
                    "conditions": [c.text for c in found],
                    "onsets": [_condition_day(c) for c in found],
                },
            ),
        )


class DepressionRule(ActiveConditionFlag):
    id = "depression"
    title = "Depression"
    codes = ("depression",)
    group = ConditionGroup.DEPRESSION
    label = "depression"


class AnxietyRule(ActiveConditionFlag):
    id = "anxiety"
    title = "Anxiety"
    codes = ("anxiety",)
    group = ConditionGroup.ANXIETY
    label = "anxiety disorder"


class PtsdRule(ActiveConditionFlag):
    id = "ptsd"
    title = "Post-traumatic stress disorder"
    codes = ("ptsd",)
    group = ConditionGroup.PTSD
    label = "post-traumatic stress disorder"


class SleepDisorderedBreathingRule(ActiveConditionFlag):
    id = "sleep-disordered-breathing"
    title = "Sleep-disordered breathing"
    codes = ("sleep-disordered-breathing",)
    group = ConditionGroup.SLEEP_DISORDERED_BREATHING
    label = "sleep-disordered breathing"


class OverdoseHistoryRule(Rule):
    """Any overdose on record, whatever its clinical status: a past overdose is history."""

    id = "overdose-history"
    title = "History of overdose"
    citation = REC_8_RISK
    codes = ("overdose-history",)
    suppressed_when_excluded = False

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        found = [
            c
            for c in ctx.chart.conditions
            if ConditionGroup.OVERDOSE in c.groups and c.verification_status not in _NOT_REAL
        ]
        if not found:
            return ()
        days = sorted(d for d in (_condition_day(c) for c in found) if d is not None)
        latest = days[-1] if days else None
        when = f", most recently {latest}" if latest else ""
        return (
            self.finding(
                "overdose-history",
                Severity.MODERATE,
                f"Overdose on record{when}; the strongest predictor of a future overdose.",
                [c.ref for c in found],
                {"count": len(found), "latest": latest},
            ),
        )
