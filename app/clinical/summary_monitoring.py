"""The monitoring table of the one-page summary: due dates under the clinic policy, UDS results.

Issue 4 "monitoring due dates under the clinic policy (UDS and last result with unexpected
findings, agreement, PDMP check, opioid visit, PEG/PHQ-9)": statuses come from
`monitoring.monitoring_status`, results from `uds.evaluate_uds` (the same comparison the
`uds-unexpected` rule makes). A block whose FHIR data did not load reads "unknown", never "never".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from app.clinical.model import Chart
from app.clinical.monitoring import monitoring_status
from app.clinical.policy import ClinicPolicy
from app.clinical.supply import SupplyWindow
from app.clinical.terminology import Terminology
from app.clinical.uds import UdsEvaluation, evaluate_uds
from app.clinical.views import MONITORING_BLOCKS, Availability
from app.clinical.views import anchors as to_anchors


@dataclass(frozen=True, slots=True)
class MonitoringRow:
    key: str
    label: str
    status: str  # overdue | due-soon | done | never | unknown (data unavailable)
    last_date: date | None
    due_date: date | None
    detail: str | None
    anchors: tuple[str, ...]
    detail_anchors: tuple[str, ...] = ()  # the flagged UDS results the detail names


def monitoring(
    chart: Chart,
    policy: ClinicPolicy,
    as_of: date,
    avail: Mapping[str, Availability],
    terms: Terminology,
    windows: tuple[SupplyWindow, ...],
) -> tuple[MonitoringRow, ...]:
    """Monitoring due dates under the clinic policy; the UDS row with its results.

    The UDS row gives the last result and any earlier unexpected or missing result within the
    policy's UDS interval (the lookback of the `uds-unexpected` rule), linked to its evidence:
    an "as expected" last screen must not hide a positive one a few months earlier.
    """
    rows = []
    for item in monitoring_status(chart, policy, as_of, terminology=terms):
        block = avail[MONITORING_BLOCKS[item.key]]
        detail = item.detail
        detail_refs: tuple[str, ...] = ()
        if item.key == "uds" and item.last_date is not None:
            detail, detail_refs = _uds_detail(chart, policy, as_of, item.last_date, terms, windows)
        status = str(item.status)
        if not block.available:
            status, detail = "unknown", f"{block.label} could not be loaded; status unknown."
            detail_refs = ()
        rows.append(
            MonitoringRow(
                item.key, item.label, status, item.last_date, item.due_date, detail,
                to_anchors(item.evidence), to_anchors(detail_refs),
            )
        )  # fmt: skip
    return tuple(rows)


def _uds_result(results: list[UdsEvaluation]) -> str | None:
    """ "unexpected cocaine; expected but not found oxycodone", or None when as expected."""
    unexpected = sorted({t for u in results for t in u.unexpected_found})
    missing = sorted({t for u in results for t in u.expected_missing})
    parts = []
    if unexpected:
        parts.append("unexpected " + ", ".join(unexpected))
    if missing:
        parts.append("expected but not found " + ", ".join(missing))
    return "; ".join(parts) or None


def _uds_detail(
    chart: Chart,
    policy: ClinicPolicy,
    as_of: date,
    last: date,
    terms: Terminology,
    windows: tuple[SupplyWindow, ...],
) -> tuple[str, tuple[str, ...]]:
    """The UDS row's sentence and the results it names (last screen, earlier flagged ones)."""
    lookback = max(policy.monitoring.uds_days, (as_of - last).days + 1)
    uds = evaluate_uds(chart, as_of, lookback_days=lookback, terminology=terms, windows=windows)
    latest = [u for u in uds if u.date == last]
    detail = f"Last result: {_uds_result(latest) or 'as expected'}."
    refs = [u.ref for u in latest if _uds_result([u])]
    first_day = as_of - timedelta(days=policy.monitoring.uds_days - 1)
    earlier: dict[date, list[UdsEvaluation]] = {}
    for u in uds:
        if u.date is not None and first_day <= u.date < last and _uds_result([u]):
            earlier.setdefault(u.date, []).append(u)
    if earlier:
        flagged = [f"{day.isoformat()} {_uds_result(found)}" for day, found in earlier.items()]
        detail += " Earlier: " + "; ".join(flagged) + "."
        refs += [u.ref for found in earlier.values() for u in found]
    return detail, tuple(refs)
