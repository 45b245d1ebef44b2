"""naloxone-not-on-record: at-risk patients without naloxone."""

import pytest

from app.clinical.model import Chart, ConditionGroup, DrugClass, MedicationKind, Severity
from app.clinical.rules.naloxone import NALOXONE_LOOKBACK_DAYS, NaloxoneRule
from tests.unit.clinical._rules_factory import (
    AS_OF,
    PATIENT,
    condition,
    context,
    days_before,
    med,
    mme_line,
    mme_total,
    opioid,
)

OXY = opioid("MedicationRequest/oxy", days_before(10), 30)


def _ctx(total_mme, *records, conditions=(), drafts=()):
    chart = Chart(patient=PATIENT, medications=(OXY, *records), conditions=tuple(conditions))
    lines = (mme_line(OXY.ref, total_mme),)
    return context(chart, mme=mme_total(total_mme, lines=lines), drafts=tuple(drafts))


@pytest.mark.parametrize(
    ("total_mme", "alerts"),
    [
        pytest.param(49.9, False, id="49.9-not-at-risk"),
        pytest.param(50.0, True, id="50-at-risk"),
        pytest.param(120.0, True, id="120-at-risk"),
    ],
)
def test_mme_at_or_above_policy_level_without_naloxone_alerts(total_mme, alerts):
    findings = NaloxoneRule().evaluate(_ctx(total_mme))
    assert bool(findings) is alerts
    if alerts:
        assert findings[0].severity is Severity.MODERATE
        assert findings[0].data["risk_factors"] == [f"{total_mme:.1f} MME/day"]
        assert OXY.ref in findings[0].evidence


def test_benzodiazepine_overlap_is_a_risk_factor_at_low_mme():
    benzo = med("MedicationRequest/benzo", DrugClass.BENZODIAZEPINE, days_before(5), 30)
    (finding,) = NaloxoneRule().evaluate(_ctx(20.0, benzo))
    assert finding.data["risk_factors"] == ["opioid with benzodiazepine"]
    assert "MedicationRequest/benzo" in finding.evidence


@pytest.mark.parametrize(
    ("group", "phrase"),
    [
        pytest.param(ConditionGroup.OUD, "opioid use disorder", id="oud"),
        pytest.param(ConditionGroup.SUD, "substance use disorder", id="sud"),
    ],
)
def test_substance_use_disorder_is_a_risk_factor(group, phrase):
    (finding,) = NaloxoneRule().evaluate(_ctx(10.0, conditions=[condition("Condition/c", group)]))
    assert finding.data["risk_factors"] == [phrase]
    assert finding.evidence[-1] == "Condition/c"


def test_overdose_history_is_a_risk_factor_without_any_opioid():
    od = condition("Condition/od", ConditionGroup.OVERDOSE, clinical_status="resolved")
    chart = Chart(patient=PATIENT, conditions=(od,))
    (finding,) = NaloxoneRule().evaluate(context(chart))
    assert finding.data["risk_factors"] == ["overdose history"]


def test_low_dose_without_other_risk_gives_nothing():
    assert NaloxoneRule().evaluate(_ctx(30.0)) == ()


@pytest.mark.parametrize(
    ("days_ago", "status", "alerts"),
    [
        pytest.param(NALOXONE_LOOKBACK_DAYS, "completed", False, id="730-days-counts"),
        pytest.param(NALOXONE_LOOKBACK_DAYS + 1, "completed", True, id="731-days-too-old"),
        pytest.param(100, "stopped", False, id="stopped-still-on-record"),
        pytest.param(100, "entered-in-error", True, id="entered-in-error-ignored"),
    ],
)
def test_naloxone_on_record_silences_the_alert(days_ago, status, alerts):
    nalox = med("MedicationRequest/nalox", DrugClass.NALOXONE, days_before(days_ago), status=status)
    assert bool(NaloxoneRule().evaluate(_ctx(90.0, nalox))) is alerts


def test_naloxone_dispense_counts():

    nalox = med(
        "MedicationDispense/nd", DrugClass.NALOXONE, days_before(40), kind=MedicationKind.DISPENSE
    )
    assert NaloxoneRule().evaluate(_ctx(90.0, nalox)) == ()


def test_naloxone_draft_in_this_call_silences_the_alert():
    draft = med("MedicationRequest/nd", DrugClass.NALOXONE, AS_OF, status="draft")
    assert NaloxoneRule().evaluate(_ctx(90.0, drafts=[draft])) == ()


def test_undated_active_naloxone_counts_but_undated_completed_does_not():
    active = med("MedicationRequest/n", DrugClass.NALOXONE, None, status="active")
    done = med("MedicationRequest/n", DrugClass.NALOXONE, None, status="completed")
    assert NaloxoneRule().evaluate(_ctx(90.0, active)) == ()
    assert NaloxoneRule().evaluate(_ctx(90.0, done)) != ()
