"""`cot`: the patient meets the clinic's definition of chronic opioid therapy.

The definition (days supplied in a lookback, or CDC 2022 "most days for 3 months or more") is
clinic policy and is computed by `cot.cot_status`; this rule only reports it, with the days
supplied, so the registry and the summary show the same answer. Six Building Blocks 3: track
every COT patient.
"""

from __future__ import annotations

from app.clinical.citations import SIX_BB_TRACKING
from app.clinical.model import Finding, Severity
from app.clinical.rules.base import Rule, RuleContext


class CotRule(Rule):
    id = "cot"
    title = "Chronic opioid therapy"
    citation = SIX_BB_TRACKING
    codes = ("cot",)
    hooks = ("patient-view",)
    suppressed_when_excluded = False

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        cot = ctx.cot
        if not cot.is_cot:
            return ()
        return (
            self.finding(
                "cot",
                Severity.INFO,
                f"On chronic opioid therapy: {cot.days_supplied} days supplied in the last"
                f" {cot.lookback_days} days.",
                cot.evidence,
                {
                    "days_supplied": cot.days_supplied,
                    "lookback_days": cot.lookback_days,
                    "definition": cot.definition,
                    "reason": cot.reason,
                },
            ),
        )
