"""Supply windows (D1): which days a request, dispense or statement covers."""

from datetime import date

import pytest

from app.clinical.model import (
    RXNORM,
    Classification,
    ClassSource,
    Code,
    DoseInstruction,
    DrugClass,
    MedicationKind,
    MedicationRecord,
    Quantity,
)
from app.clinical.supply import (
    SupplyWindow,
    days_covered,
    medication_supply_windows,
    supply_window,
    units_per_day,
)

OXYCODONE_5_MG = "1049621"
OPIOID = Classification(
    classes=frozenset({DrugClass.OPIOID_ANALGESIC}), source=ClassSource.CODE_LIST
)
ONE_TABLET_QID = DoseInstruction(dose=Quantity(1, "tablet"), timing_code="QID")


def request(ref="MedicationRequest/a", **fields) -> MedicationRecord:
    values = {
        "codes": (Code(RXNORM, OXYCODONE_5_MG),),
        "classification": OPIOID,
        "status": "active",
        "authored_on": date(2026, 10, 1),
    }
    values.update(fields)
    return MedicationRecord(ref=ref, kind=MedicationKind.REQUEST, **values)


def dispense(ref="MedicationDispense/d1", **fields) -> MedicationRecord:
    values = {
        "codes": (Code(RXNORM, OXYCODONE_5_MG),),
        "classification": OPIOID,
        "status": "completed",
    }
    values.update(fields)
    return MedicationRecord(ref=ref, kind=MedicationKind.DISPENSE, **values)


def test_request_window_starts_on_authored_date_and_lasts_expected_supply():
    window = supply_window(request(expected_supply_days=30))
    # Oct 1 + 30 days supply covers Oct 1 .. Oct 30 inclusive.
    assert window == SupplyWindow(
        "MedicationRequest/a", date(2026, 10, 1), date(2026, 10, 30), 30, "expected-supply", False
    )


def test_validity_start_wins_over_authored_date():
    window = supply_window(request(validity_start=date(2026, 10, 5), expected_supply_days=10))
    assert (window.start, window.end) == (date(2026, 10, 5), date(2026, 10, 14))


def test_length_from_quantity_and_sig_is_estimated():
    # 90 tablets / (1 tablet x 4 per day) = 22.5 days -> the 23rd day still has supply.
    window = supply_window(
        request(dispense_quantity=Quantity(90, "tablet"), dosages=(ONE_TABLET_QID,))
    )
    assert window.source == "quantity-per-day"
    assert window.estimated is True
    assert window.days == 23
    assert window.end == date(2026, 10, 23)


def test_bare_number_quantity_is_read_as_tablets_for_a_tablet_form():
    # 60 (no unit) / 2 per day = 30 days.
    window = supply_window(
        request(
            dispense_quantity=Quantity(60),
            dosages=(DoseInstruction(dose=Quantity(1, "tablet"), timing_code="BID"),),
        )
    )
    assert (window.source, window.days) == ("quantity-per-day", 30)


def test_quantity_in_other_units_than_the_dose_does_not_give_a_length():
    window = supply_window(
        request(dispense_quantity=Quantity(100, "mL"), dosages=(ONE_TABLET_QID,))
    )
    assert window is None


def test_validity_period_is_the_last_resort():
    window = supply_window(
        request(validity_start=date(2026, 10, 1), validity_end=date(2026, 12, 29))
    )
    assert (window.source, window.days) == ("validity-period", 90)


def test_request_without_any_length_has_no_window():
    assert supply_window(request()) is None


def test_request_without_any_date_has_no_window():
    assert supply_window(request(authored_on=None, expected_supply_days=30)) is None


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "draft"])
def test_excluded_request_statuses_give_no_window(status):
    assert supply_window(request(status=status, expected_supply_days=30)) is None


@pytest.mark.parametrize("status", ["active", "completed", "stopped", "on-hold", None])
def test_other_request_statuses_give_a_window(status):
    assert supply_window(request(status=status, expected_supply_days=30)) is not None


def test_dispense_window_starts_on_hand_over_and_lasts_days_supply():
    window = supply_window(dispense(handed_over=date(2026, 10, 3), days_supply=28))
    assert window == SupplyWindow(
        "MedicationDispense/d1", date(2026, 10, 3), date(2026, 10, 30), 28, "dispense", False
    )


def test_dispense_without_days_supply_uses_its_prescription_sig():
    rx = request(dosages=(ONE_TABLET_QID,))
    fill = dispense(handed_over=date(2026, 10, 3), dispense_quantity=Quantity(120, "tablet"))
    window = supply_window(fill, request=rx)
    assert (window.source, window.days, window.estimated) == ("quantity-per-day", 30, True)


def test_dispense_without_days_supply_uses_its_prescription_expected_supply():
    rx = request(expected_supply_days=14)
    window = supply_window(dispense(handed_over=date(2026, 10, 3)), request=rx)
    assert (window.source, window.days) == ("expected-supply", 14)


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "declined"])
def test_excluded_dispense_statuses_give_no_window(status):
    assert (
        supply_window(dispense(status=status, handed_over=date(2026, 10, 3), days_supply=30))
        is None
    )


def test_statement_covers_its_effective_period():
    statement = MedicationRecord(
        ref="MedicationStatement/s",
        kind=MedicationKind.STATEMENT,
        status="completed",
        effective_start=date(2026, 9, 1),
        effective_end=date(2026, 9, 10),
    )
    window = supply_window(statement)
    assert (window.start, window.end, window.days, window.source) == (
        date(2026, 9, 1),
        date(2026, 9, 10),
        10,
        "effective-period",
    )


def test_ongoing_active_statement_covers_every_later_day():
    statement = MedicationRecord(
        ref="MedicationStatement/s",
        kind=MedicationKind.STATEMENT,
        status="active",
        effective_start=date(2020, 1, 1),
    )
    window = supply_window(statement)
    assert window.covers(date(2030, 1, 1))
    assert window.end == date.max


def test_request_with_dispenses_is_represented_by_its_dispenses():
    rx = request(expected_supply_days=30)
    fills = [
        dispense(
            f"MedicationDispense/d{i}",
            handed_over=date(2026, 10, 1 + 30 * i) if i == 0 else date(2026, 10, 31),
            days_supply=30,
            authorizing_prescription="MedicationRequest/a",
        )
        for i in range(2)
    ]
    windows = medication_supply_windows([rx, *fills])
    assert [w.ref for w in windows] == ["MedicationDispense/d0", "MedicationDispense/d1"]
    assert windows[1].end == date(2026, 11, 29)


def test_request_whose_dispenses_have_no_date_keeps_its_own_window():
    rx = request(expected_supply_days=30)
    fill = dispense(days_supply=30, authorizing_prescription="MedicationRequest/a")
    windows = medication_supply_windows([rx, fill])
    assert [w.ref for w in windows] == ["MedicationRequest/a"]


def test_excluded_records_are_skipped_and_windows_are_sorted():
    records = [
        request("MedicationRequest/late", authored_on=date(2026, 10, 20), expected_supply_days=7),
        request("MedicationRequest/early", authored_on=date(2026, 10, 2), expected_supply_days=7),
        request("MedicationRequest/error", status="entered-in-error", expected_supply_days=7),
    ]
    windows = medication_supply_windows(records)
    assert [w.ref for w in windows] == ["MedicationRequest/early", "MedicationRequest/late"]


def test_days_covered_counts_distinct_days_in_the_range():
    windows = [
        SupplyWindow("a", date(2026, 1, 1), date(2026, 1, 10), 10, "dispense", False),
        SupplyWindow("b", date(2026, 1, 5), date(2026, 1, 14), 10, "dispense", False),  # overlap
        SupplyWindow("c", date(2026, 1, 20), date(2026, 1, 29), 10, "dispense", False),
        SupplyWindow("d", date(2025, 12, 1), date(2025, 12, 5), 5, "dispense", False),  # before
    ]
    # Jan 1-14 (14 days) + Jan 20-25 (6 days, clipped at the end of the range).
    assert days_covered(windows, date(2026, 1, 1), date(2026, 1, 25)) == 20
    assert days_covered([], date(2026, 1, 1), date(2026, 1, 25)) == 0


def test_units_per_day_sums_concurrent_instructions():
    record = request(
        dosages=(
            DoseInstruction(dose=Quantity(1, "tablet"), timing_code="AM"),
            DoseInstruction(dose=Quantity(2, "tablet"), timing_code="BED"),
        )
    )
    amount, _ = units_per_day(record)
    assert amount.value == 3.0


def test_units_per_day_refuses_sequenced_phases():
    record = request(
        dosages=(
            DoseInstruction(sequence=1, dose=Quantity(1, "tablet"), timing_code="BID"),
            DoseInstruction(sequence=2, dose=Quantity(1, "tablet"), timing_code="QD"),
        )
    )
    assert units_per_day(record)[0] is None
