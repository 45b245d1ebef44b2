"""MME/day of one medication record at an as-of date (MME.md sections 4 to 8).

Reads the drug's OMTK rows, the dose and administrations per day (`sig.py`), picks the factor
for the edition (`factors.py`) and returns an `MmeLine`. An opioid whose MME cannot be computed
gets `mme_per_day=None` with the reason in its notes; it is never 0. Decisions D2-D9 of
docs/clinical-decisions.md are cited where they apply. Totals and the daily series are in
`mme.py`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from app.clinical.factors import (
    BUPRENORPHINE,
    METHADONE,
    TRANSDERMAL_SYSTEM,
    conversion_factor,
    drug_rows,
    resolve_terminology,
)
from app.clinical.model import (
    ConditionGroup,
    DoseInstruction,
    DrugClass,
    IngredientMme,
    MedicationRecord,
    MmeLine,
    Quantity,
)
from app.clinical.sig import (
    Amount,
    UnitKind,
    administrations_per_day,
    max_amount_per_day,
    read_dose,
    to_amount,
)

if TYPE_CHECKING:
    from app.clinical.terminology import DrugIngredient, Terminology

DOSE_ASSUMED = "dose not stated, 1 assumed"
ESTIMATED_FROM_SUPPLY = "estimated from supply"
PRN_MAXIMUM = "PRN, maximum allowed used"
NOT_OPIOID = "not an opioid: no MME"

#: D9: buprenorphine forms used for pain (MME.md 7.4); all other forms are labelled OUD.
_BUPRENORPHINE_PAIN_FORMS = frozenset({"316987", "858080", "1649574", "316949", "721656"})
_WEAR_HOURS = re.compile(r"\b(\d+)\s*HR\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _RowAmount:
    """Daily amount of one OMTK ingredient row under one dosage instruction."""

    value: float | None  # mg/day, or mcg/hr worn for a patch
    patch: bool
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # why the line is incomplete


@dataclass(frozen=True, slots=True)
class ComputedMme:
    line: MmeLine
    problems: tuple[str, ...]


def format_mme(value: float | None) -> str:
    """MME/day for display: one decimal, half up (49.95 -> "50.0"); "not computable" for None."""
    if value is None:
        return "not computable"
    return str(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _strength_mg(row: DrugIngredient) -> float | None:
    if row.strength_value is None:
        return None
    unit = (row.strength_numerator_unit or "").upper()
    if unit == "MG":
        return row.strength_value
    if unit in {"MCG", "UG"}:
        return row.strength_value / 1000.0
    return None


def _form(row: DrugIngredient) -> str:
    denominator = (row.strength_denominator_unit or "").upper()
    if row.dose_form_rxcui == TRANSDERMAL_SYSTEM and denominator == "HR":
        return "patch"
    if denominator == "ML":
        return "liquid"
    if denominator == "ACTUAT":
        return "actuation"
    if denominator == "":
        return "count"
    return "other"


def _to_mg(amount: Amount, row: DrugIngredient, n_rows: int) -> tuple[float | None, str | None]:
    """An amount of product (units, mL or mg) as mg of the ingredient; or the reason it cannot."""
    strength = _strength_mg(row)
    form = _form(row)
    if amount.kind is UnitKind.MASS:
        if n_rows > 1:
            return None, "dose in mass units for a product with several opioid rows"
        return amount.value, None
    if strength is None:
        return None, f"strength {row.strength_numerator_unit} of {row.drug_name} not usable"
    if amount.kind is UnitKind.VOLUME:
        if form != "liquid":
            return None, f"dose in mL for a {row.dose_form_name or 'non-liquid'} form"
        return amount.value * strength, None
    if form not in {"count", "actuation"}:
        return None, f"dose in units for a {row.dose_form_name or 'liquid'} form"
    return amount.value * strength, None


def _supply_per_day(record: MedicationRecord) -> tuple[Amount | None, float | None]:
    """Dispensed amount and supply days (D4 step 4); (None, None) when either is missing."""
    days = record.days_supply or record.expected_supply_days
    if record.dispense_quantity is None or days is None or not days > 0:
        return None, None
    quantity = record.dispense_quantity
    amount = to_amount(quantity)
    if amount is None and quantity.unit is None and quantity.code is None:
        amount = Amount(quantity.value, UnitKind.COUNT)
    if amount is None or not amount.value > 0:
        return None, None
    return amount, days


_RATE = re.compile(r"^\{?(mg|mcg|ug|µg|μg)/(h|hr|hour)\}?$", re.IGNORECASE)


def _rate_mcg_per_hr(quantity: Quantity | None) -> float | None:
    """A patch dose written as a delivery rate (mcg/hr or mg/hr), in mcg/hr; else None."""
    if quantity is None or not quantity.value > 0:
        return None
    for spelling in (quantity.code, quantity.unit):
        match = _RATE.match((spelling or "").strip())
        if match:
            return quantity.value * (1000.0 if match.group(1).lower() == "mg" else 1.0)
    return None


def _patch_amount(
    dosage: DoseInstruction, row: DrugIngredient, record: MedicationRecord
) -> _RowAmount:
    """D6: mcg/hr worn = patches worn at once x patch rate; the change interval does not matter."""
    strength = _strength_mg(row)
    if strength is None:
        return _RowAmount(None, True, problems=(f"patch rate of {row.drug_name} not usable",))
    rate_mcg_per_hr = strength * 1000.0
    reading = read_dose(dosage)
    notes = list(reading.notes)
    if reading.amount is not None and reading.amount.kind is UnitKind.COUNT:
        return _RowAmount(reading.amount.value * rate_mcg_per_hr, True, tuple(notes))
    if reading.amount is None and reading.unitless is not None:
        notes.append("dose without unit read as patches")
        return _RowAmount(reading.unitless * rate_mcg_per_hr, True, tuple(notes))
    rate_written = _rate_mcg_per_hr(dosage.dose)
    if rate_written is not None:
        # A dose written as the rate ("25 ug/h") means patches worn = rate written / patch rate.
        return _RowAmount(rate_written, True, (f"dose written as {rate_written:g} mcg/hr",))
    if reading.stated:
        return _RowAmount(None, True, problems=(*notes, "patch dose not in patches"))
    amount, days = _supply_per_day(record)
    match = _WEAR_HOURS.search(row.drug_name)
    if amount is not None and days is not None and amount.kind is UnitKind.COUNT and match:
        wear_days = int(match.group(1)) / 24.0
        worn = amount.value / days * wear_days
        note = f"patches worn {worn:g} {ESTIMATED_FROM_SUPPLY} ({wear_days:g}-day wear)"
        return _RowAmount(worn * rate_mcg_per_hr, True, (note,), problems=(note,))
    return _RowAmount(rate_mcg_per_hr, True, problems=("dose not stated, 1 patch assumed",))


def _row_amount(
    dosage: DoseInstruction, row: DrugIngredient, record: MedicationRecord, n_rows: int
) -> _RowAmount:
    """Daily mg of one ingredient row under one instruction (MME.md section 6)."""
    form = _form(row)
    if form == "patch":
        return _patch_amount(dosage, row, record)
    if form == "other":
        return _RowAmount(None, False, problems=(f"dose form {row.dose_form_name} not supported",))
    notes: list[str] = []
    problems: list[str] = []
    reading = read_dose(dosage)
    notes.extend(n for n in reading.notes if n != "dose not stated")
    dose = reading.amount
    if dose is None and reading.unitless is not None and form != "liquid":
        dose = Amount(reading.unitless, UnitKind.COUNT)
        notes.append("dose without unit read as dose units")
    per_day, admin_notes = administrations_per_day(dosage)
    notes.extend(n for n in admin_notes if n != "frequency not stated")
    cap = max_amount_per_day(dosage)
    daily: Amount | None = None
    if per_day is not None:
        if dose is None and not reading.stated and form != "liquid":
            # D3: 1 unit only for count forms ("1 mL" of a liquid would be a guess).
            dose = Amount(1.0, UnitKind.COUNT)
            problems.append(DOSE_ASSUMED)
        if dose is not None:
            daily = Amount(dose.value * per_day, dose.kind)
    if daily is None and dosage.as_needed and cap is not None:
        daily, cap = cap, None
        notes.append(f"{PRN_MAXIMUM} (maximum dose per period)")
    if daily is None:
        supplied, days = _supply_per_day(record)
        if supplied is not None and days is not None:
            # D4 step 4: dispensed quantity / supply days.
            daily = Amount(supplied.value / days, supplied.kind)
            problems.append(f"daily dose {ESTIMATED_FROM_SUPPLY}")
    if daily is None:
        if per_day is None:
            problems.append("frequency not stated")
        if dose is None:
            if not reading.stated:
                problems.append("dose not stated")
            elif reading.unitless is not None:
                problems.append("dose without unit for a liquid")
            else:
                problems.extend(reading.notes[-1:])
    if dosage.text and dosage.dose is None and dosage.frequency is None and not dosage.timing_code:
        notes.append("free-text sig not read")
    if daily is None:
        return _RowAmount(None, False, tuple(notes), tuple(problems))
    mg, reason = _to_mg(daily, row, n_rows)
    if mg is None:
        return _RowAmount(None, False, tuple(notes), (*problems, reason or "dose not readable"))
    if cap is not None:
        cap_mg, _ = _to_mg(cap, row, n_rows)
        if cap_mg is not None and cap_mg < mg:
            # D5: the smaller of frequency-based maximum and maxDosePerPeriod.
            mg = cap_mg
            notes.append("capped by maximum dose per period")
    if dosage.as_needed and PRN_MAXIMUM not in " ".join(notes):
        notes.append(PRN_MAXIMUM)
    return _RowAmount(mg, False, tuple(notes), tuple(problems))


def _phases(dosages: Sequence[DoseInstruction]) -> list[tuple[DoseInstruction, ...]]:
    """D2: instructions with the same (or no) sequence are concurrent; others are phases."""
    groups: dict[int | None, list[DoseInstruction]] = defaultdict(list)
    for dosage in dosages:
        groups[dosage.sequence].append(dosage)
    return [tuple(groups[key]) for key in sorted(groups, key=lambda k: (k is None, k or 0))]


def _in_bounds(dosage: DoseInstruction, as_of: date) -> bool | None:
    if dosage.bounds_start is None and dosage.bounds_end is None:
        return None
    after_start = dosage.bounds_start is None or dosage.bounds_start <= as_of
    before_end = dosage.bounds_end is None or as_of <= dosage.bounds_end
    return after_start and before_end


def _exclusion(record: MedicationRecord, rows: Sequence[DrugIngredient], oud: bool) -> str | None:
    """The label of a medication shown apart from the total (D8, D9), or None."""
    classes = record.classification.classes
    ingredients = {r.ingredient_rxcui for r in rows}
    if DrugClass.METHADONE_MOUD in classes or (oud and METHADONE in ingredients):
        return "methadone for opioid use disorder"
    buprenorphine = BUPRENORPHINE in ingredients or bool(
        classes & {DrugClass.BUPRENORPHINE_MOUD, DrugClass.BUPRENORPHINE_PAIN}
    )
    if not buprenorphine:
        return None
    if DrugClass.BUPRENORPHINE_MOUD in classes or oud:
        return "buprenorphine (OUD)"
    if DrugClass.BUPRENORPHINE_PAIN in classes:
        return "buprenorphine (pain)"
    pain = any(
        r.dose_form_rxcui in _BUPRENORPHINE_PAIN_FORMS and "naloxone" not in r.drug_name.lower()
        for r in rows
    )
    return "buprenorphine (pain)" if pain else "buprenorphine (OUD)"


UNIDENTIFIED = (
    "medication could not be identified (no known code and no name): it may be an opioid, "
    "so the total is incomplete"
)


def is_unidentified(record: MedicationRecord) -> bool:
    """No known code and no name at all (e.g. an unresolved medicationReference without display).

    A named drug that matches no opioid code or ingredient name is known not to be an opioid;
    a drug with neither code nor name cannot be ruled out, and is never read as "not an opioid".
    """
    if record.classification.is_known:
        return False
    names = [record.text, *(c.display for c in record.codes)]
    return not any(name and name.strip() for name in names)


def is_opioid_record(record: MedicationRecord, rows: Sequence[DrugIngredient]) -> bool:
    """An opioid, or a medication that may be one (unknown with OMTK rows, or unidentified)."""
    classification = record.classification
    if classification.is_opioid:
        return True
    return not classification.is_known and (bool(rows) or is_unidentified(record))


def compute_mme(
    record: MedicationRecord,
    *,
    as_of: date,
    edition: str,
    terminology: Terminology,
    outside_2022_table: str,
) -> ComputedMme:
    rxcui, rows = drug_rows(record, terminology)
    code = rxcui or (record.rxnorm_codes[0] if record.rxnorm_codes else None)
    display = record.text or (rows[0].drug_name if rows else None) or code or record.ref
    long_acting = record.classification.long_acting or any(r.long_acting for r in rows)
    base = MmeLine(record.ref, code, display, None, None, None, True, long_acting=long_acting)
    if not is_opioid_record(record, rows):
        return ComputedMme(replace(base, counted=False, notes=(NOT_OPIOID,)), ())
    oud = ConditionGroup.OUD in terminology.condition_groups(record.reason_codes)
    exclusion = _exclusion(record, rows, oud)
    if not rows and is_unidentified(record):
        return ComputedMme(replace(base, complete=False, notes=(UNIDENTIFIED,)), (UNIDENTIFIED,))
    if not rows:
        what = f"RxCUI {code}" if code else "no RxNorm code"
        problem = f"MME not computable: no OMTK drug row ({what})"
        if exclusion:
            note = f"{exclusion}: not counted in total MME/day"
            return ComputedMme(replace(base, counted=False, notes=(note,)), ())
        return ComputedMme(replace(base, complete=False, notes=(problem,)), (problem,))
    dosages = record.dosages or (DoseInstruction(),)
    phase_notes: list[str] = []
    candidates: list[tuple[list[IngredientMme], list[str], list[str]]] = []
    phases = _phases(dosages)
    if len(phases) > 1:
        current = [p for p in phases if all(_in_bounds(d, as_of) for d in p)]
        if len(current) == 1:
            phases = current
            phase_notes.append("dosage phase current at the as-of date used")
        else:
            phase_notes.append("successive dosage phases: the largest MME used")
    for phase in phases:
        candidates.append(
            _phase(phase, rows, record, edition, outside_2022_table, exclusion is not None)
        )
    ingredients, notes, problems = max(candidates, key=_phase_key)
    if len(candidates) > 1 and any(_phase_key(c)[0] == 0 for c in candidates):
        # The largest phase cannot be told when one of them cannot be computed.
        problems = [*problems, "a dosage phase could not be computed"]
    notes = [*phase_notes, *notes]
    if exclusion is not None:
        notes.insert(0, f"{exclusion}: not counted in total MME/day (CDC 2022 Recommendation 9)")
        ingredients = [replace(i, factor=None, mme_per_day=None) for i in ingredients]
        problems = []
    values = [i.mme_per_day for i in ingredients]
    mme = None if any(v is None for v in values) else sum(v for v in values if v is not None)
    amounts = [i.daily_amount for i in ingredients]
    units = {i.unit for i in ingredients}
    daily = (
        sum(a for a in amounts if a is not None)
        if len(units) == 1 and all(a is not None for a in amounts)
        else None
    )
    line = replace(
        base,
        mme_per_day=None if exclusion else mme,
        daily_dose=daily,
        unit=units.pop() if len(units) == 1 else None,
        complete=not problems,
        counted=exclusion is None,
        ingredients=tuple(ingredients),
        notes=tuple(dict.fromkeys(notes + problems)),
    )
    return ComputedMme(line, tuple(dict.fromkeys(problems)))


def _phase_key(candidate: tuple[list[IngredientMme], list[str], list[str]]) -> tuple[int, float]:
    ingredients = candidate[0]
    values = [i.mme_per_day for i in ingredients]
    if any(v is None for v in values):
        return (0, 0.0)
    return (1, sum(v for v in values if v is not None))


def _phase(
    phase: Sequence[DoseInstruction],
    rows: Sequence[DrugIngredient],
    record: MedicationRecord,
    edition: str,
    outside_2022_table: str,
    excluded: bool,
) -> tuple[list[IngredientMme], list[str], list[str]]:
    """Per-ingredient MME of concurrent instructions, summed (D2)."""
    notes: list[str] = []
    problems: list[str] = []
    ingredients: list[IngredientMme] = []
    if len(phase) > 1:
        notes.append(f"{len(phase)} concurrent dosage instructions summed")
    for row in rows:
        amounts = [_row_amount(d, row, record, len(rows)) for d in phase]
        for amount in amounts:
            notes.extend(amount.notes)
            problems.extend(amount.problems)
        patch = amounts[0].patch
        values = [a.value for a in amounts]
        total = None if any(v is None for v in values) else sum(v for v in values if v is not None)
        unit = "ug/h" if patch else "mg/d"
        if excluded or total is None:
            ingredients.append(IngredientMme(row.ingredient_name, total, unit, None, None))
            continue
        choice = conversion_factor(
            row.ingredient_rxcui,
            row.dose_form_rxcui,
            edition=edition,
            outside_2022_table=outside_2022_table,
            methadone_mg_per_day=total,
        )
        factor = choice.value
        if factor is not None and (choice.per == "mcg/hr") != patch:
            # D6: the iontophoretic system (strength per actuation) is not a patch.
            factor = None
            choice = replace(choice, notes=(f"{row.drug_name} is not a patch",))
        if factor is None:
            problems.extend(choice.notes)
            problems.append(f"MME not computable: no factor for {row.ingredient_name}")
            ingredients.append(IngredientMme(row.ingredient_name, total, unit, None, None))
            continue
        if choice.per == "mcg":
            total, unit = total * 1000.0, "ug/d"  # transmucosal fentanyl factors are per mcg
        notes.extend(choice.notes)
        ingredients.append(IngredientMme(row.ingredient_name, total, unit, factor, total * factor))
    return ingredients, notes, problems


def medication_mme(
    record: MedicationRecord,
    *,
    as_of: date,
    edition: str = "2022",
    terminology: Terminology | None = None,
    outside_2022_table: str = "compilation",
) -> MmeLine:
    """MME/day of one medication record (MME.md sections 4-8).

    Args:
        record: the medication; its status and dates are not checked here (see `total_mme`).
        as_of: picks the current phase of sequenced instructions.
        edition: "2022" (default) or "2016" conversion factors.
        terminology: the OMTK drug table and value sets; the process-wide one by default.
        outside_2022_table: "compilation" or "not-computable" (clinic policy, D7).

    Returns:
        The line; `mme_per_day` is None when not computable (then `complete` is False) and for
        medications shown apart (`counted` False: buprenorphine, methadone for OUD). A
        non-opioid gives a line with `counted` False and the note "not an opioid".
    """
    return compute_mme(
        record,
        as_of=as_of,
        edition=edition,
        terminology=resolve_terminology(terminology),
        outside_2022_table=outside_2022_table,
    ).line


def record_for_mme(
    window_record: MedicationRecord, request: MedicationRecord | None
) -> MedicationRecord:
    """A dispense carries its prescription's sig and codes when it has none of its own."""
    if request is None or (
        window_record.dosages
        and window_record.codes
        and window_record.classification.is_known
        and window_record.text
    ):
        return window_record
    return replace(
        window_record,
        dosages=window_record.dosages or request.dosages,
        codes=window_record.codes or request.codes,
        classification=(
            window_record.classification
            if window_record.classification.is_known
            else request.classification
        ),
        text=window_record.text or request.text,
    )
