"""Is this patient on chronic opioid therapy (COT) at the as-of date?

COT is what puts a patient on the registry and under the clinic's monitoring policy. Two
definitions, chosen in the clinic policy (`cot.definition`, see docs/policy.md):

- ``days-supplied`` (default): opioid analgesic supply on at least `min_days_supplied` (60) of the
  `lookback_days` (90) days ending on and including `as_of`. This is the registry definition
  used by the Six Building Blocks program and most COT quality measures.
- ``cdc-2022-most-days``: CDC 2022 guideline, "long-term opioid use: use of opioids on most days
  for more than 3 months". Read as: supply on more days than not (at least 16 of 30) in each
  of the three consecutive 30-day blocks ending on `as_of`.

Supply days come from `supply.medication_supply_windows` (dispenses when a prescription has them,
else the prescription). Buprenorphine and methadone for opioid use disorder never count (CDC 2022
Recommendation 9 treats them separately); buprenorphine for pain does. An opioid record without
usable supply dates is not guessed: the reason says it was not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from app.clinical.model import Chart, DrugClass, MedicationKind, MedicationRecord
from app.clinical.policy import ClinicPolicy
from app.clinical.supply import SupplyWindow, days_covered, medication_supply_windows

#: Classes whose supply counts toward COT.
COT_CLASSES: frozenset[DrugClass] = frozenset(
    {DrugClass.OPIOID_ANALGESIC, DrugClass.BUPRENORPHINE_PAIN}
)
#: Statuses `medication_supply_windows` skips; such records are not "uncounted".
SKIPPED_STATUSES = frozenset({"entered-in-error", "cancelled", "draft"})

MOST_DAYS_BLOCK_DAYS = 30
MOST_DAYS_BLOCKS = 3
#: "More days than not" in a 30-day block.
MOST_DAYS_MIN_PER_BLOCK = MOST_DAYS_BLOCK_DAYS // 2 + 1


@dataclass(frozen=True, slots=True)
class CotStatus:
    """The COT decision and what it rests on.

    Args:
        is_cot: whether the patient meets the policy's COT definition at `as_of`.
        days_supplied: distinct days with opioid supply in the lookback.
        lookback_days: length of the lookback, ending on `as_of`.
        definition: the policy definition applied.
        evidence: refs of the supply records overlapping the lookback.
        reason: one or two sentences for a person.
    """

    is_cot: bool
    days_supplied: int
    lookback_days: int
    definition: str
    evidence: tuple[str, ...]
    reason: str
    block_days: tuple[int, ...] = ()  # cdc-2022-most-days: supplied days per 30-day block


def is_cot_medication(record: MedicationRecord) -> bool:
    """Opioid analgesic (incl. buprenorphine for pain), not buprenorphine/methadone for OUD."""
    return bool(record.classification.classes & COT_CLASSES)


def cot_status(chart: Chart, policy: ClinicPolicy, as_of: date) -> CotStatus:
    """Apply the clinic's COT definition to a chart.

    Args:
        chart: the patient's records.
        policy: the clinic policy (`cot` section).
        as_of: the last day of the lookback (included).

    Returns:
        The decision, the supplied days and the evidence.
    """
    records = tuple(m for m in chart.medications if is_cot_medication(m))
    windows = medication_supply_windows(records)
    uncounted = _uncounted(records, windows)
    if policy.cot.definition == "cdc-2022-most-days":
        status = _most_days(windows, as_of)
    else:
        status = _days_supplied(
            windows, as_of, policy.cot.lookback_days, policy.cot.min_days_supplied
        )
    if uncounted:
        note = (
            f" {len(uncounted)} opioid record(s) without usable supply dates were not counted: "
            f"{', '.join(uncounted)}."
        )
        status = replace(status, reason=status.reason + note)
    return status


def _days_supplied(
    windows: tuple[SupplyWindow, ...], as_of: date, lookback_days: int, min_days: int
) -> CotStatus:
    start = as_of - timedelta(days=lookback_days - 1)
    supplied = days_covered(windows, start, as_of)
    is_cot = supplied >= min_days
    verdict = "meets" if is_cot else "does not meet"
    reason = (
        f"Opioid supply on {supplied} of the {lookback_days} days from {start.isoformat()} to "
        f"{as_of.isoformat()}; {verdict} the clinic's COT definition (at least {min_days} days)."
    )
    return CotStatus(
        is_cot=is_cot,
        days_supplied=supplied,
        lookback_days=lookback_days,
        definition="days-supplied",
        evidence=_overlapping(windows, start, as_of),
        reason=reason,
    )


def _most_days(windows: tuple[SupplyWindow, ...], as_of: date) -> CotStatus:
    lookback_days = MOST_DAYS_BLOCK_DAYS * MOST_DAYS_BLOCKS
    start = as_of - timedelta(days=lookback_days - 1)
    blocks: list[int] = []
    for index in range(MOST_DAYS_BLOCKS):
        block_start = start + timedelta(days=index * MOST_DAYS_BLOCK_DAYS)
        block_end = block_start + timedelta(days=MOST_DAYS_BLOCK_DAYS - 1)
        blocks.append(days_covered(windows, block_start, block_end))
    is_cot = all(days >= MOST_DAYS_MIN_PER_BLOCK for days in blocks)
    verdict = "meets" if is_cot else "does not meet"
    reason = (
        f"Opioid supply on {', '.join(str(d) for d in blocks)} days of the three 30-day blocks "
        f"from {start.isoformat()} to {as_of.isoformat()}; {verdict} the CDC 2022 definition "
        f"(most days, at least {MOST_DAYS_MIN_PER_BLOCK} of 30, in every block)."
    )
    return CotStatus(
        is_cot=is_cot,
        days_supplied=days_covered(windows, start, as_of),
        lookback_days=lookback_days,
        definition="cdc-2022-most-days",
        evidence=_overlapping(windows, start, as_of),
        reason=reason,
        block_days=tuple(blocks),
    )


def _overlapping(windows: tuple[SupplyWindow, ...], start: date, end: date) -> tuple[str, ...]:
    refs = {w.ref for w in windows if w.start <= end and w.end >= start}
    return tuple(sorted(refs))


def _uncounted(
    records: tuple[MedicationRecord, ...], windows: tuple[SupplyWindow, ...]
) -> tuple[str, ...]:
    """Opioid records that should have given supply days but gave no window."""
    with_window = {w.ref for w in windows}
    counted_via_dispense = {
        r.authorizing_prescription
        for r in records
        if r.kind is MedicationKind.DISPENSE and r.ref in with_window
    }
    missing = [
        r.ref
        for r in records
        if r.status not in SKIPPED_STATUSES
        and r.ref not in with_window
        and r.ref not in counted_via_dispense
    ]
    return tuple(sorted(missing))
