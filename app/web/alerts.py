"""The alert analytics page: per CDS rule, cards fired, accepted, overridden (by reason), snoozed.

Alert fatigue is the top complaint about CDS (docs product, CDS Hooks service); the clinic's
quality lead watches which rules are overridden and why, and tunes the policy. Days are the
clinic's local days (`Settings.timezone`), both ends included, within `AS_OF_MIN`..`AS_OF_MAX`
(a date outside is a 400 with a one-line reason). The page shows counts only, no patient
data. `ppact alerts report` prints the same rows (`alert_report`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.clinical.model import AS_OF_MAX, AS_OF_MIN
from app.storage.feedback import FeedbackStore, RuleStats
from app.web.responses import error_page

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class AlertReport:
    """Rows of the report for [start, end] (local days, inclusive)."""

    start: date
    end: date
    rows: tuple[RuleStats, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "rules": [
                {
                    "rule": r.rule,
                    "fired": r.fired,
                    "accepted": r.accepted,
                    "overridden": r.overridden,
                    "override_reasons": r.override_reasons,
                    "snoozed": r.snoozed,
                }
                for r in self.rows
            ],
        }


def alert_report(store: FeedbackStore, start: date, end: date, timezone: str) -> AlertReport:
    """Per-rule counts for the local days `start`..`end`.

    Raises:
        ValueError: a date outside `AS_OF_MIN`..`AS_OF_MAX`, or `end` before `start`.
    """
    out_of_range(start, end)
    if end < start:
        raise ValueError("the end date is before the start date")
    zone = ZoneInfo(timezone)
    lo = datetime.combine(start, time.min, zone)
    hi = datetime.combine(end + timedelta(days=1), time.min, zone)
    return AlertReport(start, end, tuple(store.report(lo, hi)))


def out_of_range(*days: date) -> None:
    """Refuse a day the report cannot be computed for (one line).

    Raises:
        ValueError: a day outside `AS_OF_MIN`..`AS_OF_MAX`.
    """
    for day in days:
        if not AS_OF_MIN <= day <= AS_OF_MAX:
            raise ValueError(
                f"dates must be between {AS_OF_MIN.isoformat()} and {AS_OF_MAX.isoformat()},"
                f" got {day.isoformat()}"
            )


def default_range(now: datetime, timezone: str) -> tuple[date, date]:
    """The last `DEFAULT_DAYS` local days, today included."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def build_router() -> APIRouter:
    """`GET /alerts?from=YYYY-MM-DD&to=YYYY-MM-DD`."""
    router = APIRouter()

    @router.get("/alerts", response_class=HTMLResponse, name="alerts")
    async def alerts(request: Request) -> HTMLResponse:
        settings = request.app.state.settings
        store: FeedbackStore = request.app.state.feedback_store
        first, last = default_range(datetime.now().astimezone(), settings.timezone)
        start = _day(request.query_params.get("from")) or first
        end = _day(request.query_params.get("to")) or last
        try:
            out_of_range(start, end)
        except ValueError as exc:
            return error_page(request, "Bad date", str(exc), 400)
        problem = None
        if end < start:
            problem = "The end date is before the start date; showing the last 30 days."
            start, end = first, last
        report = alert_report(store, start, end, settings.timezone)
        return templates.TemplateResponse(
            request, "alerts.html", {"report": report, "problem": problem}
        )

    return router
