"""Total MME/day at or above the clinic's thresholds, and totals that could not be completed.

CDC 2022 Recommendation 5 (and 4): reassess benefits and risks at higher dosages; the IG's
REC04/05 logic alerts at 50 and 90 MME/day. The total comes from `mme.total_mme` with the
draft orders, computed once in the context. Thresholds are compared with the unrounded total
(49.95 displays as 50.0 but does not reach 50). An incomplete total is a floor: it still
triggers a threshold it reaches ("at least"), and a separate `mme-incomplete` finding names
the medications that could not be converted, so nothing is silently undercounted.
"""

from __future__ import annotations

from app.clinical.citations import OPIOID_IG_MME, REC_5_DOSAGE
from app.clinical.model import Finding, MmeLine, Severity
from app.clinical.rules.base import Rule, RuleContext


def _name(line: MmeLine) -> str:
    return line.display or line.code or line.ref


class HighMmeRule(Rule):
    """One finding per threshold reached; the highest threshold is HIGH, lower ones MODERATE."""

    id = "mme-at-or-above-threshold"
    title = "MME/day at or above threshold"
    citation = REC_5_DOSAGE
    codes = ("mme-at-or-above-threshold",)

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        total = ctx.mme.total_mme
        thresholds = sorted(set(ctx.policy.mme.thresholds))
        refs = [line.ref for line in ctx.mme.lines if line.mme_per_day is not None]
        findings = []
        for threshold in thresholds:
            if total < threshold:
                continue
            severity = Severity.HIGH if threshold == thresholds[-1] else Severity.MODERATE
            qualifier = "" if ctx.mme.complete else "at least "
            findings.append(
                self.finding(
                    "mme-at-or-above-threshold",
                    severity,
                    f"Total is {qualifier}{total:.1f} MME/day, at or above the clinic threshold"
                    f" of {threshold:g} MME/day.",
                    refs,
                    {
                        "threshold_mme": threshold,
                        "total_mme": round(total, 1),
                        "complete": ctx.mme.complete,
                        "edition": ctx.mme.edition,
                        "drafts_included": sorted(ctx.draft_refs),
                    },
                )
            )
        return tuple(findings)


class IncompleteMmeRule(Rule):
    """The total is a floor because some opioids could not be converted."""

    id = "mme-incomplete"
    title = "MME/day could not be fully computed"
    citation = OPIOID_IG_MME
    codes = ("mme-incomplete",)
    suppressed_when_excluded = False

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        mme = ctx.mme
        if mme.complete:
            return ()
        missing = [line for line in mme.lines if line.mme_per_day is None or not line.complete]
        names = list(dict.fromkeys(_name(line) for line in missing))
        listed = ", ".join(names) if names else "see reasons"
        evidence = [line.ref for line in missing] or [line.ref for line in mme.lines + mme.excluded]
        return (
            self.finding(
                "mme-incomplete",
                Severity.MODERATE,
                f"Total is at least {mme.total_mme:.1f} MME/day; not computed for: {listed}.",
                evidence,
                {
                    "total_mme": round(mme.total_mme, 1),
                    "medications": names,
                    "reasons": list(mme.reasons),
                },
            ),
        )
