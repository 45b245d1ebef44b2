"""Substance use disorders: `oud-diagnosis`, `oud-without-moud`, `sud-diagnosis`.

CDC 2022 Recommendation 12: offer or arrange treatment with medications for opioid use
disorder (buprenorphine, methadone) for patients with OUD. Recommendation 8 counts any substance
use disorder as a risk factor. OUD codes are a subset of SUD codes (ConditionGroup.SUD includes
OUD), so `sud-diagnosis` is given only for substance use disorders that are not OUD. MOUD on
record: buprenorphine or methadone for OUD, or naltrexone, in any record that is not void
(entered-in-error, cancelled) and is active, a draft in this call, or dated within
`MOUD_LOOKBACK_DAYS`.
"""

from __future__ import annotations

from datetime import timedelta

from app.clinical.citations import REC_8_RISK, REC_12_OUD
from app.clinical.model import ConditionGroup, DrugClass, Finding, MedicationRecord, Severity
from app.clinical.rules.base import VOID_STATUSES, Rule, RuleContext, record_date

MOUD_LOOKBACK_DAYS = 90
_MOUD_CLASSES = frozenset({DrugClass.BUPRENORPHINE_MOUD, DrugClass.METHADONE_MOUD})


def _is_moud(record: MedicationRecord) -> bool:
    if record.classification.classes & _MOUD_CLASSES:
        return True
    names = (*record.classification.ingredients, record.text or "")
    return any("naltrexone" in name.lower() for name in names)


def moud_on_record(ctx: RuleContext) -> tuple[str, ...]:
    """References of MOUD records that count as current treatment."""
    since = ctx.as_of - timedelta(days=MOUD_LOOKBACK_DAYS)
    refs = []
    for record in ctx.medications:
        if not _is_moud(record) or record.status in VOID_STATUSES:
            continue
        day = record_date(record)
        recent = day is not None and since <= day <= ctx.as_of
        if record.ref in ctx.draft_refs or record.status == "active" or recent:
            refs.append(record.ref)
    return tuple(refs)


class OudRule(Rule):
    id = "oud"
    title = "Opioid use disorder"
    citation = REC_12_OUD
    codes = ("oud-diagnosis", "oud-without-moud")
    suppressed_when_excluded = False

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        oud = ctx.active_conditions(ConditionGroup.OUD)
        if not oud:
            return ()
        refs = [c.ref for c in oud]
        findings = [
            self.finding(
                "oud-diagnosis",
                Severity.MODERATE,
                "Active opioid use disorder on record.",
                refs,
                {"conditions": [c.text for c in oud]},
            )
        ]
        moud = moud_on_record(ctx)
        if not moud:
            findings.append(
                self.finding(
                    "oud-without-moud",
                    Severity.HIGH,
                    "Opioid use disorder with no buprenorphine, methadone or naltrexone on record;"
                    " offer or arrange treatment.",
                    refs,
                    {"lookback_days": MOUD_LOOKBACK_DAYS},
                )
            )
        return tuple(findings)


class SudRule(Rule):
    id = "sud-diagnosis"
    title = "Substance use disorder"
    citation = REC_8_RISK
    codes = ("sud-diagnosis",)
    suppressed_when_excluded = False

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        sud = [
            c
            for c in ctx.active_conditions(ConditionGroup.SUD)
            if ConditionGroup.OUD not in c.groups
        ]
        if not sud:
            return ()
        return (
            self.finding(
                "sud-diagnosis",
                Severity.LOW,
                "Active substance use disorder on record, a risk factor for overdose.",
                [c.ref for c in sud],
                {"conditions": [c.text for c in sud]},
            ),
        )
