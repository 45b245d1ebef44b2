"""oud-diagnosis, oud-without-moud, sud-diagnosis."""

import pytest

from app.clinical.model import Chart, ConditionGroup, DrugClass, Severity
from app.clinical.rules.oud import MOUD_LOOKBACK_DAYS, OudRule, SudRule
from tests.unit.clinical._rules_factory import (
    AS_OF,
    PATIENT,
    codes,
    condition,
    context,
    days_before,
    med,
)

OUD = condition("Condition/oud", ConditionGroup.OUD, ConditionGroup.SUD)


def _oud_chart(*medications):
    return Chart(patient=PATIENT, conditions=(OUD,), medications=tuple(medications))


def test_oud_without_any_moud_gives_both_findings():
    findings = OudRule().evaluate(context(_oud_chart()))
    assert codes(findings) == ["oud-diagnosis", "oud-without-moud"]
    assert findings[1].severity is Severity.HIGH
    assert findings[1].evidence == ("Condition/oud",)
    assert "Recommendation 12" in findings[1].citation.label


@pytest.mark.parametrize(
    ("drug_class", "ingredient"),
    [
        pytest.param(DrugClass.BUPRENORPHINE_MOUD, None, id="buprenorphine"),
        pytest.param(DrugClass.METHADONE_MOUD, None, id="methadone"),
        pytest.param(DrugClass.OTHER_CNS_DEPRESSANT, "naltrexone", id="naltrexone"),
    ],
)
def test_recent_moud_on_record_silences_oud_without_moud(drug_class, ingredient):
    moud = med(
        "MedicationRequest/m",
        drug_class,
        days_before(20),
        ingredient=ingredient,
        status="completed",
    )
    assert codes(OudRule().evaluate(context(_oud_chart(moud)))) == ["oud-diagnosis"]


@pytest.mark.parametrize(
    ("days_ago", "expected"),
    [
        pytest.param(MOUD_LOOKBACK_DAYS, ["oud-diagnosis"], id="day-90-counts"),
        pytest.param(
            MOUD_LOOKBACK_DAYS + 1, ["oud-diagnosis", "oud-without-moud"], id="day-91-old"
        ),
    ],
)
def test_completed_moud_counts_only_within_lookback(days_ago, expected):
    moud = med(
        "MedicationRequest/m",
        DrugClass.BUPRENORPHINE_MOUD,
        days_before(days_ago),
        status="completed",
    )
    assert codes(OudRule().evaluate(context(_oud_chart(moud)))) == expected


def test_active_moud_counts_whatever_its_date():
    moud = med(
        "MedicationRequest/m", DrugClass.BUPRENORPHINE_MOUD, days_before(400), status="active"
    )
    assert codes(OudRule().evaluate(context(_oud_chart(moud)))) == ["oud-diagnosis"]


def test_moud_entered_in_error_does_not_count():
    moud = med(
        "MedicationRequest/m",
        DrugClass.BUPRENORPHINE_MOUD,
        days_before(5),
        status="entered-in-error",
    )
    assert "oud-without-moud" in codes(OudRule().evaluate(context(_oud_chart(moud))))


def test_moud_draft_in_this_call_counts():
    draft = med("MedicationRequest/d", DrugClass.BUPRENORPHINE_MOUD, AS_OF, status="draft")
    ctx = context(_oud_chart(), drafts=(draft,))
    assert codes(OudRule().evaluate(ctx)) == ["oud-diagnosis"]


def test_buprenorphine_for_pain_is_not_moud():
    patch = med("MedicationRequest/p", DrugClass.BUPRENORPHINE_PAIN, days_before(5))
    assert "oud-without-moud" in codes(OudRule().evaluate(context(_oud_chart(patch))))


def test_resolved_oud_gives_nothing():
    resolved = condition("Condition/oud", ConditionGroup.OUD, clinical_status="resolved")
    assert OudRule().evaluate(context(Chart(conditions=(resolved,)))) == ()


def test_sud_that_is_not_oud_gives_sud_diagnosis():
    alcohol = condition("Condition/aud", ConditionGroup.SUD)
    (finding,) = SudRule().evaluate(context(Chart(conditions=(alcohol,))))
    assert finding.code == "sud-diagnosis"
    assert finding.evidence == ("Condition/aud",)


def test_oud_alone_does_not_also_give_sud_diagnosis():
    assert SudRule().evaluate(context(Chart(conditions=(OUD,)))) == ()
