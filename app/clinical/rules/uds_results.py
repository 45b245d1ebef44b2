"""`uds-unexpected`: a urine drug screen found what should not be there, or missed what should.

CDC 2022 Recommendation 10: consider toxicology testing to assess for prescribed medications
and other substances; unexpected results call for a conversation, not dismissal. The comparison
of results with the medication list is done by `uds.evaluate_uds`, over the clinic's UDS
interval; this rule states it, one finding per screen with a discrepancy.
"""

from __future__ import annotations

from app.clinical.citations import REC_10_TOXICOLOGY
from app.clinical.model import Finding, Severity
from app.clinical.rules.base import Rule, RuleContext
from app.clinical.uds import evaluate_uds


class UdsUnexpectedRule(Rule):
    id = "uds-unexpected"
    title = "Unexpected urine drug screen result"
    citation = REC_10_TOXICOLOGY
    codes = ("uds-unexpected",)

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        findings = []
        lookback_days = ctx.policy.monitoring.uds_days
        drafts = {d.ref for d in ctx.drafts}
        results = evaluate_uds(
            ctx.chart,
            ctx.as_of,
            lookback_days=lookback_days,
            terminology=ctx.terminology,
            windows=tuple(w for w in ctx.windows if w.ref not in drafts),
        )
        for result in results:
            if not result.unexpected_found and not result.expected_missing:
                continue
            parts = []
            if result.unexpected_found:
                parts.append("unexpected " + ", ".join(result.unexpected_found))
            if result.expected_missing:
                parts.append("prescribed but not detected " + ", ".join(result.expected_missing))
            when = result.date.isoformat() if result.date else "undated"
            findings.append(
                self.finding(
                    "uds-unexpected",
                    Severity.MODERATE,
                    f"Urine drug screen ({when}): {'; '.join(parts)}.",
                    result.evidence or (result.ref,),
                    {
                        "date": result.date.isoformat() if result.date else None,
                        "unexpected_found": list(result.unexpected_found),
                        "expected_missing": list(result.expected_missing),
                    },
                )
            )
        return tuple(findings)
