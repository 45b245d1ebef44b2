"""findings.evaluate: the whole rule set on one chart, sorting, suppression, drafts, registry."""

from dataclasses import replace
from datetime import date, timedelta

import pytest

from app.clinical.citations import ALL_CITATIONS
from app.clinical.findings import RULES, build_context, evaluate, rules_for_hook, sort_findings
from app.clinical.model import (
    RXNORM,
    SEVERITY_ORDER,
    Chart,
    Citation,
    Code,
    ConditionGroup,
    DoseInstruction,
    Finding,
    MedicationKind,
    MedicationRecord,
    PatientInfo,
    Quantity,
    Severity,
)
from app.clinical.policy import default_policy
from app.clinical.terminology import load_terminology
from tests.unit.clinical._rules_factory import AS_OF, codes, condition

OXYCODONE_10 = "1049683"  # oxycodone hydrochloride 10 MG Oral Tablet: 40 mg/day QID = 60 MME
OXYCODONE_5 = "1049621"  # oxycodone hydrochloride 5 MG Oral Tablet: 20 mg/day QID = 30 MME
ALPRAZOLAM = "308047"
PATIENT = PatientInfo(ref="Patient/p1", birth_date=date(1958, 3, 2))  # 68 at AS_OF


def _rx(ref, rxcui, start, *, days=30, per_day=4, status="active", prescriber="Practitioner/a"):
    codes_ = (Code(RXNORM, rxcui),)
    return MedicationRecord(
        ref=ref,
        kind=MedicationKind.REQUEST,
        codes=codes_,
        classification=load_terminology().classify_medication(codes_),
        status=status,
        intent="order",
        authored_on=start,
        dosages=(
            DoseInstruction(
                dose=Quantity(1, "tablet"), frequency=per_day, period=1, period_unit="d"
            ),
        ),
        expected_supply_days=days,
        dispense_quantity=Quantity(per_day * days, "tablet"),
        prescriber=prescriber,
    )


def _day(days_ago):
    return AS_OF - timedelta(days=days_ago)


# Monthly oxycodone covering days -85 .. +4 (COT), with alprazolam and depression.
COT_CHART = Chart(
    patient=PATIENT,
    medications=(
        _rx("MedicationRequest/oxy1", OXYCODONE_10, _day(85), status="completed"),
        _rx("MedicationRequest/oxy2", OXYCODONE_10, _day(55), status="completed"),
        _rx("MedicationRequest/oxy3", OXYCODONE_10, _day(25)),
        _rx("MedicationRequest/alp", ALPRAZOLAM, _day(10), per_day=2),
    ),
    conditions=(condition("Condition/dep", ConditionGroup.DEPRESSION),),
)
SUPPRESSED = {code for rule in RULES if rule.suppressed_when_excluded for code in rule.codes}


def test_cot_chart_gives_the_expected_findings_most_urgent_first():
    findings = evaluate(COT_CHART, default_policy(), AS_OF)
    assert codes(findings) == [
        "mme-at-or-above-threshold",
        "naloxone-not-on-record",
        "opioid-benzo-coprescribing",
        "age-65-or-older",
        "agreement-overdue",
        "depression",
        "opioid-visit-overdue",
        "pdmp-check-overdue",
        "peg-overdue",
        "phq9-overdue",
        "uds-overdue",
        "cot",
    ]
    mme = findings[0]
    assert mme.data["threshold_mme"] == 50.0
    assert mme.data["total_mme"] == 60.0
    assert mme.evidence == ("MedicationRequest/oxy3",)


def test_findings_are_sorted_by_severity_then_code():
    findings = evaluate(COT_CHART, default_policy(), AS_OF)
    keys = [(SEVERITY_ORDER[f.severity], f.code) for f in findings]
    assert keys == sorted(keys)


def test_sort_findings_orders_severity_before_code():
    citation = Citation("x", "https://example.org")
    unsorted = [
        Finding("a-info", Severity.INFO, "t", citation),
        Finding("z-high", Severity.HIGH, "t", citation),
        Finding("b-low", Severity.LOW, "t", citation),
        Finding("a-high", Severity.HIGH, "t", citation),
    ]
    assert codes(sort_findings(unsorted)) == ["a-high", "z-high", "b-low", "a-info"]


def test_every_finding_carries_a_known_citation_and_evidence():
    chart = replace(
        COT_CHART,
        conditions=(
            *COT_CHART.conditions,
            condition("Condition/oud", ConditionGroup.OUD, ConditionGroup.SUD),
            condition("Condition/od", ConditionGroup.OVERDOSE, clinical_status="resolved"),
        ),
    )
    findings = evaluate(chart, default_policy(), AS_OF)
    assert len(findings) >= 14
    for finding in findings:
        assert finding.citation in ALL_CITATIONS, finding.code
        assert finding.citation.url.startswith("https://"), finding.code
        assert finding.evidence, finding.code
        assert finding.text.endswith("."), finding.code


EXCLUDING = [
    pytest.param(
        {"patient": PatientInfo(ref="Patient/p1", birth_date=date(2010, 1, 1))}, "age", id="age"
    ),
    pytest.param({"group": ConditionGroup.CANCER}, "cancer", id="cancer"),
    pytest.param({"group": ConditionGroup.HOSPICE}, "hospice", id="hospice"),
    pytest.param({"group": ConditionGroup.TERMINAL}, "end-of-life", id="terminal"),
    pytest.param({"group": ConditionGroup.SICKLE_CELL}, "sickle-cell", id="sickle-cell"),
]


@pytest.mark.parametrize(("change", "exclusion"), EXCLUDING)
def test_each_exclusion_suppresses_the_cot_safety_rules(change, exclusion):
    before = set(codes(evaluate(COT_CHART, default_policy(), AS_OF)))
    assert before & SUPPRESSED  # there is something to suppress
    if "group" in change:
        extra = condition("Condition/excl", change["group"])
        chart = replace(COT_CHART, conditions=(*COT_CHART.conditions, extra))
    else:
        chart = replace(COT_CHART, patient=change["patient"])
    findings = evaluate(chart, default_policy(), AS_OF)
    after = set(codes(findings))
    assert not after & SUPPRESSED
    assert {"cot-excluded", "cot", "depression"} <= after
    excluded = next(f for f in findings if f.code == "cot-excluded")
    assert excluded.data["exclusions"] == [exclusion]


def test_draft_order_counts_toward_mme_and_is_an_early_refill():
    draft = _rx("MedicationRequest/new", OXYCODONE_5, AS_OF, status="draft")
    findings = evaluate(COT_CHART, default_policy(), AS_OF, drafts=(draft,))
    thresholds = [f for f in findings if f.code == "mme-at-or-above-threshold"]
    assert [f.data["threshold_mme"] for f in thresholds] == [90.0, 50.0]
    assert thresholds[0].severity is Severity.HIGH  # 90, sorted first
    assert thresholds[0].data["total_mme"] == 90.0
    assert thresholds[0].data["drafts_included"] == ["MedicationRequest/new"]
    early = next(f for f in findings if f.code == "early-refill")
    assert early.data["refills"][0]["ref"] == "MedicationRequest/new"
    assert early.data["refills"][0]["days_early"] == 5


def test_draft_also_present_in_the_chart_is_counted_once():
    draft = _rx("MedicationRequest/new", OXYCODONE_5, AS_OF, status="draft")
    echoed = replace(draft, status="active")
    chart = replace(COT_CHART, medications=(*COT_CHART.medications, echoed))
    ctx = build_context(chart, default_policy(), AS_OF, drafts=(draft,))
    assert ctx.mme.total_mme == 90.0
    assert [w.ref for w in ctx.windows].count("MedicationRequest/new") == 1


def test_patient_without_medications_gets_no_opioid_findings():
    chart = Chart(patient=PatientInfo(ref="Patient/p2", birth_date=date(1990, 1, 1)))
    assert evaluate(chart, default_policy(), AS_OF) == ()


def test_rule_ids_and_finding_codes_are_unique_kebab_case():
    ids = [rule.id for rule in RULES]
    all_codes = [code for rule in RULES for code in rule.codes]
    assert len(ids) == len(set(ids))
    assert len(all_codes) == len(set(all_codes))
    for code in ids + all_codes:
        assert code == code.lower() and " " not in code and "_" not in code


def test_rules_for_hook_selects_by_hook():
    assert rules_for_hook("patient-view") == RULES
    order_sign = {rule.id for rule in rules_for_hook("order-sign")}
    assert "cot" not in order_sign
    assert {"coprescribing", "mme-at-or-above-threshold", "naloxone-not-on-record"} <= order_sign
