"""Morphine milligram equivalents per patient at an as-of date, and per day.

Per-medication MME is computed in `mme_line.py` (re-exported here).

Implements /work/shared/reference/mme/MME.md (sections 3 to 8) with the decisions D1-D10 of
docs/clinical-decisions.md. Factors: CDC 2022 guideline by default, 2016 selectable
(`factors.py`); drug data: the vendored OMTK table (`terminology.drug_ingredients`).

Safety rule: an opioid whose MME cannot be computed is reported with the reason and makes the
total incomplete; it is never counted as 0. Values are kept at full precision; `format_mme`
rounds for display only, and thresholds compare the unrounded total (D10).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

from app.clinical.factors import (
    drug_rows,
    resolve_terminology,
)
from app.clinical.model import (
    MedicationKind,
    MedicationRecord,
    MmeLine,
    MmeTotal,
)
from app.clinical.supply import SupplyWindow, medication_supply_windows

if TYPE_CHECKING:
    from app.clinical.terminology import Terminology
from app.clinical.mme_line import (
    DOSE_ASSUMED,
    ESTIMATED_FROM_SUPPLY,
    NOT_OPIOID,
    PRN_MAXIMUM,
    ComputedMme,
    compute_mme,
    format_mme,
    is_opioid_record,
    medication_mme,
    record_for_mme,
)

__all__ = [
    "DOSE_ASSUMED",
    "ESTIMATED_FROM_SUPPLY",
    "NOT_OPIOID",
    "PRN_MAXIMUM",
    "daily_mme_series",
    "format_mme",
    "medication_mme",
    "total_mme",
]


@dataclass(frozen=True, slots=True)
class _Counted:
    window: SupplyWindow
    rxcui: str | None
    computed: ComputedMme
    dispensed: bool
    order_key: tuple[date, date, str]
    reported: bool = False  # a MedicationStatement (what the patient says they take)


def _counted_windows(
    records: Sequence[MedicationRecord],
    *,
    edition: str,
    terminology: Terminology,
    outside_2022_table: str,
    as_of: date | None = None,
) -> list[_Counted]:
    """The opioid records with a supply window (covering `as_of` when given), with their MME.

    Records that differ only in ref and dates (refills of one prescription) share one
    computation. The lines keep the ref of the record computed first; `_with_ref` fixes it
    for the lines that are shown.
    """
    by_ref = {r.ref: r for r in records}
    effective: dict[str, MedicationRecord] = {}
    for record in records:
        request = None
        if record.kind is MedicationKind.DISPENSE:
            request = by_ref.get(record.authorizing_prescription or "")
        mme_record = record_for_mme(record, request)
        _, rows = drug_rows(mme_record, terminology)
        if is_opioid_record(mme_record, rows):
            effective[record.ref] = mme_record
    opioids = [r for r in records if r.ref in effective]
    counted: list[_Counted] = []
    cache: dict[tuple[object, ...], ComputedMme] = {}
    for window in medication_supply_windows(opioids, terminology=terminology):
        if as_of is not None and not window.covers(as_of):
            continue
        record = by_ref[window.ref]
        mme_record = effective[window.ref]
        # Sequenced phases may depend on the date; the series uses the phase at window start.
        computed_as_of = as_of or window.start
        key = _content_key(mme_record, computed_as_of)
        computed = cache.get(key)
        if computed is None:
            computed = compute_mme(
                mme_record,
                as_of=computed_as_of,
                edition=edition,
                terminology=terminology,
                outside_2022_table=outside_2022_table,
            )
            cache[key] = computed
        request = by_ref.get(record.authorizing_prescription or "")
        authored = mme_record.authored_on or (request.authored_on if request else None)
        counted.append(
            _Counted(
                window,
                computed.line.code,
                computed,
                record.kind is MedicationKind.DISPENSE,
                (window.start, authored or date.min, window.ref),
                record.kind is MedicationKind.STATEMENT,
            )
        )
    return counted


def _content_key(record: MedicationRecord, as_of: date) -> tuple[object, ...]:
    """What the MME of a record depends on (everything but its ref and supply dates)."""
    phased = len({d.sequence for d in record.dosages}) > 1
    return (
        record.kind,
        record.codes,
        record.text,
        record.classification,
        record.dosages,
        record.reason_codes,
        record.dispense_quantity,
        record.days_supply,
        record.expected_supply_days,
        as_of if phased else None,
    )


def _with_ref(item: _Counted) -> _Counted:
    line = item.computed.line
    if line.ref == item.window.ref:
        return item
    return replace(item, computed=replace(item.computed, line=replace(line, ref=item.window.ref)))


def _replaces(later: _Counted, earlier: _Counted) -> bool:
    """D1: a later record for the same drug replaces an earlier one, unless both were dispensed.

    Drafts written together are separate orders, never renewals of each other: a draft may
    replace only an existing (non-draft) record. A statement never replaces a prescription or
    dispense (`_prescribed_instead`).
    """
    return (
        later.rxcui is not None
        and later.rxcui == earlier.rxcui
        and not (later.dispensed and earlier.dispensed)
        and not (later.window.source == "draft" and earlier.window.source == "draft")
        and not (later.reported and not earlier.reported)
    )


def _prescribed_instead(statement: _Counted, other: _Counted) -> bool:
    """D1: a prescription or dispense of the same drug is counted instead of a statement."""
    return (
        statement.reported
        and not other.reported
        and statement.rxcui is not None
        and statement.rxcui == other.rxcui
    )


def total_mme(
    records: Sequence[MedicationRecord],
    *,
    as_of: date,
    edition: str = "2022",
    drafts: Sequence[MedicationRecord] = (),
    terminology: Terminology | None = None,
    outside_2022_table: str = "compilation",
) -> MmeTotal:
    """Total MME/day at `as_of` over the medications in scope (D1).

    In scope: opioid records whose status is not entered-in-error, cancelled or draft and whose
    supply window covers `as_of`; a record for the same RxCUI whose window overlaps a later one
    is a renewal and counted once (unless both were dispensed); a statement never replaces a
    prescription or dispense of the same RxCUI (D1 addendum). `drafts` (orders being signed)
    always count from `as_of` and replace a current record for the same RxCUI.

    Returns:
        The total of the counted lines that could be computed; `complete` is False, with one
        reason per medication, when any counted line is incomplete.
    """
    term = resolve_terminology(terminology)
    counted = [
        _with_ref(c)
        for c in _counted_windows(
            records,
            edition=edition,
            terminology=term,
            outside_2022_table=outside_2022_table,
            as_of=as_of,
        )
    ]
    for draft in drafts:
        computed = compute_mme(
            draft,
            as_of=as_of,
            edition=edition,
            terminology=term,
            outside_2022_table=outside_2022_table,
        )
        if computed.line.notes[:1] == (NOT_OPIOID,):
            continue
        window = SupplyWindow(draft.ref, as_of, as_of, 1, "draft", False)
        order_key = (date.max, date.max, draft.ref)  # the order being signed is the newest
        counted.append(_Counted(window, computed.line.code, computed, False, order_key))
    counted.sort(key=lambda c: c.order_key)
    kept: list[_Counted] = []
    for item in counted:
        prescribed = [k for k in kept if _prescribed_instead(item, k)]
        if prescribed:
            last = prescribed[-1]
            kept = [_with_note(k, _reported_note(item)) if k is last else k for k in kept]
            continue
        replaced = [k for k in kept if _replaces(item, k)]
        if not replaced:
            kept.append(item)
            continue
        refs = ", ".join(k.window.ref for k in replaced)
        note = f"renewal of {refs} (same RxCUI {item.rxcui}, overlapping supply): counted once"
        line = item.computed.line
        renewed = replace(line, notes=(*line.notes, note))
        kept = [k for k in kept if k not in replaced]
        kept.append(replace(item, computed=replace(item.computed, line=renewed)))
    return _total(kept, as_of, edition)


def _reported_note(statement: _Counted) -> str:
    return (
        f"also reported in {statement.window.ref} (same RxCUI {statement.rxcui}):"
        " the prescription is counted"
    )


def _with_note(item: _Counted, note: str) -> _Counted:
    line = item.computed.line
    noted = replace(line, notes=(*line.notes, note))
    return replace(item, computed=replace(item.computed, line=noted))


def _total(kept: Sequence[_Counted], as_of: date, edition: str) -> MmeTotal:
    lines: list[MmeLine] = []
    excluded: list[MmeLine] = []
    reasons: list[str] = []
    total = 0.0
    for item in kept:
        line = item.computed.line
        if not line.counted:
            if line.notes[:1] != (NOT_OPIOID,):
                excluded.append(line)
            continue
        lines.append(line)
        if line.mme_per_day is not None:
            total += line.mme_per_day
        if not line.complete:
            reasons.append(f"{line.display}: {'; '.join(item.computed.problems)}")
    return MmeTotal(
        as_of=as_of,
        edition=edition,
        total_mme=total,
        complete=not reasons,
        lines=tuple(lines),
        excluded=tuple(excluded),
        reasons=tuple(reasons),
    )


def _uncovered(
    item: _Counted, later: Sequence[_Counted], earlier: Sequence[_Counted] = ()
) -> list[tuple[date, date]]:
    """Days of `item` not taken over by a later renewal or a prescription (D1), as spans.

    `later` (sorted by start) cuts `item` where it replaces it; for a statement, any
    prescription or dispense of the same drug in `earlier` cuts it too.
    """
    spans = [(item.window.start, item.window.end)]
    cutters = [o for o in earlier if _prescribed_instead(item, o)]
    for other in later:
        if other.window.start > item.window.end:
            break  # `later` is sorted by start: no further overlap
        if _replaces(other, item):
            cutters.append(other)
    for other in cutters:
        cut_start, cut_end = other.window.start, other.window.end
        next_spans: list[tuple[date, date]] = []
        for start, end in spans:
            if cut_end < start or cut_start > end:
                next_spans.append((start, end))
                continue
            if start < cut_start:
                next_spans.append((start, cut_start - timedelta(days=1)))
            if cut_end < end:
                next_spans.append((cut_end + timedelta(days=1), end))
        spans = next_spans
    return spans


def daily_mme_series(
    records: Sequence[MedicationRecord],
    *,
    start: date,
    end: date,
    edition: str = "2022",
    terminology: Terminology | None = None,
    outside_2022_table: str = "compilation",
) -> tuple[tuple[date, float, bool], ...]:
    """Total MME/day and completeness for every day in [start, end] (D1).

    Each record's MME is computed once; days are swept with difference arrays, so the cost is
    O(records + days). The value on a day equals `total_mme(records, as_of=day).total_mme`.

    Returns:
        (day, total MME, complete) for each day; an empty tuple when end < start.
    """
    if end < start:
        return ()
    term = resolve_terminology(terminology)
    counted = _counted_windows(
        records, edition=edition, terminology=term, outside_2022_table=outside_2022_table
    )
    counted.sort(key=lambda c: c.order_key)
    n_days = (end - start).days + 1
    mme_delta = [0.0] * (n_days + 1)
    incomplete_delta = [0] * (n_days + 1)
    by_drug: dict[str | None, list[_Counted]] = defaultdict(list)
    for item in counted:
        by_drug[item.rxcui].append(item)
    for group in by_drug.values():
        for index, item in enumerate(group):
            line = item.computed.line
            if not line.counted:
                continue
            earlier = group[:index] if item.reported else ()
            for span_start, span_end in _uncovered(item, group[index + 1 :], earlier):
                first = max(span_start, start)
                last = min(span_end, end)
                if first > last:
                    continue
                i, j = (first - start).days, (last - start).days + 1
                if line.mme_per_day is not None:
                    mme_delta[i] += line.mme_per_day
                    mme_delta[j] -= line.mme_per_day
                if not line.complete:
                    incomplete_delta[i] += 1
                    incomplete_delta[j] -= 1
    series: list[tuple[date, float, bool]] = []
    running_mme = 0.0
    running_incomplete = 0
    for offset in range(n_days):
        running_mme += mme_delta[offset]
        running_incomplete += incomplete_delta[offset]
        value = running_mme if abs(running_mme) > 1e-9 else 0.0
        series.append((start + timedelta(days=offset), value, running_incomplete == 0))
    return tuple(series)


__all__ = [
    "daily_mme_series",
    "format_mme",
    "medication_mme",
    "total_mme",
]
