"""`naloxone-not-on-record`: a patient at risk of overdose has no naloxone on record.

CDC 2022 Recommendation 8: offer naloxone when factors raise the risk of overdose, such as a
dosage of 50 MME/day or more, concurrent benzodiazepine or other sedative use, a substance use
disorder or a history of overdose. At risk here means: an opioid (or MOUD) active at `as_of` and
total MME at or above `policy.naloxone.at_risk_mme`, or a sedative overlap (see
`coprescribing`); or, with or without an active opioid, an active SUD/OUD or an overdose on
record. Naloxone or nalmefene counts as on record when any record of it, in any status except
entered-in-error, is dated within `NALOXONE_LOOKBACK_DAYS`, or is undated but active; a
naloxone draft in the same CDS call counts (the prescriber is ordering it).
"""

from __future__ import annotations

from datetime import timedelta

from app.clinical.citations import REC_8_RISK
from app.clinical.model import ConditionGroup, DrugClass, Finding, Severity
from app.clinical.rules.base import Rule, RuleContext, record_date
from app.clinical.rules.coprescribing import sedative_overlaps

#: Rescue naloxone older than two years is likely expired or used.
NALOXONE_LOOKBACK_DAYS = 730
_ALL_OPIOIDS = frozenset(
    {
        DrugClass.OPIOID_ANALGESIC,
        DrugClass.BUPRENORPHINE_PAIN,
        DrugClass.BUPRENORPHINE_MOUD,
        DrugClass.METHADONE_MOUD,
    }
)


def naloxone_on_record(ctx: RuleContext) -> tuple[str, ...]:
    """References of naloxone records that count as the patient having naloxone."""
    since = ctx.as_of - timedelta(days=NALOXONE_LOOKBACK_DAYS)
    refs = []
    for record in ctx.medications:
        if DrugClass.NALOXONE not in record.classification.classes or record.entered_in_error:
            continue
        day = record_date(record)
        if record.ref in ctx.draft_refs or (day is None and record.status == "active"):
            refs.append(record.ref)
        elif day is not None and since <= day <= ctx.as_of:
            refs.append(record.ref)
    return tuple(refs)


def overdose_risk_factors(ctx: RuleContext) -> tuple[list[str], list[str]]:
    """Risk factors present (short phrases) and the references they rest on."""
    factors: list[str] = []
    evidence: list[str] = []
    on_opioid = bool(ctx.windows_at(_ALL_OPIOIDS, ctx.as_of)) or bool(ctx.mme.lines)
    if on_opioid and ctx.mme.total_mme >= ctx.policy.naloxone.at_risk_mme:
        factors.append(f"{ctx.mme.total_mme:.1f} MME/day")
        evidence.extend(line.ref for line in ctx.mme.lines)
    overlaps = sedative_overlaps(ctx)
    if overlaps:
        factors.append("opioid with " + ", ".join(str(o.classes[0]) for o in overlaps))
        evidence.extend(ref for o in overlaps for ref in o.refs)
    oud = ctx.active_conditions(ConditionGroup.OUD)
    sud = oud + ctx.active_conditions(ConditionGroup.SUD)
    if sud:
        factors.append("opioid use disorder" if oud else "substance use disorder")
        evidence.extend(c.ref for c in sud)
    overdoses = [
        c
        for c in ctx.chart.conditions
        if ConditionGroup.OVERDOSE in c.groups
        and c.verification_status not in {"refuted", "entered-in-error"}
    ]
    if overdoses:
        factors.append("overdose history")
        evidence.extend(c.ref for c in overdoses)
    return factors, evidence


class NaloxoneRule(Rule):
    id = "naloxone-not-on-record"
    title = "Naloxone not on record"
    citation = REC_8_RISK
    codes = ("naloxone-not-on-record",)

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        factors, evidence = overdose_risk_factors(ctx)
        if not factors or naloxone_on_record(ctx):
            return ()
        return (
            self.finding(
                "naloxone-not-on-record",
                Severity.MODERATE,
                f"No naloxone on record for a patient at risk of overdose ({'; '.join(factors)}).",
                evidence,
                {
                    "risk_factors": factors,
                    "total_mme": round(ctx.mme.total_mme, 1),
                    "lookback_days": NALOXONE_LOOKBACK_DAYS,
                },
            ),
        )
