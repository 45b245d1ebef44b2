"""COT status under both policy definitions, with the 59/60-day and day-90/91 boundaries.

as_of is 2026-11-01; the 90-day lookback is 2026-08-04 .. 2026-11-01 (both included), so
"day 90 before as_of" (as_of being day 1) is 2026-08-04 and day 91 is 2026-08-03.
"""

from datetime import date, timedelta

import pytest

from app.clinical.cot import cot_status
from app.clinical.model import (
    Chart,
    Classification,
    ClassSource,
    DrugClass,
    MedicationKind,
    MedicationRecord,
)
from app.clinical.policy import ClinicPolicy, default_policy

AS_OF = date(2026, 11, 1)
OPIOID = Classification(
    classes=frozenset({DrugClass.OPIOID_ANALGESIC}), source=ClassSource.CODE_LIST
)
MOUD = Classification(
    classes=frozenset({DrugClass.BUPRENORPHINE_MOUD}), source=ClassSource.CODE_LIST
)
BUP_PAIN = Classification(
    classes=frozenset({DrugClass.BUPRENORPHINE_PAIN}), source=ClassSource.CODE_LIST
)
BENZO = Classification(classes=frozenset({DrugClass.BENZODIAZEPINE}), source=ClassSource.CODE_LIST)
MOST_DAYS = ClinicPolicy.model_validate({"cot": {"definition": "cdc-2022-most-days"}})


def dispense(ident, handed_over, days, classification=OPIOID, *, rx=None, status="completed"):
    return MedicationRecord(
        ref=f"MedicationDispense/{ident}",
        kind=MedicationKind.DISPENSE,
        classification=classification,
        status=status,
        handed_over=handed_over,
        days_supply=days,
        authorizing_prescription=rx,
    )


def request(ident, authored_on, days=None, classification=OPIOID, *, status="active"):
    return MedicationRecord(
        ref=f"MedicationRequest/{ident}",
        kind=MedicationKind.REQUEST,
        classification=classification,
        status=status,
        intent="order",
        authored_on=authored_on,
        expected_supply_days=days,
    )


def chart(*medications):
    return Chart(medications=tuple(medications))


@pytest.mark.parametrize(
    ("days", "expected"),
    [pytest.param(59, False, id="59-days-not-cot"), pytest.param(60, True, id="60-days-cot")],
)
def test_days_supplied_boundary_is_60_of_90(days, expected):
    # Supply ends on as_of: 2026-09-03 + 60 days - 1 = 2026-11-01.
    start = AS_OF - timedelta(days=days - 1)
    status = cot_status(chart(dispense("a", start, days)), default_policy(), AS_OF)
    assert status.days_supplied == days
    assert status.is_cot is expected
    assert status.lookback_days == 90
    assert status.definition == "days-supplied"
    assert status.evidence == ("MedicationDispense/a",)


@pytest.mark.parametrize(
    ("old_end", "days_in_lookback", "expected"),
    [
        pytest.param(date(2026, 8, 4), 1, True, id="ends-on-day-90-counts"),
        pytest.param(date(2026, 8, 3), 0, False, id="ends-on-day-91-does-not"),
    ],
)
def test_supply_ending_on_day_90_before_as_of_counts_but_day_91_does_not(
    old_end, days_in_lookback, expected
):
    # 59 recent days (2026-09-04 .. 2026-11-01) plus an old 30-day fill ending on old_end.
    recent = dispense("recent", date(2026, 9, 4), 59)
    old = dispense("old", old_end - timedelta(days=29), 30)
    status = cot_status(chart(recent, old), default_policy(), AS_OF)
    assert status.days_supplied == 59 + days_in_lookback
    assert status.is_cot is expected
    assert ("MedicationDispense/old" in status.evidence) is expected


def test_overlapping_fills_count_each_day_once():
    # 2026-08-04 + 45 days, and a second 45-day fill starting 15 days later: 60 distinct days.
    first = dispense("a", date(2026, 8, 4), 45)
    second = dispense("b", date(2026, 8, 19), 45)
    status = cot_status(chart(first, second), default_policy(), AS_OF)
    assert status.days_supplied == 60
    assert status.is_cot


def test_supply_after_as_of_does_not_count():
    future = dispense("future", AS_OF + timedelta(days=1), 90)
    status = cot_status(chart(future), default_policy(), AS_OF)
    assert status.days_supplied == 0
    assert not status.is_cot
    assert status.evidence == ()


def test_buprenorphine_for_oud_never_counts_but_for_pain_does():
    moud = dispense("moud", date(2026, 8, 4), 90, MOUD)
    assert cot_status(chart(moud), default_policy(), AS_OF).days_supplied == 0
    patch = dispense("patch", date(2026, 8, 4), 90, BUP_PAIN)
    assert cot_status(chart(patch), default_policy(), AS_OF).is_cot


def test_non_opioids_do_not_count():
    status = cot_status(
        chart(dispense("benzo", date(2026, 8, 4), 90, BENZO)), default_policy(), AS_OF
    )
    assert status.days_supplied == 0


def test_prescription_counts_when_it_has_no_dispense():
    rx = request("rx", date(2026, 8, 4), days=90)
    status = cot_status(chart(rx), default_policy(), AS_OF)
    assert status.days_supplied == 90
    assert status.evidence == ("MedicationRequest/rx",)


def test_dispenses_replace_their_prescription():
    # The prescription asked for 90 days; only one 30-day fill was picked up.
    rx = request("rx", date(2026, 8, 4), days=90)
    fill = dispense("fill", date(2026, 8, 10), 30, rx="MedicationRequest/rx")
    status = cot_status(chart(rx, fill), default_policy(), AS_OF)
    assert status.days_supplied == 30
    assert status.evidence == ("MedicationDispense/fill",)
    assert "not counted" not in status.reason


def test_opioid_without_supply_dates_is_named_not_guessed():
    undated = request("undated", None, days=None)
    status = cot_status(chart(undated), default_policy(), AS_OF)
    assert status.days_supplied == 0
    assert not status.is_cot
    assert "1 opioid record(s) without usable supply dates were not counted" in status.reason
    assert "MedicationRequest/undated" in status.reason


def test_entered_in_error_is_neither_counted_nor_reported():
    wrong = dispense("wrong", date(2026, 8, 4), 90, status="entered-in-error")
    status = cot_status(chart(wrong), default_policy(), AS_OF)
    assert status.days_supplied == 0
    assert "not counted" not in status.reason


def test_reason_names_days_and_dates():
    status = cot_status(chart(dispense("a", date(2026, 9, 3), 60)), default_policy(), AS_OF)
    assert status.reason == (
        "Opioid supply on 60 of the 90 days from 2026-08-04 to 2026-11-01; meets the clinic's "
        "COT definition (at least 60 days)."
    )


def test_policy_lookback_and_minimum_are_used():
    policy = ClinicPolicy.model_validate({"cot": {"lookback_days": 30, "min_days_supplied": 20}})
    # 2026-10-13 .. 2026-11-01 is 20 days.
    status = cot_status(chart(dispense("a", date(2026, 10, 13), 20)), policy, AS_OF)
    assert (status.days_supplied, status.lookback_days, status.is_cot) == (20, 30, True)


# ----------------------------------------------------------------- CDC 2022 "most days"
# Blocks: 2026-08-04..09-02, 2026-09-03..10-02, 2026-10-03..11-01.


def test_most_days_needs_16_days_in_every_30_day_block():
    fills = (
        dispense("b1", date(2026, 8, 4), 16),
        dispense("b2", date(2026, 9, 3), 16),
        dispense("b3", date(2026, 10, 3), 16),
    )
    status = cot_status(chart(*fills), MOST_DAYS, AS_OF)
    assert status.block_days == (16, 16, 16)
    assert status.days_supplied == 48
    assert status.is_cot
    assert status.definition == "cdc-2022-most-days"
    assert status.lookback_days == 90


def test_most_days_fails_when_one_block_has_15_days():
    fills = (
        dispense("b1", date(2026, 8, 4), 30),
        dispense("b2", date(2026, 9, 3), 15),
        dispense("b3", date(2026, 10, 3), 30),
    )
    status = cot_status(chart(*fills), MOST_DAYS, AS_OF)
    assert status.block_days == (30, 15, 30)
    assert status.days_supplied == 75
    assert not status.is_cot


def test_sixty_recent_days_are_cot_by_days_supplied_but_not_by_most_days():
    fill = dispense("a", date(2026, 9, 3), 60)
    assert cot_status(chart(fill), default_policy(), AS_OF).is_cot
    most_days = cot_status(chart(fill), MOST_DAYS, AS_OF)
    assert most_days.block_days == (0, 30, 30)
    assert not most_days.is_cot
