"""Structured FHIR Dosage -> dose amount and administrations per day, with what was assumed.

Follows /work/shared/reference/mme/MME.md section 5 (decisions D3, D4 and D5 in
docs/clinical-decisions.md). Units are normalised here once (tab, TAB, {tablet}, tablet(s),
mcg/ug/µg, mL/ml ...), so that the MME code only meets three kinds of amount: dose units
(count), milligrams (mass) and millilitres (volume).

Nothing is guessed silently: every fallback adds a note, and "cannot tell" is None, never 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from app.clinical.model import DoseInstruction, Quantity


class UnitKind(StrEnum):
    COUNT = "count"  # tablets, capsules, patches, films, sprays ...
    MASS = "mass"  # normalised to mg
    VOLUME = "volume"  # normalised to mL


@dataclass(frozen=True, slots=True)
class Amount:
    """An amount in one of the three kinds: count units, mg or mL."""

    value: float
    kind: UnitKind


_COUNT_WORDS = frozenset(
    {
        "tab",
        "tabs",
        "tablet",
        "tbl",
        "cap",
        "caps",
        "capsule",
        "patch",
        "system",
        "film",
        "strip",
        "spray",
        "actuat",
        "actuation",
        "puff",
        "lozenge",
        "troche",
        "suppository",
        "supp",
        "each",
        "ea",
        "dose",
        "unit",
        "application",
    }
)
_MG_PER_UNIT: dict[str, float] = {
    "mg": 1.0,
    "milligram": 1.0,
    "ug": 0.001,
    "mcg": 0.001,
    "µg": 0.001,  # micro sign
    "μg": 0.001,  # Greek mu
    "microgram": 0.001,
    "g": 1000.0,
    "gm": 1000.0,
    "gram": 1000.0,
}
_ML_WORDS = frozenset({"ml", "milliliter", "millilitre", "cc"})


def _clean(unit: str) -> str:
    text = unit.strip().lower()
    text = text.strip("{}").strip()
    text = text.removesuffix("(s)").removesuffix("(es)").strip()
    return text


def unit_kind(unit: str | None) -> tuple[UnitKind, float] | None:
    """Classify one unit spelling.

    Args:
        unit: a UCUM code or display text, e.g. "TAB", "{tablet}", "tablet(s)", "ug", "mL".

    Returns:
        (kind, multiplier to the kind's base unit: 1 unit, 1 mg or 1 mL), or None when the
        unit is not understood.
    """
    if unit is None:
        return None
    text = _clean(unit)
    if not text:
        return None
    candidates = [text]
    if text.endswith("es"):
        candidates.append(text[:-2])
    if text.endswith("s"):
        candidates.append(text[:-1])
    for word in candidates:
        if word in _MG_PER_UNIT:
            return UnitKind.MASS, _MG_PER_UNIT[word]
        if word in _ML_WORDS:
            return UnitKind.VOLUME, 1.0
        if word in _COUNT_WORDS:
            return UnitKind.COUNT, 1.0
    return None


def to_amount(quantity: Quantity) -> Amount | None:
    """Normalise a Quantity to count units, mg or mL; None when its unit is not understood.

    The code is tried before the display text (Epic puts "TAB" in the code and "tablet" in
    the unit; both work). A quantity with neither is not understood here: the caller decides
    whether a bare number can be read as dose units.
    """
    for spelling in (quantity.code, quantity.unit):
        kind = unit_kind(spelling)
        if kind is not None:
            return Amount(quantity.value * kind[1], kind[0])
    return None


def unit_text(quantity: Quantity) -> str:
    """How the chart spelled the unit, for notes."""
    return quantity.unit or quantity.code or "no unit"


@dataclass(frozen=True, slots=True)
class DoseReading:
    """The dose of one administration.

    Attributes:
        amount: the dose as count units, mg or mL; None when not stated or not understood.
        unitless: the dose had a number but no unit (the caller decides what it means).
        stated: False when the dosage had no dose at all.
        notes: what was chosen and why.
    """

    amount: Amount | None
    unitless: float | None
    stated: bool
    notes: tuple[str, ...] = ()


def read_dose(dosage: DoseInstruction) -> DoseReading:
    """Read the dose of one administration (MME.md 5.2; D3: a range uses its upper bound)."""
    notes: list[str] = []
    quantity = dosage.dose
    if quantity is None and dosage.dose_high is not None:
        quantity = dosage.dose_high
        notes.append("upper bound of dose range used")
    elif quantity is None and dosage.dose_low is not None:
        quantity = dosage.dose_low
        notes.append("dose range without upper bound: lower bound used")
    if quantity is None:
        return DoseReading(None, None, stated=False, notes=("dose not stated",))
    if not quantity.value > 0:
        # A zero or negative dose on an opioid order is a data error, not "no opioid".
        return DoseReading(None, None, True, (*notes, f"dose {quantity.value:g} not usable"))
    amount = to_amount(quantity)
    if amount is not None:
        return DoseReading(amount, None, True, tuple(notes))
    if quantity.unit is None and quantity.code is None:
        return DoseReading(None, quantity.value, True, tuple(notes))
    return DoseReading(
        None, None, True, (*notes, f"dose unit {unit_text(quantity)!r} not understood")
    )


_HOURS_PER_UNIT: dict[str, float] = {
    "s": 1 / 3600,
    "sec": 1 / 3600,
    "second": 1 / 3600,
    "min": 1 / 60,
    "minute": 1 / 60,
    "h": 1.0,
    "hr": 1.0,
    "hour": 1.0,
    "d": 24.0,
    "day": 24.0,
    "wk": 168.0,
    "week": 168.0,
    "mo": 720.0,
    "month": 720.0,
    "a": 8760.0,
    "year": 8760.0,
}


def period_hours(period: float, unit: str | None) -> float | None:
    """A Timing period in hours (mo = 30 days, a = 365 days as both peers use); None if unknown."""
    if unit is None:
        return None
    text = unit.strip().lower()
    hours = _HOURS_PER_UNIT.get(text)
    if hours is None and text.endswith("s"):
        hours = _HOURS_PER_UNIT.get(text[:-1])
    return None if hours is None else period * hours


_TIMING_CODES: dict[str, float] = {
    "BID": 2.0,
    "TID": 3.0,
    "QID": 4.0,
    "QD": 1.0,
    "DAILY": 1.0,
    "AM": 1.0,
    "PM": 1.0,
    "BED": 1.0,
    "HS": 1.0,
    "QHS": 1.0,
    "QAM": 1.0,
    "QPM": 1.0,
    "QOD": 0.5,
    "WK": 1 / 7,
    "MO": 1 / 30,
}
_QNH = re.compile(r"^Q(\d+(?:\.\d+)?)H$")
_QND = re.compile(r"^Q(\d+)D$")


def timing_code_per_day(code: str) -> float | None:
    """Administrations per day for a timing.code (BID 2, TID 3, Q6H 4, QOD 0.5 ...)."""
    text = code.strip().upper().replace(" ", "")
    if text in _TIMING_CODES:
        return _TIMING_CODES[text]
    if (match := _QNH.match(text)) and float(match.group(1)) > 0:
        return 24.0 / float(match.group(1))
    if (match := _QND.match(text)) and int(match.group(1)) > 0:
        return 1.0 / int(match.group(1))
    return None


def administrations_per_day(dosage: DoseInstruction) -> tuple[float | None, tuple[str, ...]]:
    """Administrations per day from the sig alone (D4 steps 1-3; MME.md 5.3).

    Order: (1) frequency / period (frequencyMax and the shorter period when ranges are given:
    the most the order allows); (2) timing.code; (3) the number of `when` codes or
    `timeOfDay` entries. Supply-based estimates (step 4) need the record; see `mme.py`.

    Args:
        dosage: one dosage instruction.

    Returns:
        (administrations per day or None when the sig does not say, notes).
    """
    notes: list[str] = []
    if dosage.period is not None and dosage.period > 0:
        hours = period_hours(dosage.period, dosage.period_unit)
        if hours is None:
            notes.append(f"period unit {dosage.period_unit!r} not understood")
        else:
            frequency = dosage.frequency
            if dosage.frequency_max is not None and dosage.frequency_max > 0:
                if frequency is not None and dosage.frequency_max != frequency:
                    notes.append("upper bound of frequency range used")
                frequency = dosage.frequency_max
            if frequency is None:
                frequency = 1.0
            if dosage.period_max is not None and dosage.period_max != dosage.period:
                notes.append("shorter period of the range used")
            if frequency > 0:
                return frequency * 24.0 / hours, tuple(notes)
    if dosage.timing_code:
        per_day = timing_code_per_day(dosage.timing_code)
        if per_day is not None:
            return per_day, (*notes, f"frequency from timing code {dosage.timing_code}")
        notes.append(f"timing code {dosage.timing_code!r} not understood")
    named = max(dosage.when_count, dosage.time_of_day_count)
    if named > 0:
        return float(named), (*notes, f"frequency from {named} named time(s) of day")
    return None, (*notes, "frequency not stated")


def max_amount_per_day(dosage: DoseInstruction) -> Amount | None:
    """maxDosePerPeriod as an amount per day (count, mg or mL); None when absent or unreadable."""
    quantity = dosage.max_dose_per_period
    days = dosage.max_dose_period_days
    if quantity is None or days is None or not days > 0:
        return None
    amount = to_amount(quantity)
    if amount is None:
        return None
    return Amount(amount.value / days, amount.kind)
