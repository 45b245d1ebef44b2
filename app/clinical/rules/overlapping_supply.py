"""`overlapping-opioid-supply`: two different opioids supplied for the same days.

CDC 2022 Recommendation 8 (and the PDMP review of Recommendation 9) treat concurrent opioid
prescriptions as a risk to look at. Overlap of the same drug is an early refill (see
`early_refill`), so here only supplies of different drugs (`early_refill.drug_key`) count. The
key includes the release form, so an IR + ER regimen of one ingredient is reported here (two
concurrent opioid products), not as an early refill. Days
are counted from `early_refill.lookback_days` before `as_of` up to `as_of`; with draft orders
(a CDS call) the days the drafts would supply are counted too.
"""

from __future__ import annotations

from datetime import timedelta

from app.clinical.citations import REC_8_RISK
from app.clinical.model import Finding, Severity
from app.clinical.rules.base import (
    Rule,
    RuleContext,
    covered_by_two_or_more,
    covered_intervals,
    display_name,
    interval_days,
)
from app.clinical.rules.coprescribing import HORIZON_DAYS
from app.clinical.rules.early_refill import opioid_windows_by_drug


class OverlappingOpioidSupplyRule(Rule):
    id = "overlapping-opioid-supply"
    title = "Overlapping supplies of different opioids"
    citation = REC_8_RISK
    codes = ("overlapping-opioid-supply",)

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        start = ctx.as_of - timedelta(days=ctx.policy.early_refill.lookback_days)
        end = ctx.as_of + timedelta(days=HORIZON_DAYS) if ctx.drafts else ctx.as_of
        groups = opioid_windows_by_drug(ctx)
        shared = covered_by_two_or_more(
            [covered_intervals(windows, start, end) for windows in groups.values()]
        )
        if not shared:
            return ()
        first, last = shared[0][0], shared[-1][1]
        refs = [
            w.ref
            for windows in groups.values()
            for w in windows
            if any(w.start <= hi and w.end >= lo for lo, hi in shared)
        ]
        refs = list(dict.fromkeys(refs))
        names = list(dict.fromkeys(display_name(ctx.record(r), r) for r in refs))
        return (
            self.finding(
                "overlapping-opioid-supply",
                Severity.MODERATE,
                f"Supplies of different opioids overlap on {interval_days(shared)} day(s) between"
                f" {first.isoformat()} and {last.isoformat()} ({', '.join(names)}).",
                refs,
                {
                    "overlap_days": interval_days(shared),
                    "overlap_start": first.isoformat(),
                    "overlap_end": last.isoformat(),
                    "medications": names,
                },
            ),
        )
