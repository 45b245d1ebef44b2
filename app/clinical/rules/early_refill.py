"""`early-refill`: an opioid filled before the previous supply of it ran out.

Six Building Blocks 2 (COT refill standard work) and CDC 2022 Recommendation 8 (early
refills as a sign of risk). Supply windows come from `supply.medication_supply_windows`, which
uses dispenses when a prescription has them and the prescription otherwise; drafts start at
`as_of`. Fills are compared within one drug in date order (`drug_key`: same opioid ingredients
and release form, else same RxCUI, else same text), so an IR product and an ER product of one
ingredient (a deliberate IR + ER regimen) are never an early refill of each other, while a
strength change of the same IR product filled while supply remains still is. A fill is early
when it starts more than the tolerance before the day after the previous supply's last day. The
tolerance is `early_refill.tolerance_percent` of the previous days supply when the policy sets
it, else `early_refill.tolerance_days`. Early fills starting within `early_refill.lookback_days`
before `as_of` are counted. The previous supply is never a draft: two drafts of one drug written
together are two orders, and each is compared with the existing supply.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from app.clinical.citations import SIX_BB_AGREEMENTS
from app.clinical.model import Finding, MedicationRecord, Severity
from app.clinical.rules.base import Rule, RuleContext
from app.clinical.supply import SupplyWindow


def drug_key(record: MedicationRecord) -> str:
    """What makes two fills "the same drug": ingredients + release form, else RxCUI, else text.

    The release form is the classification's `long_acting` flag (ER/LA products, from the
    vendored value sets and dose forms): oxycodone IR and oxycodone ER 12 hr are two drugs.
    """
    classification = record.classification
    if classification.ingredients:
        form = "er" if classification.long_acting else "ir"
        return f"{'+'.join(sorted(classification.ingredients))}|{form}"
    if classification.rxcui:
        return f"rxcui:{classification.rxcui}"
    return f"text:{(record.text or record.ref).lower()}"


def opioid_windows_by_drug(ctx: RuleContext) -> dict[str, list[SupplyWindow]]:
    """Opioid supply windows grouped by `drug_key`, each group in date order."""
    groups: dict[str, list[SupplyWindow]] = defaultdict(list)
    for window in ctx.windows:
        record = ctx.record(window.ref)
        if record is not None and record.classification.is_opioid:
            groups[drug_key(record)].append(window)
    for windows in groups.values():
        windows.sort(key=lambda w: (w.start, w.end, w.ref))
    return dict(groups)


class EarlyRefillRule(Rule):
    id = "early-refill"
    title = "Early opioid refill"
    citation = SIX_BB_AGREEMENTS
    codes = ("early-refill",)

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        settings = ctx.policy.early_refill
        since = ctx.as_of - timedelta(days=settings.lookback_days)
        early: list[dict[str, object]] = []
        evidence: list[str] = []
        drafts = ctx.draft_refs
        for windows in opioid_windows_by_drug(ctx).values():
            # The previous supply is an existing record: drafts written together are separate
            # orders, not refills of each other.
            for i, fill in enumerate(windows):
                previous = next((w for w in reversed(windows[:i]) if w.ref not in drafts), None)
                if previous is None or not since <= fill.start <= ctx.as_of:
                    continue
                runs_out = previous.end + timedelta(days=1)
                days_early = (runs_out - fill.start).days
                if settings.tolerance_percent is not None:
                    tolerance_days = previous.days * settings.tolerance_percent / 100
                else:
                    tolerance_days = float(settings.tolerance_days)
                if days_early > tolerance_days:
                    early.append(
                        {
                            "date": fill.start.isoformat(),
                            "ref": fill.ref,
                            "previous_ref": previous.ref,
                            "previous_runs_out": runs_out.isoformat(),
                            "days_early": days_early,
                        }
                    )
                    evidence.extend((fill.ref, previous.ref))
        if not early:
            return ()
        early.sort(key=lambda e: str(e["date"]))
        dates = ", ".join(str(e["date"]) for e in early)
        return (
            self.finding(
                "early-refill",
                Severity.MODERATE,
                f"{len(early)} early opioid refill(s) in the last {settings.lookback_days} days"
                f" ({dates}).",
                evidence,
                {
                    "count": len(early),
                    "lookback_days": settings.lookback_days,
                    "tolerance_days": settings.tolerance_days,
                    "tolerance_percent": settings.tolerance_percent,
                    "refills": early,
                },
            ),
        )
