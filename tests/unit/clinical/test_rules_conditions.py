"""Risk flags from conditions: depression, anxiety, PTSD, sleep-disordered breathing, overdose."""

from datetime import date

import pytest

from app.clinical.model import Chart, ConditionGroup, Severity
from app.clinical.rules.conditions import (
    AnxietyRule,
    DepressionRule,
    OverdoseHistoryRule,
    PtsdRule,
    SleepDisorderedBreathingRule,
)
from tests.unit.clinical._rules_factory import PATIENT, condition, context

FLAG_RULES = [
    pytest.param(DepressionRule(), ConditionGroup.DEPRESSION, id="depression"),
    pytest.param(AnxietyRule(), ConditionGroup.ANXIETY, id="anxiety"),
    pytest.param(PtsdRule(), ConditionGroup.PTSD, id="ptsd"),
    pytest.param(
        SleepDisorderedBreathingRule(),
        ConditionGroup.SLEEP_DISORDERED_BREATHING,
        id="sleep-disordered-breathing",
    ),
]


@pytest.mark.parametrize(("rule", "group"), FLAG_RULES)
def test_active_condition_in_group_is_flagged_with_its_reference(rule, group):
    chart = Chart(patient=PATIENT, conditions=(condition("Condition/c1", group),))
    (finding,) = rule.evaluate(context(chart))
    assert finding.code == rule.id
    assert finding.severity is Severity.LOW
    assert finding.evidence == ("Condition/c1",)
    assert finding.citation.label.startswith("CDC 2022 Recommendation 8")


@pytest.mark.parametrize(("rule", "group"), FLAG_RULES)
@pytest.mark.parametrize(
    ("clinical", "verification"),
    [
        pytest.param("resolved", None, id="resolved"),
        pytest.param("inactive", None, id="inactive"),
        pytest.param("active", "refuted", id="refuted"),
        pytest.param("active", "entered-in-error", id="entered-in-error"),
    ],
)
def test_condition_that_is_not_active_is_not_flagged(rule, group, clinical, verification):
    record = condition(
        "Condition/c1", group, clinical_status=clinical, verification_status=verification
    )
    assert rule.evaluate(context(Chart(patient=PATIENT, conditions=(record,)))) == ()


def test_condition_of_another_group_is_not_flagged():
    chart = Chart(patient=PATIENT, conditions=(condition("Condition/c1", ConditionGroup.ANXIETY),))
    assert DepressionRule().evaluate(context(chart)) == ()


def test_overdose_history_counts_resolved_overdoses_and_names_the_latest():
    chart = Chart(
        patient=PATIENT,
        conditions=(
            condition(
                "Condition/od1",
                ConditionGroup.OVERDOSE,
                clinical_status="resolved",
                onset=date(2023, 2, 1),
            ),
            condition(
                "Condition/od2",
                ConditionGroup.OVERDOSE,
                clinical_status="resolved",
                onset=date(2025, 6, 9),
            ),
        ),
    )
    (finding,) = OverdoseHistoryRule().evaluate(context(chart))
    assert finding.code == "overdose-history"
    assert finding.severity is Severity.MODERATE
    assert finding.data["count"] == 2
    assert finding.data["latest"] == "2025-06-09"
    assert finding.evidence == ("Condition/od1", "Condition/od2")


def test_refuted_overdose_is_not_history():
    record = condition(
        "Condition/od1",
        ConditionGroup.OVERDOSE,
        clinical_status="resolved",
        verification_status="refuted",
    )
    assert OverdoseHistoryRule().evaluate(context(Chart(conditions=(record,)))) == ()
