"""Shared rule helpers: draft windows, overlap, covered days, record dates, context lookups."""

from datetime import date, timedelta

from app.clinical.model import Chart, DrugClass, MedicationKind
from app.clinical.rules.base import (
    PAIN_OPIOID_CLASSES,
    covered_days,
    display_name,
    draft_window,
    overlap,
    record_date,
)
from app.clinical.supply import SupplyWindow
from tests.unit.clinical._rules_factory import AS_OF, PATIENT, context, days_before, med, opioid


def _w(ref, start, end):
    return SupplyWindow(ref, start, end, (end - start).days + 1, "dispense", False)


def test_draft_counts_from_as_of_for_its_supply_length():
    draft = opioid("MedicationRequest/d", date(2020, 1, 1), 28, status="draft")
    window = draft_window(draft, AS_OF)
    assert (window.start, window.end, window.days) == (AS_OF, AS_OF + timedelta(days=27), 28)
    assert window.ref == "MedicationRequest/d"


def test_draft_without_readable_supply_still_covers_as_of():
    draft = opioid("MedicationRequest/d", None, None, status="draft")
    window = draft_window(draft, AS_OF)
    assert (window.start, window.end, window.days, window.estimated) == (AS_OF, AS_OF, 1, True)


def test_overlap_is_inclusive_of_end_days():
    a = _w("a", date(2026, 1, 1), date(2026, 1, 30))
    assert overlap(a, _w("b", date(2026, 1, 30), date(2026, 2, 28))) == (
        date(2026, 1, 30),
        date(2026, 1, 30),
    )
    assert overlap(a, _w("c", date(2026, 1, 31), date(2026, 2, 28))) is None


def test_covered_days_clips_to_the_range_and_handles_open_windows():
    open_ended = _w("s", date(2026, 1, 1), date.max)
    days = covered_days([open_ended], date(2026, 3, 1), date(2026, 3, 10))
    assert len(days) == 10


def test_record_date_by_kind():
    request = opioid("MedicationRequest/r", days_before(5))
    dispense = opioid("MedicationDispense/d", days_before(3), kind=MedicationKind.DISPENSE)
    assert record_date(request) == days_before(5)
    assert record_date(dispense) == days_before(3)


def test_context_finds_windows_by_class_and_day():
    oxy = opioid("MedicationRequest/oxy", days_before(10), 30)
    benzo = med("MedicationRequest/b", DrugClass.BENZODIAZEPINE, days_before(40), 30)
    ctx = context(Chart(patient=PATIENT, medications=(oxy, benzo)))
    assert [w.ref for w in ctx.windows_of(PAIN_OPIOID_CLASSES)] == ["MedicationRequest/oxy"]
    assert ctx.windows_at(frozenset({DrugClass.BENZODIAZEPINE}), AS_OF) == ()
    assert display_name(ctx.record("MedicationRequest/oxy"), "x") == "oxycodone tablet"
    assert display_name(None, "MedicationRequest/zz") == "MedicationRequest/zz"
