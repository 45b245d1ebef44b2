"""Dosage reading: unit normalisation, administrations per day (D4), dose ranges (D3), PRN caps."""

import pytest

from app.clinical.model import DoseInstruction, Quantity
from app.clinical.sig import (
    Amount,
    UnitKind,
    administrations_per_day,
    max_amount_per_day,
    period_hours,
    read_dose,
    timing_code_per_day,
    to_amount,
    unit_kind,
)


@pytest.mark.parametrize(
    ("unit", "kind", "multiplier"),
    [
        pytest.param("tab", UnitKind.COUNT, 1.0, id="tab"),
        pytest.param("TAB", UnitKind.COUNT, 1.0, id="TAB"),
        pytest.param("{tablet}", UnitKind.COUNT, 1.0, id="{tablet}"),
        pytest.param("tablet(s)", UnitKind.COUNT, 1.0, id="tablet(s)"),
        pytest.param("Tablets", UnitKind.COUNT, 1.0, id="Tablets"),
        pytest.param("{tbl}", UnitKind.COUNT, 1.0, id="{tbl}"),
        pytest.param("capsule", UnitKind.COUNT, 1.0, id="capsule"),
        pytest.param("{capsule}", UnitKind.COUNT, 1.0, id="{capsule}"),
        pytest.param("patch", UnitKind.COUNT, 1.0, id="patch"),
        pytest.param("patches", UnitKind.COUNT, 1.0, id="patches"),
        pytest.param("film", UnitKind.COUNT, 1.0, id="film"),
        pytest.param("spray", UnitKind.COUNT, 1.0, id="spray"),
        pytest.param("{actuat}", UnitKind.COUNT, 1.0, id="{actuat}"),
        pytest.param("mL", UnitKind.VOLUME, 1.0, id="mL"),
        pytest.param("ml", UnitKind.VOLUME, 1.0, id="ml"),
        pytest.param("{mL}", UnitKind.VOLUME, 1.0, id="{mL}"),
        pytest.param("mg", UnitKind.MASS, 1.0, id="mg"),
        pytest.param("MG", UnitKind.MASS, 1.0, id="MG"),
        pytest.param("ug", UnitKind.MASS, 0.001, id="ug"),
        pytest.param("mcg", UnitKind.MASS, 0.001, id="mcg"),
        pytest.param("µg", UnitKind.MASS, 0.001, id="micro-sign-g"),
        pytest.param("μg", UnitKind.MASS, 0.001, id="greek-mu-g"),
        pytest.param("g", UnitKind.MASS, 1000.0, id="g"),
    ],
)
def test_unit_spellings_are_normalised(unit, kind, multiplier):
    assert unit_kind(unit) == (kind, multiplier)


@pytest.mark.parametrize("unit", [None, "", "tsp", "puffs of smoke", "%"])
def test_unknown_units_are_not_guessed(unit):
    assert unit_kind(unit) is None


def test_quantity_code_is_read_before_display_unit():
    # Epic: code "TAB" in the v3-orderableDrugForm system, display "tablet".
    assert to_amount(Quantity(2, unit="tablet", code="TAB")) == Amount(2, UnitKind.COUNT)
    assert to_amount(Quantity(100, unit="microgram", code="ug")) == Amount(0.1, UnitKind.MASS)


def test_dose_in_micrograms_is_converted_to_mg():
    reading = read_dose(DoseInstruction(dose=Quantity(200, "mcg")))
    assert reading.amount == Amount(pytest.approx(0.2), UnitKind.MASS)


def test_dose_range_uses_upper_bound_and_says_so():
    reading = read_dose(
        DoseInstruction(dose_low=Quantity(1, "tablet"), dose_high=Quantity(2, "tablet"))
    )
    assert reading.amount == Amount(2, UnitKind.COUNT)
    assert "upper bound of dose range used" in reading.notes


def test_dose_range_with_only_low_bound_uses_it_and_says_so():
    reading = read_dose(DoseInstruction(dose_low=Quantity(1, "tablet")))
    assert reading.amount == Amount(1, UnitKind.COUNT)
    assert any("lower bound" in note for note in reading.notes)


def test_missing_dose_is_reported_not_stated():
    reading = read_dose(DoseInstruction(frequency=1, period=1, period_unit="d"))
    assert reading.amount is None
    assert reading.stated is False


def test_dose_with_unknown_unit_is_reported():
    reading = read_dose(DoseInstruction(dose=Quantity(1, "tsp")))
    assert reading.amount is None
    assert reading.stated is True
    assert reading.notes == ("dose unit 'tsp' not understood",)


@pytest.mark.parametrize("value", [0.0, -1.0])
def test_zero_or_negative_dose_is_not_usable(value):
    reading = read_dose(DoseInstruction(dose=Quantity(value, "tablet")))
    assert reading.amount is None
    assert reading.notes == (f"dose {value:g} not usable",)


def test_dose_without_unit_is_kept_for_the_caller():
    reading = read_dose(DoseInstruction(dose=Quantity(2)))
    assert reading.amount is None
    assert reading.unitless == 2


@pytest.mark.parametrize(
    ("dosage", "expected"),
    [
        pytest.param(DoseInstruction(frequency=1, period=6, period_unit="h"), 4.0, id="q6h"),
        pytest.param(
            DoseInstruction(frequency=2, period=1, period_unit="d"), 2.0, id="twice-a-day"
        ),
        pytest.param(
            DoseInstruction(frequency=1, period=4, period_max=6, period_unit="h"),
            6.0,
            id="q4-6h-uses-shorter-period",
        ),
        pytest.param(
            DoseInstruction(frequency=1, frequency_max=2, period=1, period_unit="d"),
            2.0,
            id="1-2-times-daily-uses-max",
        ),
        pytest.param(DoseInstruction(frequency=1, period=1, period_unit="wk"), 1 / 7, id="weekly"),
        pytest.param(
            DoseInstruction(frequency=1, period=1, period_unit="mo"), 1 / 30, id="monthly"
        ),
        pytest.param(
            DoseInstruction(frequency=1, period=72, period_unit="hours"), 1 / 3, id="words"
        ),
        pytest.param(
            DoseInstruction(period=12, period_unit="h"), 2.0, id="period-without-frequency"
        ),
        pytest.param(
            DoseInstruction(frequency=1, period=30, period_unit="min"), 48.0, id="minutes"
        ),
    ],
)
def test_frequency_and_period_give_administrations_per_day(dosage, expected):
    per_day, _ = administrations_per_day(dosage)
    assert per_day == pytest.approx(expected)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param("BID", 2.0, id="BID"),
        pytest.param("TID", 3.0, id="TID"),
        pytest.param("QID", 4.0, id="QID"),
        pytest.param("QD", 1.0, id="QD"),
        pytest.param("AM", 1.0, id="AM"),
        pytest.param("BED", 1.0, id="BED"),
        pytest.param("QOD", 0.5, id="QOD"),
        pytest.param("Q4H", 6.0, id="Q4H"),
        pytest.param("Q6H", 4.0, id="Q6H"),
        pytest.param("q8h", 3.0, id="lower-case-q8h"),
        pytest.param("Q12H", 2.0, id="Q12H"),
        pytest.param("Q72H", 1 / 3, id="Q72H"),
        pytest.param("Q3D", 1 / 3, id="Q3D"),
        pytest.param("WK", 1 / 7, id="WK"),
        pytest.param("MO", 1 / 30, id="MO"),
    ],
)
def test_timing_codes_give_administrations_per_day(code, expected):
    assert timing_code_per_day(code) == pytest.approx(expected)
    per_day, notes = administrations_per_day(DoseInstruction(timing_code=code))
    assert per_day == pytest.approx(expected)
    assert notes == (f"frequency from timing code {code}",)


def test_frequency_wins_over_timing_code():
    dosage = DoseInstruction(frequency=1, period=8, period_unit="h", timing_code="BID")
    assert administrations_per_day(dosage)[0] == pytest.approx(3.0)


def test_named_times_of_day_count_once_each():
    assert administrations_per_day(DoseInstruction(when_count=2))[0] == 2.0
    assert administrations_per_day(DoseInstruction(time_of_day_count=3))[0] == 3.0


def test_unknown_timing_code_falls_through_to_named_times():
    per_day, notes = administrations_per_day(DoseInstruction(timing_code="XYZ", when_count=1))
    assert per_day == 1.0
    assert "timing code 'XYZ' not understood" in notes


def test_no_timing_is_none_never_zero():
    per_day, notes = administrations_per_day(DoseInstruction(dose=Quantity(1, "tablet")))
    assert per_day is None
    assert notes == ("frequency not stated",)


def test_unknown_period_unit_is_reported():
    per_day, notes = administrations_per_day(
        DoseInstruction(frequency=1, period=1, period_unit="fortnight")
    )
    assert per_day is None
    assert "period unit 'fortnight' not understood" in notes


def test_period_hours_of_a_year_is_365_days():
    assert period_hours(1, "a") == 8760.0
    assert period_hours(1, None) is None


def test_max_dose_per_period_is_converted_to_per_day():
    dosage = DoseInstruction(max_dose_per_period=Quantity(12, "tablet"), max_dose_period_days=2)
    assert max_amount_per_day(dosage) == Amount(6, UnitKind.COUNT)


def test_max_dose_per_period_without_period_is_ignored():
    dosage = DoseInstruction(max_dose_per_period=Quantity(12, "tablet"))
    assert max_amount_per_day(dosage) is None
