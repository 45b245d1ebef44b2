"""uds-unexpected: screens with unexplained substances or prescribed opioids not found."""

import pytest

from app.clinical.model import LOINC, SNOMED, Chart, Code, ObservationRecord, Severity
from app.clinical.rules.uds_results import UdsUnexpectedRule
from tests.unit.clinical._rules_factory import PATIENT, context, days_before, opioid

COCAINE_TEST = Code(LOINC, "13479-1")
OXYCODONE_TEST = Code(LOINC, "10998-3")
POSITIVE = Code(SNOMED, "10828004")
NEGATIVE = Code(SNOMED, "260385009")


def _uds(ref, test, result, days_ago):
    return ObservationRecord(
        ref=ref,
        codes=(test,),
        status="final",
        categories=("laboratory",),
        effective=days_before(days_ago),
        value_codes=(result,),
    )


def _ctx(*observations, medications=()):
    return context(Chart(patient=PATIENT, observations=observations, medications=medications))


def test_unexplained_positive_result_is_named():
    (finding,) = UdsUnexpectedRule().evaluate(
        _ctx(_uds("Observation/u1", COCAINE_TEST, POSITIVE, 30))
    )
    assert finding.code == "uds-unexpected"
    assert finding.severity is Severity.MODERATE
    assert finding.data["unexpected_found"] == ["cocaine"]
    assert finding.data["date"] == days_before(30).isoformat()
    assert "Observation/u1" in finding.evidence
    assert "unexpected cocaine" in finding.text
    assert "Recommendation 10" in finding.citation.label


def test_negative_result_without_prescription_is_expected():
    assert (
        UdsUnexpectedRule().evaluate(_ctx(_uds("Observation/u1", COCAINE_TEST, NEGATIVE, 30))) == ()
    )


def test_prescribed_oxycodone_not_detected_is_named():
    oxy = opioid("MedicationRequest/oxy", days_before(40), 30)  # covers day -30
    obs = _uds("Observation/u2", OXYCODONE_TEST, NEGATIVE, 30)
    (finding,) = UdsUnexpectedRule().evaluate(_ctx(obs, medications=(oxy,)))
    assert finding.data["expected_missing"] == ["oxycodone"]
    assert "prescribed but not detected oxycodone" in finding.text


@pytest.mark.parametrize(
    ("days_ago", "found"),
    [pytest.param(364, True, id="in-uds-interval"), pytest.param(365, False, id="out-of-interval")],
)
def test_results_older_than_the_policy_uds_interval_are_not_reported(days_ago, found):
    # uds.evaluate_uds looks back 365 days ending on and including as_of: days 0 .. -364.
    obs = _uds("Observation/u1", COCAINE_TEST, POSITIVE, days_ago)
    assert bool(UdsUnexpectedRule().evaluate(_ctx(obs))) is found
