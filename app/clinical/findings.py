"""All findings for one patient: the registry of rules and the one `evaluate` every surface calls.

The summary page, the CDS Hooks cards and the registry all call `evaluate` with the same
`ClinicPolicy`, so they cannot disagree (docs/style.md, Layout). Shared inputs (MME total with
the drafts, supply windows, COT status, CDC IG exclusions) are computed once into a
`RuleContext`. When the patient meets an exclusion, rules marked `suppressed_when_excluded`
are skipped and a `cot-excluded` finding says why (docs/clinical-decisions.md, "Findings and
rules").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date

from app.clinical.cot import cot_status
from app.clinical.mme import total_mme
from app.clinical.model import SEVERITY_ORDER, Chart, Finding, MedicationRecord
from app.clinical.policy import ClinicPolicy
from app.clinical.rules.age import OlderAdultRule
from app.clinical.rules.base import Rule, RuleContext, draft_window
from app.clinical.rules.conditions import (
    AnxietyRule,
    DepressionRule,
    OverdoseHistoryRule,
    PtsdRule,
    SleepDisorderedBreathingRule,
)
from app.clinical.rules.coprescribing import CoprescribingRule
from app.clinical.rules.cot_definition import CotRule
from app.clinical.rules.early_refill import EarlyRefillRule
from app.clinical.rules.exclusions import CotExcludedRule, find_exclusions
from app.clinical.rules.high_mme import HighMmeRule, IncompleteMmeRule
from app.clinical.rules.long_acting import LongActingOpioidRule
from app.clinical.rules.monitoring import MonitoringOverdueRule
from app.clinical.rules.naloxone import NaloxoneRule
from app.clinical.rules.oud import OudRule, SudRule
from app.clinical.rules.overlapping_supply import OverlappingOpioidSupplyRule
from app.clinical.rules.prescribers import MultipleSourcesRule
from app.clinical.rules.uds_results import UdsUnexpectedRule
from app.clinical.supply import medication_supply_windows
from app.clinical.terminology import Terminology, load_terminology

#: Every rule, in no particular order (findings are sorted afterwards).
RULES: tuple[Rule, ...] = (
    CotExcludedRule(),
    CotRule(),
    HighMmeRule(),
    IncompleteMmeRule(),
    CoprescribingRule(),
    LongActingOpioidRule(),
    NaloxoneRule(),
    OudRule(),
    SudRule(),
    DepressionRule(),
    AnxietyRule(),
    PtsdRule(),
    SleepDisorderedBreathingRule(),
    OverdoseHistoryRule(),
    OlderAdultRule(),
    EarlyRefillRule(),
    OverlappingOpioidSupplyRule(),
    MultipleSourcesRule(),
    MonitoringOverdueRule(),
    UdsUnexpectedRule(),
)


def rules_for_hook(hook: str) -> tuple[Rule, ...]:
    """The rules that answer one CDS hook ("patient-view", "order-select", "order-sign")."""
    return tuple(rule for rule in RULES if hook in rule.hooks)


def build_context(
    chart: Chart,
    policy: ClinicPolicy,
    as_of: date,
    *,
    drafts: Sequence[MedicationRecord] = (),
    terminology: Terminology | None = None,
) -> RuleContext:
    """Compute what the rules share, once.

    A chart record with the same reference as a draft is the draft itself (some prefetches
    return the order being signed); it is dropped from the chart so it is not counted twice.
    """
    terms = terminology or load_terminology()
    draft_refs = {d.ref for d in drafts}
    if draft_refs & {m.ref for m in chart.medications}:
        kept = tuple(m for m in chart.medications if m.ref not in draft_refs)
        chart = dataclasses.replace(chart, medications=kept)
    windows = medication_supply_windows(chart.medications, terminology=terms)
    windows += tuple(draft_window(d, as_of, terminology=terms) for d in drafts)
    mme = total_mme(
        chart.medications,
        as_of=as_of,
        edition=policy.mme.edition,
        drafts=tuple(drafts),
        terminology=terms,
        outside_2022_table=policy.mme.outside_2022_table,
    )
    return RuleContext(
        chart=chart,
        policy=policy,
        as_of=as_of,
        mme=mme,
        cot=cot_status(chart, policy, as_of),
        drafts=tuple(drafts),
        windows=windows,
        exclusions=find_exclusions(chart, policy, as_of, terminology=terms),
        records_by_ref={m.ref: m for m in (*chart.medications, *drafts)},
        terminology=terms,
    )


def sort_findings(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """Most urgent first, then by code; ties keep rule order (sorting is stable)."""
    return tuple(sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.code)))


def evaluate_context(ctx: RuleContext, rules: Sequence[Rule] = RULES) -> tuple[Finding, ...]:
    """Run rules on a prepared context, skipping suppressed ones, and sort the findings."""
    findings: list[Finding] = []
    for rule in rules:
        if ctx.excluded and rule.suppressed_when_excluded:
            continue
        findings.extend(rule.evaluate(ctx))
    return sort_findings(findings)


def evaluate(
    chart: Chart,
    policy: ClinicPolicy,
    as_of: date,
    *,
    drafts: Sequence[MedicationRecord] = (),
    terminology: Terminology | None = None,
) -> tuple[Finding, ...]:
    """Every finding for one patient at `as_of`, most urgent first.

    Args:
        chart: the patient's record.
        policy: the clinic policy in force.
        as_of: the date of evaluation.
        drafts: unsigned orders in a CDS call; they count as active from `as_of`.
        terminology: defaults to the vendored terminology.

    Returns:
        Findings sorted by severity, then code.
    """
    ctx = build_context(chart, policy, as_of, drafts=drafts, terminology=terminology)
    return evaluate_context(ctx)
