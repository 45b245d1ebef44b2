"""`long-acting-opioid`: an extended-release / long-acting opioid is active at `as_of`.

CDC 2022 Recommendation 3 advises immediate-release opioids over ER/LA ones, which carry a
higher overdose risk; Recommendation 8 counts them among risk factors. Classification
(`long_acting`) comes from the OMTK drug table through `terminology`. A medication counts when a
supply window covers `as_of` (drafts from `as_of`) or when the MME total holds it in scope, so an
order whose supply could not be read is not lost.
"""

from __future__ import annotations

from app.clinical.citations import REC_3_ER_LA
from app.clinical.model import Finding, Severity
from app.clinical.rules.base import Rule, RuleContext, display_name


class LongActingOpioidRule(Rule):
    id = "long-acting-opioid"
    title = "Long-acting opioid"
    citation = REC_3_ER_LA
    codes = ("long-acting-opioid",)
    suppressed_when_excluded = False

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        refs: list[str] = []
        for window in ctx.windows:
            record = ctx.record(window.ref)
            if (
                record is not None
                and record.classification.is_opioid
                and record.classification.long_acting
                and window.start <= ctx.as_of <= window.end
            ):
                refs.append(window.ref)
        refs.extend(line.ref for line in ctx.mme.lines + ctx.mme.excluded if line.long_acting)
        refs = list(dict.fromkeys(refs))
        if not refs:
            return ()
        names = list(dict.fromkeys(display_name(ctx.record(ref), ref) for ref in refs))
        return (
            self.finding(
                "long-acting-opioid",
                Severity.LOW,
                f"Long-acting opioid active: {', '.join(names)}.",
                refs,
                {"medications": names},
            ),
        )
