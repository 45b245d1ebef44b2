"""cot: the info finding for patients who meet the clinic's COT definition."""

from app.clinical.cot import CotStatus
from app.clinical.model import Severity
from app.clinical.rules.cot_definition import CotRule
from tests.unit.clinical._rules_factory import context


def _status(is_cot: bool) -> CotStatus:
    return CotStatus(
        is_cot=is_cot,
        days_supplied=75 if is_cot else 20,
        lookback_days=90,
        definition="days-supplied",
        evidence=("MedicationDispense/d1", "MedicationDispense/d2"),
        reason="75 of 90 days supplied.",
    )


def test_cot_patient_gets_an_info_finding_with_days_supplied():
    (finding,) = CotRule().evaluate(context(cot_status=_status(True)))
    assert finding.code == "cot"
    assert finding.severity is Severity.INFO
    assert finding.text == "On chronic opioid therapy: 75 days supplied in the last 90 days."
    assert finding.evidence == ("MedicationDispense/d1", "MedicationDispense/d2")
    assert finding.data["days_supplied"] == 75
    assert finding.data["definition"] == "days-supplied"


def test_patient_not_on_cot_gets_nothing():
    assert CotRule().evaluate(context(cot_status=_status(False))) == ()
