"""The open-server patient picker: list or search the server's patients, choose one.

Only for issuers configured as open (the demo server, a local HAPI): an authenticated EHR launch
carries its patient. Name searches are POSTed so names stay out of URLs and access logs.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.fhir.client import FhirClient, SearchLimits
from app.fhir.errors import FhirError
from app.storage.audit import audit
from app.storage.sessions import (
    LaunchRecord,
)
from app.web.context import (
    LaunchContext,
    LaunchExpired,
    services,
)
from app.web.responses import NO_STORE, error_page, render_page

__all__ = ["PICK_PAGE_SIZE", "pick_form", "pick_submit"]

log = logging.getLogger(__name__)
PICK_PAGE_SIZE = 20


def _patient_row(resource: dict[str, Any]) -> dict[str, str]:
    names = resource.get("name") or [{}]
    name = names[0] if isinstance(names[0], dict) else {}
    text = name.get("text") or " ".join(
        [*[str(g) for g in name.get("given", [])], str(name.get("family", ""))]
    )
    return {
        "id": str(resource.get("id", "")),
        "name": text.strip() or "(no name)",
        "birth_date": str(resource.get("birthDate", "")),
        "gender": str(resource.get("gender", "")),
    }


async def _pickrender_page(
    request: Request, ctx: LaunchContext, *, query: str, page: int
) -> HTMLResponse:
    params = [("_count", str(PICK_PAGE_SIZE)), ("_offset", str((page - 1) * PICK_PAGE_SIZE))]
    if query:
        params.append(("name", query))
    limits = SearchLimits(max_pages=1, page_size=PICK_PAGE_SIZE)
    try:
        async with FhirClient(ctx.iss, limits=limits) as client:
            result = await client.search_detailed("Patient", params)
    except FhirError as exc:
        log.info("patient picker search failed: %s", type(exc).__name__)
        return error_page(request, "The patient list could not be read", str(exc), 502)
    return render_page(
        request,
        "pick.html",
        {
            "launch_id": ctx.launch_id,
            "patients": [_patient_row(r) for r in result.matches],
            "query": query,
            "page": page,
            "prev_page": page - 1,
            "next_page": page + 1,
            "has_next": result.truncated is not None,
        },
    )


async def pick_form(request: Request, ctx: LaunchContext, page: int = 1) -> Response:
    """``GET /l/{launch_id}/pick``: list the open server's patients, a page at a time."""
    if not ctx.open_server:
        return RedirectResponse(f"/l/{ctx.launch_id}/summary", status_code=303, headers=NO_STORE)
    return await _pickrender_page(request, ctx, query="", page=max(1, page))


async def pick_submit(request: Request, ctx: LaunchContext) -> Response:
    """``POST /l/{launch_id}/pick``: search by name (``q``) or choose a ``patient``.

    Searches are POSTed so that patient names stay out of URLs and access logs.
    """
    if not ctx.open_server:
        return error_page(request, "Not available", "This launch already has a patient.", 400)
    form = await request.form()
    patient = form.get("patient")
    if not isinstance(patient, str) or not patient:
        query = form.get("q")
        page = form.get("page")
        number = int(page) if isinstance(page, str) and page.isdigit() else 1
        return await _pickrender_page(
            request, ctx, query=query.strip() if isinstance(query, str) else "", page=max(1, number)
        )
    try:
        async with FhirClient(ctx.iss) as client:
            await client.read("Patient", patient)
    except (FhirError, ValueError):
        return error_page(request, "Patient not found", "Choose a patient from the list.", 404)
    smart = services(request)
    record = smart.sessions.load_launch(ctx.launch_id)
    if record is None:
        raise LaunchExpired
    chosen = LaunchRecord(**{**asdict(record), "patient_id": patient})
    smart.sessions.save_launch(chosen)
    audit(request, "pick-patient", LaunchContext.from_record(chosen))
    return RedirectResponse(f"/l/{ctx.launch_id}/summary", status_code=303, headers=NO_STORE)
