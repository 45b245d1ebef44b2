"""The patient pages of a launch: summary, dashboard, outreach, PDF, text, save to chart, style.

Issue 4. Each request loads the patient's record through the launch's FHIR client
(`app.fhir.load.load_patient_record`), reads it into a Chart (`build_chart`) and hands it to the
pure view models (`app.clinical.summary`, `dashboard`, `outreach`) under the clinic policy and an
as-of date: today in the clinic's time zone, or ``?as_of=YYYY-MM-DD`` (demo and tests). A loaded
record is kept in memory for `RECORD_TTL_SECONDS` per launch, so opening the dashboard, the PDF or
saving after reading the summary does not fetch the chart again.

Sections the launch may not read (granted scopes, SMART App Launch 2.2 "scopes") or that failed
to load are shown as unavailable with the reason (docs/standards.md section 4: 403 -> degrade and
say what is missing). Every PHI page answers ``Cache-Control: no-store`` and writes an audit
record (`app.storage.audit.audit`); logs carry no ids. A FHIR failure renders the error page with
what to try, never a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.templating import Jinja2Templates

from app.clinical.chart import ChartInputError, build_chart
from app.clinical.dashboard import build_dashboard
from app.clinical.model import Chart
from app.clinical.outreach import build_outreach
from app.clinical.summary import SummaryView, build_summary
from app.fhir.errors import FhirError, NotAuthorized
from app.fhir.load import SectionStatus, load_patient_record
from app.fhir.queries import patient_queries
from app.settings import Settings
from app.storage.audit import audit
from app.storage.feedback import FeedbackStore, Snooze
from app.web.charts import mme_chart, pro_chart
from app.web.context import LaunchContext, LaunchExpired, fhir_client_for, require_launch
from app.web.csrf import install_csrf, require_csrf
from app.web.pdf import render_pdf
from app.web.responses import NO_STORE, error_page
from app.web.smart_style import style_css
from app.web.summary_text import summary_text
from app.web.writeback import save_summary

__all__ = ["RECORD_TTL_SECONDS", "PageError", "build_router", "install_pages", "templates"]

log = logging.getLogger(__name__)

Launch = Annotated[LaunchContext, Depends(require_launch)]

RECORD_TTL_SECONDS = 120.0
_MAX_CACHED = 64
templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
install_csrf(templates.env)


@dataclass(frozen=True, slots=True)
class Loaded:
    """A patient's chart as loaded for one launch, and how each section went."""

    chart: Chart
    sections: dict[str, SectionStatus]
    as_of: date


class RecordCache:
    """Charts loaded per (launch, patient, as-of), kept `RECORD_TTL_SECONDS` in memory."""

    def __init__(self, ttl_seconds: float = RECORD_TTL_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._items: dict[tuple[str, str, date], tuple[float, Loaded]] = {}

    def get(self, key: tuple[str, str, date]) -> Loaded | None:
        item = self._items.get(key)
        if item is None or time.monotonic() - item[0] > self._ttl:
            self._items.pop(key, None)
            return None
        return item[1]

    def put(self, key: tuple[str, str, date], loaded: Loaded) -> None:
        if len(self._items) >= _MAX_CACHED:
            oldest = min(self._items, key=lambda k: self._items[k][0])
            self._items.pop(oldest)
        self._items[key] = (time.monotonic(), loaded)


class PageError(Exception):
    """A page cannot be shown; rendered as the error page."""

    def __init__(self, title: str, message: str, status: int) -> None:
        super().__init__(title)
        self.title, self.message, self.status = title, message, status


def restrict_to_scopes(
    ctx: LaunchContext, sections: dict[str, SectionStatus], patient_id: str, as_of: date
) -> dict[str, SectionStatus]:
    """Mark sections whose resource type the launch may not read as not permitted."""
    result = dict(sections)
    for query in patient_queries(patient_id, as_of=as_of):
        if not ctx.may_read(query.resource_type):
            reason = f"the launch was not granted read access to {query.resource_type}"
            result[query.id] = SectionStatus("not-permitted", reason, 0)
    return result


def active_snoozes(request: Request, patient_id: str | None) -> list[Snooze]:
    """CDS alerts snoozed for the patient now (`app.state.feedback_store`, when CDS is on)."""
    store: FeedbackStore | None = getattr(request.app.state, "feedback_store", None)
    if store is None or patient_id is None:
        return []
    return store.active_snoozes(patient_id, datetime.now(UTC))


#: Years an `?as_of=` may reach back (a chart review of old records) and forward (none needed).
AS_OF_YEARS_BACK = 30


def _as_of(request: Request, settings: Settings) -> date:
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    given = request.query_params.get("as_of")
    if not given:
        return today
    try:
        day = date.fromisoformat(given)
    except ValueError:
        raise PageError("Bad date", "as_of must be a date such as 2026-11-01.", 400) from None
    earliest = today.replace(year=today.year - AS_OF_YEARS_BACK, day=min(today.day, 28))
    if not earliest <= day <= today + timedelta(days=366):
        raise PageError(
            "Bad date",
            f"as_of must be between {earliest.isoformat()} and a year from today.",
            400,
        )
    return day


def install_pages(app: FastAPI, settings: Settings) -> None:
    """Add the page routes and the error page for `PageError` to the app (from `create_app`)."""
    app.include_router(build_router(settings))

    async def on_page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)  # noqa: S101 - registered for PageError only
        response = error_page(request, exc.title, exc.message, exc.status)
        response.headers.update(NO_STORE)
        return response

    app.add_exception_handler(PageError, on_page_error)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # Never a stack trace in the EHR frame: log the error class (no PHI), show a page.
        log.error("page failed", extra={"error": type(exc).__name__}, exc_info=exc)
        if request.url.path.startswith("/cds-services"):
            return JSONResponse({"error": "internal error"}, status_code=500)
        response = error_page(
            request,
            "Something went wrong",
            "The page could not be shown. Try again; if it keeps failing, launch the app again "
            "from the chart.",
            500,
        )
        response.headers.update(NO_STORE)
        return response

    app.add_exception_handler(Exception, on_unexpected)


def build_router(settings: Settings) -> APIRouter:
    """The page routes."""
    router = APIRouter()
    cache = RecordCache()

    async def load(request: Request, ctx: LaunchContext) -> Loaded:
        if ctx.patient_id is None:
            raise PageError("No patient", "Pick a patient first, or launch from the chart.", 400)
        as_of = _as_of(request, settings)
        key = (ctx.launch_id, ctx.patient_id, as_of)
        if (cached := cache.get(key)) is not None:
            return cached
        if not ctx.may_read("Patient"):
            raise PageError(
                "Not permitted", "The launch was not granted access to the patient.", 403
            )
        try:
            async with fhir_client_for(request, ctx) as client:
                record = await load_patient_record(
                    client,
                    ctx.patient_id,
                    as_of=as_of,
                    deadline_seconds=settings.page_load_deadline_seconds,
                )
        except NotAuthorized:
            # Every section was refused even after one refresh: the launch is over. The
            # handler shows the "launch again" page (issue 3), not "the EHR did not answer".
            raise LaunchExpired from None
        except FhirError as exc:
            log.warning("patient record failed", extra={"error": type(exc).__name__})
            raise PageError(
                "The EHR did not answer",
                "The patient's record could not be loaded from the FHIR server. Try again in a "
                "minute; if it keeps failing, launch the app again from the chart.",
                502,
            ) from None
        sections = restrict_to_scopes(ctx, record.sections, ctx.patient_id, as_of)
        queries = patient_queries(ctx.patient_id, as_of=as_of)
        denied = {q.resource_type for q in queries if not ctx.may_read(q.resource_type)}
        resources = [r for r in record.resources if r.get("resourceType") not in denied]
        try:
            chart = build_chart(resources)
        except ChartInputError:
            raise PageError(
                "Record could not be read",
                "The FHIR server returned data for more than one patient; nothing is shown.",
                502,
            ) from None
        loaded = Loaded(chart, sections, as_of)
        cache.put(key, loaded)
        return loaded

    def nav(request: Request, ctx: LaunchContext, as_of: date) -> dict[str, str]:
        query = f"?as_of={as_of.isoformat()}" if request.query_params.get("as_of") else ""
        names = ("summary", "dashboard", "outreach", "summary_pdf", "summary_txt", "save")
        urls = {
            name: str(request.url_for(f"page_{name}", launch_id=ctx.launch_id)) for name in names
        }
        style = str(request.url_for("page_style", launch_id=ctx.launch_id))
        return {
            **{k: v + query for k, v in urls.items()},
            "style": style if ctx.smart_style_url else "",
        }

    def page(
        request: Request, ctx: LaunchContext, name: str, as_of: date, **values: Any
    ) -> HTMLResponse:
        context = {
            "ctx": ctx,
            "nav": nav(request, ctx, as_of),
            "show_banner": ctx.need_patient_banner,
            "can_save": ctx.may_write("DocumentReference"),
            "as_of": as_of,
            **values,
        }
        return templates.TemplateResponse(request, name, context, headers=NO_STORE)

    def summary_of(loaded: Loaded) -> SummaryView:
        return build_summary(loaded.chart, settings.policy, loaded.as_of, sources=loaded.sections)

    def summary_html(
        request: Request, ctx: LaunchContext, view: SummaryView, **extra: Any
    ) -> HTMLResponse:
        chart = mme_chart(view.trend, view.thresholds)
        return page(request, ctx, "summary.html", view.as_of, view=view, mme=chart, **extra)

    @router.get("/l/{launch_id}/summary", response_class=HTMLResponse, name="page_summary")
    async def summary_page(request: Request, ctx: Launch) -> Response:
        loaded = await load(request, ctx)
        view = summary_of(loaded)
        audit(request, "view-summary", ctx)
        saved = request.query_params.get("saved")
        return summary_html(request, ctx, view, saved=saved if saved in SAVED else None)

    @router.get("/l/{launch_id}/dashboard", response_class=HTMLResponse, name="page_dashboard")
    async def dashboard_page(request: Request, ctx: Launch) -> Response:
        loaded = await load(request, ctx)
        view = build_dashboard(loaded.chart, settings.policy, loaded.as_of, sources=loaded.sections)
        audit(request, "view-dashboard", ctx)
        return page(
            request, ctx, "dashboard.html", view.as_of, view=view,
            snoozes=active_snoozes(request, ctx.patient_id),
            mme=mme_chart(view.mme, view.thresholds, width=760, height=240),
            pro=pro_chart(view.pro, width=760, height=240),
        )  # fmt: skip

    @router.get("/l/{launch_id}/outreach", response_class=HTMLResponse, name="page_outreach")
    async def outreach_page(request: Request, ctx: Launch) -> Response:
        loaded = await load(request, ctx)
        summary = summary_of(loaded)
        view = build_outreach(summary)
        audit(request, "view-outreach", ctx)
        return page(request, ctx, "outreach.html", view.as_of, view=view, summary=summary)

    @router.get("/l/{launch_id}/summary.txt", name="page_summary_txt")
    async def summary_txt(request: Request, ctx: Launch) -> Response:
        view = summary_of(await load(request, ctx))
        audit(request, "view-summary-text", ctx)
        return PlainTextResponse(summary_text(view), headers=NO_STORE)

    async def pdf_of(request: Request, ctx: LaunchContext, view: SummaryView) -> bytes:
        html = bytes(summary_html(request, ctx, view, pdf=True).body).decode()
        paper = request.app.state.settings.paper_size
        return await asyncio.to_thread(render_pdf, html, paper)

    @router.get("/l/{launch_id}/summary.pdf", name="page_summary_pdf")
    async def summary_pdf(request: Request, ctx: Launch) -> Response:
        view = summary_of(await load(request, ctx))
        pdf = await pdf_of(request, ctx, view)
        audit(request, "view-summary-pdf", ctx)
        headers = {**NO_STORE, "Content-Disposition": 'inline; filename="ppact-summary.pdf"'}
        return Response(pdf, media_type="application/pdf", headers=headers)

    @router.post(
        "/l/{launch_id}/save-to-chart", name="page_save", dependencies=[Depends(require_csrf)]
    )
    async def save_to_chart(request: Request, ctx: Launch) -> Response:
        if not ctx.may_write("DocumentReference"):
            raise PageError(
                "Saving is not permitted",
                "This launch was not granted permission to write documents to the chart. "
                "Print the summary or save the PDF instead.",
                403,
            )
        loaded = await load(request, ctx)
        view = summary_of(loaded)
        pdf = await pdf_of(request, ctx, view)
        assert ctx.patient_id is not None  # noqa: S101 - load() checked it
        try:
            async with fhir_client_for(request, ctx) as client:
                result = await save_summary(
                    client,
                    patient_id=ctx.patient_id,
                    as_of=view.as_of,
                    text=summary_text(view),
                    pdf=pdf,
                    author=ctx.user,
                )
        except FhirError as exc:
            log.warning("save to chart failed", extra={"error": type(exc).__name__})
            raise PageError(
                "Not saved",
                f"The EHR refused the document or did not answer ({exc}). Nothing was "
                "saved; try again, or print the summary.",
                502,
            ) from None
        audit(request, "save-summary", ctx, detail=result.outcome)
        target = nav(request, ctx, view.as_of)["summary"]
        separator = "&" if "?" in target else "?"
        return RedirectResponse(
            f"{target}{separator}saved={result.outcome}#save", status_code=303, headers=NO_STORE
        )

    @router.get("/l/{launch_id}/style.css", name="page_style")
    async def style(request: Request, ctx: Launch) -> Response:
        css = await style_css(ctx.smart_style_url, ctx.iss)
        return Response(
            css, media_type="text/css", headers={"Cache-Control": "private, max-age=600"}
        )

    return router


SAVED = frozenset({"created", "exists"})
