"""early-refill: fills before the previous supply of the same opioid ran out."""

from dataclasses import replace

import pytest

from app.clinical.model import RXNORM, Chart, Code, MedicationKind, Severity
from app.clinical.policy import parse_policy
from app.clinical.rules.early_refill import EarlyRefillRule, drug_key
from app.clinical.terminology import load_terminology
from tests.unit.clinical._rules_factory import AS_OF, PATIENT, context, days_before, opioid


def _ctx(*records, drafts=(), policy=None):
    return context(Chart(patient=PATIENT, medications=records), drafts=drafts, policy=policy)


# Previous fill: 30 days from day -40 covers -40 .. -11, so it runs out on day -10.
PREVIOUS = opioid("MedicationRequest/rx1", days_before(40), 30)


@pytest.mark.parametrize(
    ("fill_day_ago", "days_early"),
    [
        pytest.param(10, 0, id="on-time"),
        pytest.param(13, 3, id="3-days-early-within-tolerance"),
        pytest.param(14, 4, id="4-days-early"),
    ],
)
def test_fill_more_than_tolerance_days_early_is_flagged(fill_day_ago, days_early):
    refill = opioid("MedicationRequest/rx2", days_before(fill_day_ago), 30)
    findings = EarlyRefillRule().evaluate(_ctx(PREVIOUS, refill))
    if days_early <= 3:
        assert findings == ()
        return
    (finding,) = findings
    assert finding.code == "early-refill"
    assert finding.severity is Severity.MODERATE
    assert finding.data["count"] == 1
    (refill_data,) = finding.data["refills"]
    assert refill_data == {
        "date": days_before(fill_day_ago).isoformat(),
        "ref": "MedicationRequest/rx2",
        "previous_ref": "MedicationRequest/rx1",
        "previous_runs_out": days_before(10).isoformat(),
        "days_early": days_early,
    }
    assert finding.evidence == ("MedicationRequest/rx2", "MedicationRequest/rx1")


@pytest.mark.parametrize(
    ("percent", "flagged"),
    [pytest.param(10, True, id="10pct-is-3-days"), pytest.param(20, False, id="20pct-is-6-days")],
)
def test_tolerance_percent_of_previous_supply_replaces_tolerance_days(percent, flagged):
    policy = parse_policy(f"early_refill:\n  tolerance_percent: {percent}\n")
    refill = opioid("MedicationRequest/rx2", days_before(14), 30)  # 4 days early
    assert bool(EarlyRefillRule().evaluate(_ctx(PREVIOUS, refill, policy=policy))) is flagged


@pytest.mark.parametrize(
    ("fill_day_ago", "counted"),
    [pytest.param(180, True, id="day-180-in-lookback"), pytest.param(181, False, id="day-181-out")],
)
def test_only_early_fills_in_the_lookback_are_counted(fill_day_ago, counted):
    first = opioid("MedicationRequest/rx1", days_before(fill_day_ago + 20), 30)
    refill = opioid("MedicationRequest/rx2", days_before(fill_day_ago), 30)  # 10 days early
    assert bool(EarlyRefillRule().evaluate(_ctx(first, refill))) is counted


def test_dispenses_are_used_instead_of_their_prescription():
    request = opioid("MedicationRequest/rx", days_before(60), 90)
    fill1 = opioid(
        "MedicationDispense/d1",
        days_before(60),
        30,
        kind=MedicationKind.DISPENSE,
        authorizing_prescription=request.ref,
    )
    fill2 = opioid(
        "MedicationDispense/d2",
        days_before(45),
        30,
        kind=MedicationKind.DISPENSE,
        authorizing_prescription=request.ref,
    )
    (finding,) = EarlyRefillRule().evaluate(_ctx(request, fill1, fill2))
    assert finding.data["refills"][0]["days_early"] == 15
    assert finding.evidence == ("MedicationDispense/d2", "MedicationDispense/d1")


def test_draft_order_while_supply_remains_is_an_early_refill():
    current = opioid("MedicationRequest/rx1", days_before(20), 30)  # runs out on day +10
    draft = opioid("MedicationRequest/new", AS_OF, 30, status="draft")
    (finding,) = EarlyRefillRule().evaluate(_ctx(current, drafts=(draft,)))
    assert finding.data["refills"][0]["ref"] == "MedicationRequest/new"
    assert finding.data["refills"][0]["days_early"] == 10


def test_a_different_opioid_is_not_an_early_refill_of_another():
    morphine = opioid("MedicationRequest/m", days_before(14), 30, ingredient="morphine")
    assert EarlyRefillRule().evaluate(_ctx(PREVIOUS, morphine)) == ()


def test_two_early_fills_are_counted_in_date_order():
    fills = [
        opioid("MedicationRequest/a", days_before(100), 30),
        opioid("MedicationRequest/b", days_before(80), 30),  # 10 days early
        opioid("MedicationRequest/c", days_before(60), 30),  # 10 days early
    ]
    (finding,) = EarlyRefillRule().evaluate(_ctx(*fills))
    assert finding.data["count"] == 2
    assert [r["date"] for r in finding.data["refills"]] == [
        days_before(80).isoformat(),
        days_before(60).isoformat(),
    ]


def test_ir_refilled_monthly_plus_er_filled_days_later_is_not_an_early_refill():
    # Oxycodone IR filled monthly; oxycodone ER 12 hr started 5 days after an IR fill.
    ir = [
        opioid("MedicationRequest/ir1", days_before(65), 30),
        opioid("MedicationRequest/ir2", days_before(35), 30),
        opioid("MedicationRequest/ir3", days_before(5), 30),
    ]
    er = opioid("MedicationRequest/er1", days_before(30), 30, long_acting=True)
    assert EarlyRefillRule().evaluate(_ctx(*ir, er)) == ()


def test_er_refilled_early_is_still_an_early_refill_next_to_ir():
    ir = opioid("MedicationRequest/ir1", days_before(35), 30)
    er1 = opioid("MedicationRequest/er1", days_before(40), 30, long_acting=True)
    er2 = opioid("MedicationRequest/er2", days_before(20), 30, long_acting=True)  # 10 early
    (finding,) = EarlyRefillRule().evaluate(_ctx(ir, er1, er2))
    assert [(r["ref"], r["previous_ref"]) for r in finding.data["refills"]] == [
        ("MedicationRequest/er2", "MedicationRequest/er1")
    ]


def test_real_ir_and_er_products_of_one_ingredient_have_different_keys():
    term = load_terminology()

    def key(rxcui: str, text: str) -> str:
        record = opioid("MedicationRequest/x", AS_OF, 30)
        classified = term.classify_medication((Code(RXNORM, rxcui),), text)
        return drug_key(replace(record, classification=classified))

    ir_5 = key("1049621", "oxycodone hydrochloride 5 MG Oral Tablet")
    ir_10 = key("1049683", "oxycodone hydrochloride 10 MG Oral Tablet")
    er_10 = key("1049502", "12 HR oxycodone hydrochloride 10 MG Extended Release Oral Tablet")
    assert ir_5 == ir_10  # a strength change of the IR product is still the same drug
    assert ir_5 != er_10
