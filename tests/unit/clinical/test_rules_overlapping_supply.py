"""overlapping-opioid-supply: different opioids supplied for the same days."""

import pytest

from app.clinical.model import Chart, Severity
from app.clinical.rules.overlapping_supply import OverlappingOpioidSupplyRule
from tests.unit.clinical._rules_factory import AS_OF, PATIENT, context, days_before, opioid


def _ctx(*records, drafts=()):
    return context(Chart(patient=PATIENT, medications=records), drafts=drafts)


OXY = opioid("MedicationRequest/oxy", days_before(60), 30)  # days -60 .. -31


@pytest.mark.parametrize(
    ("start_day_ago", "overlap_days"),
    [pytest.param(30, 0, id="touching-0-days"), pytest.param(31, 1, id="1-day")],
)
def test_overlap_of_different_opioids_counts_days(start_day_ago, overlap_days):
    morphine = opioid(
        "MedicationRequest/mor", days_before(start_day_ago), 30, ingredient="morphine"
    )
    findings = OverlappingOpioidSupplyRule().evaluate(_ctx(OXY, morphine))
    if overlap_days == 0:
        assert findings == ()
        return
    (finding,) = findings
    assert finding.code == "overlapping-opioid-supply"
    assert finding.severity is Severity.MODERATE
    assert finding.data["overlap_days"] == 1
    assert finding.data["overlap_start"] == days_before(31).isoformat()
    assert set(finding.evidence) == {"MedicationRequest/oxy", "MedicationRequest/mor"}


def test_same_drug_refilled_early_is_not_an_overlap_of_different_opioids():
    refill = opioid("MedicationRequest/oxy2", days_before(40), 30)
    assert OverlappingOpioidSupplyRule().evaluate(_ctx(OXY, refill)) == ()


def test_long_and_short_acting_overlap_is_counted_with_draft_days():
    er = opioid(
        "MedicationRequest/er", days_before(10), 30, ingredient="morphine", long_acting=True
    )
    draft = opioid("MedicationRequest/ir", AS_OF, 5, status="draft")  # days 0 .. +4
    (finding,) = OverlappingOpioidSupplyRule().evaluate(_ctx(er, drafts=(draft,)))
    assert finding.data["overlap_days"] == 5
    assert finding.data["overlap_start"] == AS_OF.isoformat()


def test_overlap_before_the_lookback_is_ignored():
    old_a = opioid("MedicationRequest/a", days_before(300), 30)
    old_b = opioid("MedicationRequest/b", days_before(300), 30, ingredient="morphine")
    assert OverlappingOpioidSupplyRule().evaluate(_ctx(old_a, old_b)) == ()


def test_without_drafts_only_days_up_to_as_of_are_counted():
    # Both supplies run 20 days past as_of; only the 11 days up to and including as_of count.
    oxy = opioid("MedicationRequest/oxy-now", days_before(10), 30)
    morphine = opioid("MedicationRequest/mor-now", days_before(10), 30, ingredient="morphine")
    (finding,) = OverlappingOpioidSupplyRule().evaluate(_ctx(oxy, morphine))
    assert finding.data["overlap_days"] == 11
    assert finding.data["overlap_end"] == AS_OF.isoformat()


def test_ir_and_er_of_one_ingredient_are_two_concurrent_opioid_products():
    ir = opioid("MedicationRequest/ir", days_before(20), 30)  # days -20 .. +9
    er = opioid("MedicationRequest/er", days_before(15), 30, long_acting=True)
    (finding,) = OverlappingOpioidSupplyRule().evaluate(_ctx(ir, er))
    assert finding.data["overlap_days"] == 16  # days -15 .. 0
    assert set(finding.evidence) == {"MedicationRequest/ir", "MedicationRequest/er"}
