"""mme-at-or-above-threshold and mme-incomplete."""

import pytest

from app.clinical.model import Chart, Severity
from app.clinical.policy import parse_policy
from app.clinical.rules.high_mme import HighMmeRule, IncompleteMmeRule
from tests.unit.clinical._rules_factory import PATIENT, context, mme_line, mme_total

LINE = mme_line("MedicationRequest/oxy", 0.0)


def _ctx(total, *, complete=True, lines=(LINE,), policy=None):
    return context(
        Chart(patient=PATIENT), mme=mme_total(total, complete=complete, lines=lines), policy=policy
    )


@pytest.mark.parametrize(
    ("total", "thresholds"),
    [
        pytest.param(49.9, [], id="49.9-none"),
        pytest.param(49.99999, [], id="49.99999-unrounded-none"),
        pytest.param(50.0, [50.0], id="50-first"),
        pytest.param(89.9, [50.0], id="89.9-first-only"),
        pytest.param(90.0, [50.0, 90.0], id="90-both"),
        pytest.param(240.0, [50.0, 90.0], id="240-both"),
    ],
)
def test_one_finding_per_threshold_reached_on_the_unrounded_total(total, thresholds):
    findings = HighMmeRule().evaluate(_ctx(total))
    assert [f.data["threshold_mme"] for f in findings] == thresholds
    assert all(f.code == "mme-at-or-above-threshold" for f in findings)


def test_highest_threshold_is_high_and_lower_ones_moderate():
    low, high = HighMmeRule().evaluate(_ctx(95.0))
    assert (low.severity, high.severity) == (Severity.MODERATE, Severity.HIGH)
    assert high.text == "Total is 95.0 MME/day, at or above the clinic threshold of 90 MME/day."
    assert high.evidence == ("MedicationRequest/oxy",)
    assert "Recommendation 5" in high.citation.label


def test_clinic_thresholds_come_from_the_policy():
    policy = parse_policy("mme:\n  thresholds: [40, 120]\n")
    findings = HighMmeRule().evaluate(_ctx(100.0, policy=policy))
    assert [f.data["threshold_mme"] for f in findings] == [40.0]
    assert findings[0].severity is Severity.MODERATE


def test_incomplete_total_still_triggers_as_a_floor():
    (finding, _) = HighMmeRule().evaluate(_ctx(92.0, complete=False))
    assert finding.text.startswith("Total is at least 92.0 MME/day")
    assert finding.data["complete"] is False


def test_incomplete_total_names_the_medications_not_computed():
    lines = (
        mme_line("MedicationRequest/oxy", 30.0, display="oxycodone 10 mg tablet"),
        mme_line("MedicationRequest/odd", None, display="tramadol oral drops"),
    )
    ctx = _ctx(30.0, complete=False, lines=lines)
    (finding,) = IncompleteMmeRule().evaluate(ctx)
    assert finding.code == "mme-incomplete"
    assert finding.severity is Severity.MODERATE
    assert finding.evidence == ("MedicationRequest/odd",)
    assert finding.data["medications"] == ["tramadol oral drops"]
    assert finding.text == (
        "Total is at least 30.0 MME/day; not computed for: tramadol oral drops."
    )


def test_complete_total_gives_no_incomplete_finding():
    assert IncompleteMmeRule().evaluate(_ctx(30.0)) == ()
