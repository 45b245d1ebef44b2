"""`multiple-opioid-prescribers` and `multiple-pharmacies`: opioids from many sources.

CDC 2022 Recommendation 9: review the PDMP for opioids from multiple prescribers or
pharmacies; Six Building Blocks 2 asks for one prescriber per COT patient. Counted over
`prescribers.lookback_days` before `as_of`, a count at or above the policy maximum triggers.
Prescribers come from opioid prescriptions (drafts included, authored date, else validity
start) and from dispenses whose prescription is not in the chart; pharmacies from opioid
dispenses only, so a chart without dispense data never gets `multiple-pharmacies`. Records with
no prescriber or pharmacy are listed in `data`, not guessed.
"""

from __future__ import annotations

from datetime import timedelta

from app.clinical.citations import REC_9_PDMP
from app.clinical.model import Finding, MedicationKind, MedicationRecord, Severity
from app.clinical.rules.base import VOID_STATUSES, Rule, RuleContext, record_date


def _recent_opioid_records(ctx: RuleContext) -> list[MedicationRecord]:
    since = ctx.as_of - timedelta(days=ctx.policy.prescribers.lookback_days)
    found = []
    for record in ctx.medications:
        if not record.classification.is_opioid or record.status in VOID_STATUSES:
            continue
        day = ctx.as_of if record.ref in ctx.draft_refs else record_date(record)
        if day is not None and since <= day <= ctx.as_of:
            found.append(record)
    return found


class MultipleSourcesRule(Rule):
    id = "multiple-sources"
    title = "Opioids from multiple prescribers or pharmacies"
    citation = REC_9_PDMP
    codes = ("multiple-opioid-prescribers", "multiple-pharmacies")

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        settings = ctx.policy.prescribers
        records = _recent_opioid_records(ctx)
        known_refs = {r.ref for r in ctx.chart.medications}
        prescribers: dict[str, list[str]] = {}
        pharmacies: dict[str, list[str]] = {}
        unknown_prescriber: list[str] = []
        unknown_pharmacy: list[str] = []
        for record in records:
            if record.kind is MedicationKind.DISPENSE:
                key = record.pharmacy
                (pharmacies.setdefault(key, []) if key else unknown_pharmacy).append(record.ref)
                if record.authorizing_prescription in known_refs:
                    continue
            elif record.kind is MedicationKind.STATEMENT:
                continue
            key = record.prescriber or record.prescriber_display
            (prescribers.setdefault(key, []) if key else unknown_prescriber).append(record.ref)
        findings = []
        common = {"lookback_days": settings.lookback_days}
        if len(prescribers) >= settings.max_prescribers:
            findings.append(
                self.finding(
                    "multiple-opioid-prescribers",
                    Severity.MODERATE,
                    f"Opioids from {len(prescribers)} prescribers in the last"
                    f" {settings.lookback_days} days.",
                    [ref for refs in prescribers.values() for ref in refs],
                    common
                    | {
                        "count": len(prescribers),
                        "prescribers": sorted(prescribers),
                        "unknown_prescriber_refs": unknown_prescriber,
                    },
                )
            )
        if len(pharmacies) >= settings.max_pharmacies:
            findings.append(
                self.finding(
                    "multiple-pharmacies",
                    Severity.MODERATE,
                    f"Opioids dispensed by {len(pharmacies)} pharmacies in the last"
                    f" {settings.lookback_days} days.",
                    [ref for refs in pharmacies.values() for ref in refs],
                    common
                    | {
                        "count": len(pharmacies),
                        "pharmacies": sorted(pharmacies),
                        "unknown_pharmacy_refs": unknown_pharmacy,
                    },
                )
            )
        return tuple(findings)
