"""Urine drug screen (UDS) results read from codes and compared with what was prescribed.

CDC 2022 Recommendation 10: consider toxicology testing to assess for prescribed medications and
other substances, and use unexpected results to talk with the patient, never to dismiss them.
This module answers two questions for each UDS result up to the as-of date:

- unexpected found: a target detected that no prescription at the test date explains
  (a benzodiazepine without a benzodiazepine prescription; cocaine; heroin ...);
- expected missing: a prescribed opioid whose specific target was tested and not detected.

A result is read from structured data only (docs/clinical-decisions.md, D17): interpretation
codes (v3-ObservationInterpretation), valueCodeableConcept (SNOMED CT), valueQuantity against
the reference range high (the cutoff) and valueBoolean. Free-text values are never parsed. Where
the sources disagree, or none is readable, the outcome is "unknown" and listed as such.

Which test targets a code has comes from the CDC Opioid IG UDS value sets via
`Terminology.uds_targets`. Which prescriptions explain which targets, and which targets a
prescription is expected to show in, is the table below (`EXPLAINED_BY`, `EXPECTED_TARGETS`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

from app.clinical.model import (
    SNOMED,
    Chart,
    Code,
    DrugClass,
    MedicationRecord,
    ObservationRecord,
    Quantity,
)
from app.clinical.supply import SupplyWindow, medication_supply_windows
from app.clinical.terminology import Terminology, load_terminology

V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
#: The same code system under its pre-R4 URL, and codings sent without a system.
INTERPRETATION_SYSTEMS = frozenset(
    {V3_INTERPRETATION, "http://hl7.org/fhir/v3/ObservationInterpretation", ""}
)
RESULT_STATUSES = frozenset({"final", "amended", "corrected"})

#: A drug can show in urine for days after the last supplied day (long half-life
#: benzodiazepines for weeks); a prescription explains a detection this long after it ran out.
EXPLAIN_GRACE_DAYS = 14

DETECTED_INTERPRETATIONS = frozenset({"POS", "DET", "A", "AA", "H", "HH"})
NOT_DETECTED_INTERPRETATIONS = frozenset({"NEG", "ND", "N"})
DETECTED_VALUES = frozenset({"10828004", "52101004"})  # Positive, Present
NOT_DETECTED_VALUES = frozenset(
    {"260385009", "260415000", "2667000"}
)  # Negative, Not detected, Absent

OPIOID_TARGETS = frozenset(
    {"opiate", "oxycodone", "fentanyl", "methadone", "buprenorphine", "heroin", "synthetic-opioid"}
)
_OPIOID_CLASSES = frozenset(
    {
        DrugClass.OPIOID_ANALGESIC,
        DrugClass.BUPRENORPHINE_MOUD,
        DrugClass.BUPRENORPHINE_PAIN,
        DrugClass.METHADONE_MOUD,
    }
)
_SCREENED_CLASSES = _OPIOID_CLASSES | {
    DrugClass.BENZODIAZEPINE,
    DrugClass.BARBITURATE,
    DrugClass.STIMULANT,
}


class UdsOutcome(StrEnum):
    DETECTED = "detected"
    NOT_DETECTED = "not-detected"
    UNKNOWN = "unknown"


def _names(record: MedicationRecord) -> str:
    return _names_of(record.classification.ingredients, record.text, record.codes)


@lru_cache(maxsize=4096)
def _names_of(ingredients: tuple[str, ...], text: str | None, codes: tuple[Code, ...]) -> str:
    # Refills repeat the same drug hundreds of times: the joined text is computed once per drug.
    parts = [*ingredients, text or ""]
    parts += [c.display or "" for c in codes]
    return " ".join(parts).lower()


def _never(record: MedicationRecord) -> bool:
    return False


def _has_ingredient(*names: str) -> Callable[[MedicationRecord], bool]:
    return lambda record: any(name in _names(record) for name in names)


def _has_class(*classes: DrugClass) -> Callable[[MedicationRecord], bool]:
    return lambda record: bool(record.classification.classes & set(classes))


#: Which prescriptions explain a detected target. Oxycodone and oxymorphone explain an opiate
#: immunoassay positive (some cross-reaction) although they are often negative on it.
EXPLAINED_BY: dict[str, Callable[[MedicationRecord], bool]] = {
    "any": _has_class(*_SCREENED_CLASSES),
    "opioid": _has_class(*_OPIOID_CLASSES),
    "opiate": _has_ingredient(
        "morphine", "codeine", "hydrocodone", "hydromorphone", "oxycodone", "oxymorphone"
    ),
    "oxycodone": _has_ingredient("oxycodone", "oxymorphone"),
    "fentanyl": _has_ingredient("fentanyl", "sufentanil", "alfentanil", "remifentanil"),
    "methadone": lambda r: (
        _has_ingredient("methadone")(r) or _has_class(DrugClass.METHADONE_MOUD)(r)
    ),
    "buprenorphine": lambda r: (
        _has_ingredient("buprenorphine")(r)
        or _has_class(DrugClass.BUPRENORPHINE_MOUD, DrugClass.BUPRENORPHINE_PAIN)(r)
    ),
    "heroin": _never,
    "synthetic-opioid": _never,  # designer fentanyl analogues, nitazenes, U-47700 ...
    "benzodiazepine": _has_class(DrugClass.BENZODIAZEPINE),
    "barbiturate": lambda r: (
        _has_class(DrugClass.BARBITURATE)(r) or _has_ingredient("butalbital", "phenobarbital")(r)
    ),
    "amphetamine": _has_ingredient("amphetamine", "amfetamine", "lisdexamfetamine"),
    "cocaine": _has_ingredient("cocaine"),
    "cannabinoid": _has_ingredient("dronabinol"),
    "phencyclidine": _never,
    "xylazine": _never,
}

#: The targets a prescribed opioid reliably shows in. Not listed (hydrocodone, hydromorphone,
#: tramadol, tapentadol ...): no target is specific and sensitive enough to call it missing.
EXPECTED_TARGETS: dict[str, frozenset[str]] = {
    "oxycodone": frozenset({"oxycodone"}),
    "oxymorphone": frozenset({"oxycodone"}),
    "morphine": frozenset({"opiate"}),
    "codeine": frozenset({"opiate"}),
    "fentanyl": frozenset({"fentanyl"}),
    "methadone": frozenset({"methadone"}),
    "buprenorphine": frozenset({"buprenorphine"}),
}


@dataclass(frozen=True, slots=True)
class UdsEvaluation:
    """One UDS result compared with the regimen at its date.

    Args:
        ref: the Observation.
        date: its effective date (None: not dated, not compared).
        unexpected_found: detected targets no prescription explains.
        expected_missing: prescribed opioid ingredients whose target was tested and not detected.
        evidence: the Observation and the prescriptions the comparison rests on.
        detected, not_detected, unknown: targets by outcome; unknown = could not be read.
        notes: why something was not compared.
    """

    ref: str
    date: date | None
    unexpected_found: tuple[str, ...]
    expected_missing: tuple[str, ...]
    evidence: tuple[str, ...]
    detected: tuple[str, ...] = ()
    not_detected: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def is_uds_result(obs: ObservationRecord, terminology: Terminology) -> bool:
    """A UDS Observation (own code or a component in a UDS value set) with a result status."""
    if obs.status not in RESULT_STATUSES:
        return False
    if terminology.uds_targets(obs.codes):
        return True
    return any(terminology.uds_targets(c.codes) for c in obs.components)


def read_outcome(
    *,
    interpretation: Sequence[Code] = (),
    value_codes: Sequence[Code] = (),
    value_quantity: Quantity | None = None,
    reference_high: Quantity | None = None,
    value_boolean: bool | None = None,
) -> UdsOutcome:
    """Detected / not detected from structured data only; unknown when absent or conflicting."""
    signals: set[UdsOutcome] = set()
    for code in interpretation:
        if code.system not in INTERPRETATION_SYSTEMS:
            continue
        if code.code in DETECTED_INTERPRETATIONS:
            signals.add(UdsOutcome.DETECTED)
        elif code.code in NOT_DETECTED_INTERPRETATIONS:
            signals.add(UdsOutcome.NOT_DETECTED)
    for code in value_codes:
        if code.system != SNOMED:
            continue
        if code.code in DETECTED_VALUES:
            signals.add(UdsOutcome.DETECTED)
        elif code.code in NOT_DETECTED_VALUES:
            signals.add(UdsOutcome.NOT_DETECTED)
    if (
        value_quantity is not None
        and reference_high is not None
        and _same_unit(value_quantity, reference_high)
    ):
        # A result at or above the cutoff is positive.
        above = value_quantity.value >= reference_high.value
        signals.add(UdsOutcome.DETECTED if above else UdsOutcome.NOT_DETECTED)
    if value_boolean is not None:
        signals.add(UdsOutcome.DETECTED if value_boolean else UdsOutcome.NOT_DETECTED)
    return signals.pop() if len(signals) == 1 else UdsOutcome.UNKNOWN


def evaluate_uds(
    chart: Chart,
    as_of: date,
    *,
    lookback_days: int = 365,
    terminology: Terminology | None = None,
    windows: Sequence[SupplyWindow] | None = None,
) -> tuple[UdsEvaluation, ...]:
    """Every UDS result in the lookback (and every undated one), compared with the regimen.

    Args:
        chart: the patient's records.
        as_of: last day looked at.
        lookback_days: days looked back, ending on `as_of` (included).
        terminology: defaults to the vendored one.
        windows: the chart's supply windows when the caller has them already (rules do).

    Returns:
        One evaluation per UDS Observation, newest first (undated last).
    """
    terms = terminology or load_terminology()
    first_day = as_of - timedelta(days=lookback_days - 1)
    if windows is None:
        windows = medication_supply_windows(chart.medications, terminology=terms)
    by_ref = {m.ref: m for m in chart.medications}
    results = []
    for obs in chart.observations:
        if not is_uds_result(obs, terms):
            continue
        if obs.effective is not None and not first_day <= obs.effective <= as_of:
            continue
        results.append(_evaluate(obs, terms, windows, by_ref, chart.medications))
    return tuple(
        sorted(results, key=lambda e: (e.date is None, -(e.date or date.min).toordinal(), e.ref))
    )


def _evaluate(
    obs: ObservationRecord,
    terms: Terminology,
    windows: Sequence[SupplyWindow],
    by_ref: dict[str, MedicationRecord],
    medications: tuple[MedicationRecord, ...],
) -> UdsEvaluation:
    outcomes = _target_outcomes(obs, terms)
    detected = sorted(t for t, o in outcomes.items() if o is UdsOutcome.DETECTED)
    missing_result = sorted(t for t, o in outcomes.items() if o is UdsOutcome.NOT_DETECTED)
    unknown = sorted(t for t, o in outcomes.items() if o is UdsOutcome.UNKNOWN)
    if obs.effective is None:
        note = "The result has no date; it was not compared with the prescriptions."
        return UdsEvaluation(
            ref=obs.ref,
            date=None,
            unexpected_found=(),
            expected_missing=(),
            evidence=(obs.ref,),
            detected=tuple(detected),
            not_detected=tuple(missing_result),
            unknown=tuple(unknown),
            notes=(note,),
        )
    day = obs.effective
    lenient = _regimen(day, windows, by_ref, medications, grace_days=EXPLAIN_GRACE_DAYS)
    strict = [m for m in _regimen(day, windows, by_ref, (), grace_days=0) if not _prn_only(m)]
    evidence = {obs.ref}
    unexpected: list[str] = []
    for target in detected:
        explaining = [m for m in lenient if EXPLAINED_BY.get(target, _never)(m)]
        evidence.update(m.ref for m in explaining)
        if not explaining:
            unexpected.append(target)
    expected_missing: set[str] = set()
    for record in strict:
        if not record.classification.is_opioid:
            continue
        for ingredient, targets in EXPECTED_TARGETS.items():
            if ingredient not in _names(record):
                continue
            tested = targets & set(outcomes)
            if tested and all(outcomes[t] is UdsOutcome.NOT_DETECTED for t in tested):
                expected_missing.add(ingredient)
                evidence.add(record.ref)
    notes: tuple[str, ...] = ()
    if unknown:
        notes = (f"Result for {', '.join(unknown)} could not be read from coded values.",)
    return UdsEvaluation(
        ref=obs.ref,
        date=day,
        unexpected_found=tuple(unexpected),
        expected_missing=tuple(sorted(expected_missing)),
        evidence=tuple(sorted(evidence)),
        detected=tuple(detected),
        not_detected=tuple(missing_result),
        unknown=tuple(unknown),
        notes=notes,
    )


def _target_outcomes(obs: ObservationRecord, terms: Terminology) -> dict[str, UdsOutcome]:
    """Outcome per target: detected if any part detected it, else unknown if any part unread."""
    parts: list[tuple[frozenset[str], UdsOutcome]] = []
    own = _specific(terms.uds_targets(obs.codes))
    has_value = (
        obs.interpretation or obs.value_codes or obs.value_quantity or obs.value_boolean is not None
    )
    if own and (has_value or obs.value_string is not None or not obs.components):
        outcome = read_outcome(
            interpretation=obs.interpretation,
            value_codes=obs.value_codes,
            value_quantity=obs.value_quantity,
            reference_high=obs.reference_high,
            value_boolean=obs.value_boolean,
        )
        parts.append((own, outcome))
    for component in obs.components:
        targets = _specific(terms.uds_targets(component.codes))
        if not targets:
            continue
        outcome = read_outcome(
            interpretation=component.interpretation,
            value_codes=component.value_codes,
            value_quantity=component.value_quantity,
            reference_high=component.reference_high,
        )
        parts.append((targets, outcome))
    result: dict[str, UdsOutcome] = {}
    rank = {UdsOutcome.NOT_DETECTED: 0, UdsOutcome.UNKNOWN: 1, UdsOutcome.DETECTED: 2}
    for targets, outcome in parts:
        for target in targets:
            current = result.get(target)
            if current is None or rank[outcome] > rank[current]:
                result[target] = outcome
    return result


def _specific(targets: Iterable[str]) -> frozenset[str]:
    """Drop "any" when a named target is present, and "opioid" when a named opioid is."""
    found = set(targets)
    if found - {"any"}:
        found.discard("any")
    if found & OPIOID_TARGETS:
        found.discard("opioid")
    return frozenset(found)


def _regimen(
    day: date,
    windows: Sequence[SupplyWindow],
    by_ref: dict[str, MedicationRecord],
    medications: Iterable[MedicationRecord],
    *,
    grace_days: int,
) -> list[MedicationRecord]:
    """Records whose supply covers `day` (plus grace), and active orders without a window.

    One record per drug (the latest supply covering the day): whether a prescription explains a
    result depends on the drug, not on how many refills of it there were.
    """
    grace = timedelta(days=grace_days)
    latest: dict[tuple[str | None, str | None], tuple[date, MedicationRecord]] = {}
    for window in windows:
        if window.start <= day and (window.end == date.max or day <= window.end + grace):
            record = by_ref.get(window.ref)
            if record is None:
                continue
            key = (record.text, record.classification.rxcui)
            if key not in latest or window.start >= latest[key][0]:
                latest[key] = (window.start, record)
    chosen: dict[str, MedicationRecord] = {r.ref: r for _, r in latest.values()}
    windowed = {w.ref for w in windows}
    for record in medications:
        started = record.authored_on or record.effective_start
        if (
            record.ref not in windowed
            and record.status == "active"
            and started is not None
            and started <= day
        ):
            chosen.setdefault(record.ref, record)
    return list(chosen.values())


def _prn_only(record: MedicationRecord) -> bool:
    return bool(record.dosages) and all(d.as_needed for d in record.dosages)


def _same_unit(value: Quantity, cutoff: Quantity) -> bool:
    if value.code and cutoff.code:
        return value.code == cutoff.code
    if value.unit and cutoff.unit:
        return value.unit.strip().lower() == cutoff.unit.strip().lower()
    return True
