"""Supply windows: which days a medication record covers.

Follows /work/shared/reference/mme/MME.md section 3 "Decision" (D1 in
docs/clinical-decisions.md). Window start = the dispense date when known, else
`dispenseRequest.validityPeriod.start`, else `authoredOn`; length = the dispense `daysSupply`,
else `expectedSupplyDuration`, else dispensed quantity / units per day (estimated), else the
validity period. A MedicationStatement covers its effective period.

Early-refill checks, the COT "days supplied" definition and the MME history series all read
these windows, so they agree on what "covered on a day" means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from app.clinical.factors import drug_rows, resolve_terminology
from app.clinical.model import MedicationKind, MedicationRecord
from app.clinical.sig import Amount, UnitKind, administrations_per_day, read_dose, to_amount

if TYPE_CHECKING:
    from app.clinical.terminology import Terminology

#: Statuses that never give a window (D1). Drafts count only as the order being signed.
EXCLUDED_STATUSES = frozenset({"entered-in-error", "cancelled", "draft"})
#: A declined dispense handed nothing over.
EXCLUDED_DISPENSE_STATUSES = frozenset({"entered-in-error", "cancelled", "declined"})
#: A statement without an end date that still claims current use.
_OPEN_STATEMENT_STATUSES = frozenset({"active", "intended", "unknown"})


@dataclass(frozen=True, slots=True)
class SupplyWindow:
    """Days covered by one record.

    Attributes:
        ref: "ResourceType/id" of the record.
        start: first day covered.
        end: last day covered, inclusive (`date.max` for an ongoing statement).
        days: number of days covered.
        source: "dispense" | "expected-supply" | "quantity-per-day" | "validity-period" |
            "effective-period".
        estimated: True when the length was derived from quantity and sig.
    """

    ref: str
    start: date
    end: date
    days: int
    source: str
    estimated: bool

    def covers(self, day: date) -> bool:
        """True when `day` falls in the window."""
        return self.start <= day <= self.end


def _window(ref: str, start: date, days: float, source: str, estimated: bool) -> SupplyWindow:
    # D1: a fractional supply covers the day it runs out on (22.5 days -> 23 days).
    whole_days = max(1, math.ceil(days - 1e-9))
    try:
        end = start + timedelta(days=whole_days - 1)
    except OverflowError:
        end = date.max
    return SupplyWindow(ref, start, end, whole_days, source, estimated)


def units_per_day(
    record: MedicationRecord, *, count_form: bool = False
) -> tuple[Amount | None, tuple[str, ...]]:
    """Dose units (or mL, or mg) taken per day according to the sig, over concurrent instructions.

    Args:
        record: the record whose dosages are read.
        count_form: a dose written as a bare number counts as dose units (tablet forms).

    Returns:
        (amount per day, notes); None when any instruction lacks a dose or a frequency, or when
        the instructions are successive phases (a quantity cannot be split between them).
    """
    if not record.dosages:
        return None, ("no dosage instruction",)
    if len({d.sequence for d in record.dosages}) > 1:
        return None, ("sequenced dosage phases: supply length not estimated from quantity",)
    total: Amount | None = None
    notes: list[str] = []
    for dosage in record.dosages:
        reading = read_dose(dosage)
        amount = reading.amount
        if amount is None and reading.unitless is not None and count_form:
            amount = Amount(reading.unitless, UnitKind.COUNT)
        per_day, admin_notes = administrations_per_day(dosage)
        notes.extend(admin_notes)
        if amount is None or per_day is None:
            return None, (*notes, *reading.notes)
        if total is not None and total.kind is not amount.kind:
            return None, (*notes, "dosage instructions mix units")
        value = amount.value * per_day + (total.value if total is not None else 0.0)
        total = Amount(value, amount.kind)
    return total, tuple(notes)


def _quantity_days(
    record: MedicationRecord, sig_record: MedicationRecord, count_form: bool
) -> float | None:
    quantity = record.dispense_quantity
    if quantity is None:
        return None
    dispensed = to_amount(quantity)
    if dispensed is None and quantity.unit is None and quantity.code is None and count_form:
        dispensed = Amount(quantity.value, UnitKind.COUNT)
    daily, _ = units_per_day(sig_record, count_form=count_form)
    if dispensed is None or daily is None or daily.kind is not dispensed.kind:
        return None
    if not daily.value > 0 or not dispensed.value > 0:
        return None
    return dispensed.value / daily.value


def _is_count_form(record: MedicationRecord, terminology: Terminology | None) -> bool:
    _, rows = drug_rows(record, resolve_terminology(terminology))
    return bool(rows) and all(r.strength_denominator_unit is None for r in rows)


def supply_window(
    record: MedicationRecord,
    *,
    terminology: Terminology | None = None,
    request: MedicationRecord | None = None,
) -> SupplyWindow | None:
    """The days one record covers (D1), or None when it gives no dates to work from.

    Args:
        record: a MedicationRequest, MedicationDispense or MedicationStatement.
        terminology: used to read a bare-number quantity as tablets for tablet forms.
        request: for a dispense, its authorizing MedicationRequest (sig and expected supply
            when the dispense lacks them).

    Returns:
        The window, or None for excluded statuses and records without usable dates.
    """
    if record.kind is MedicationKind.STATEMENT:
        return _statement_window(record)
    excluded = (
        EXCLUDED_DISPENSE_STATUSES if record.kind is MedicationKind.DISPENSE else EXCLUDED_STATUSES
    )
    if record.status in excluded:
        return None
    sig_record = record
    if record.kind is MedicationKind.DISPENSE:
        start = record.handed_over
        if request is not None and not record.dosages:
            sig_record = request
    else:
        start = record.validity_start or record.authored_on
    if start is None:
        return None
    if record.days_supply is not None and record.days_supply > 0:
        return _window(record.ref, start, record.days_supply, "dispense", False)
    expected = record.expected_supply_days
    if expected is None and request is not None:
        expected = request.expected_supply_days
    if expected is not None and expected > 0:
        return _window(record.ref, start, expected, "expected-supply", False)
    count_form = _is_count_form(record, terminology) if record.dispense_quantity else False
    days = _quantity_days(record, sig_record, count_form)
    if days is not None:
        return _window(record.ref, start, days, "quantity-per-day", True)
    if record.kind is MedicationKind.REQUEST and record.validity_end is not None:
        if record.validity_end >= start:
            days_valid = (record.validity_end - start).days + 1
            return _window(record.ref, start, days_valid, "validity-period", False)
    return None


def _statement_window(record: MedicationRecord) -> SupplyWindow | None:
    if record.status in EXCLUDED_STATUSES or record.status == "not-taken":
        return None
    start = record.effective_start or record.effective_end
    if start is None:
        return None
    end = record.effective_end
    if end is None:
        # An ongoing statement ("taking since ...") covers every day from its start.
        end = date.max if (record.status or "unknown") in _OPEN_STATEMENT_STATUSES else start
    if end < start:
        return None
    days = (end - start).days + 1
    return SupplyWindow(record.ref, start, end, days, "effective-period", False)


def medication_supply_windows(
    records: Sequence[MedicationRecord], *, terminology: Terminology | None = None
) -> tuple[SupplyWindow, ...]:
    """One window per counted record, dispenses preferred over their requests (D1).

    A request with at least one dated dispense (`authorizing_prescription`) is represented by
    its dispenses; otherwise by itself. Excluded statuses give no window.

    Returns:
        Windows sorted by start date, then ref.
    """
    requests = {r.ref: r for r in records if r.kind is MedicationKind.REQUEST}
    windows: list[SupplyWindow] = []
    dispensed: set[str] = set()
    for record in records:
        if record.kind is not MedicationKind.DISPENSE:
            continue
        request = requests.get(record.authorizing_prescription or "")
        window = supply_window(record, terminology=terminology, request=request)
        if window is not None:
            windows.append(window)
            if record.authorizing_prescription:
                dispensed.add(record.authorizing_prescription)
    for record in records:
        if record.kind is MedicationKind.DISPENSE or record.ref in dispensed:
            continue
        window = supply_window(record, terminology=terminology)
        if window is not None:
            windows.append(window)
    return tuple(sorted(windows, key=lambda w: (w.start, w.ref)))


def days_covered(windows: Sequence[SupplyWindow], start: date, end: date) -> int:
    """Distinct days in [start, end] covered by at least one window."""
    spans = sorted((max(w.start, start), min(w.end, end)) for w in windows)
    total = 0
    current_start: date | None = None
    current_end: date | None = None
    for span_start, span_end in spans:
        if span_start > span_end:
            continue
        if current_end is None or current_start is None or span_start > current_end:
            if current_end is not None and current_start is not None:
                total += (current_end - current_start).days + 1
            current_start, current_end = span_start, span_end
        elif span_end > current_end:
            current_end = span_end
    if current_end is not None and current_start is not None:
        total += (current_end - current_start).days + 1
    return total
