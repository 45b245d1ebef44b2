"""Launch routes: ``/launch``, ``/callback``, the open-server patient picker, logout, our JWKS.

Why: this is how the app gets into the chart (SMART App Launch 2.2 "EHR Launch" and "Standalone
Launch"; docs standards section 1). The untrusted ``iss`` is looked up in the allowlist before
anything is fetched (no SSRF, no open redirect), tokens are exchanged server-side and stored in the
session store, and the browser is sent on to ``/l/{launch_id}/summary``. Open servers (configured
``open: true``) skip OAuth and show a patient picker. Every launch page answers
``Cache-Control: no-store``; failures render a page, never a stack trace.

When the authorization URL would be too long for a GET (many scopes) and the server advertises
``authorize-post`` (SAL 2.2 scopes-and-launch-context "Scope size over the wire"; docs standards
section 1), ``/launch`` answers a page whose form POSTs the same parameters to the authorization
endpoint; ``static/js/autosubmit.js`` submits it on load (no inline script) and a button does it
without JavaScript. That response alone widens CSP ``form-action`` to the endpoint's origin.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.settings import Settings
from app.storage.audit import audit
from app.storage.sessions import (
    COOKIE_NAME,
    KeyValueStore,
    LaunchRecord,
    RedisKeyValueStore,
    SessionManager,
    SqlKeyValueStore,
    load_session_key,
)
from app.web.context import (
    LaunchContext,
    LaunchDep,
    LaunchExpired,
    LaunchNotFound,
    LaunchServices,
    services,
)
from app.web.csrf import require_csrf
from app.web.picker import pick_form, pick_submit
from app.web.responses import NO_STORE, error_page, render_page, templates
from app.web.security import content_security_policy
from app.web.signing import signing_keys
from smart_launch import (
    AuthorizationRequest,
    CallbackResult,
    IssuerNotAllowed,
    PendingLaunch,
    SmartConfiguration,
    SmartLaunchError,
    begin_launch,
    check_callback,
    exchange_code,
    validate_id_token,
)

__all__ = ["NO_STORE", "build_router", "error_page", "install_launch", "templates"]

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def _set_cookie(response: Response, value: str, max_age: int) -> None:
    # Written by hand: Starlette's set_cookie supports Partitioned (CHIPS) on Python 3.14 only.
    # Secure + SameSite=None so the EHR iframe gets it; Partitioned keeps it to that EHR's frame.
    response.headers.append(
        "set-cookie",
        f"{COOKIE_NAME}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=None; "
        "Partitioned",
    )


def _session_for(request: Request, smart: LaunchServices) -> tuple[str, bool]:
    """The cookie's live session, or a new one (True when new: the cookie must be set)."""
    existing = smart.sessions.session_id_from(request.cookies)
    return (existing, False) if existing else (smart.sessions.new_session(), True)


def _redirect(url: str, smart: LaunchServices, session_id: str, new: bool) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303, headers=NO_STORE)
    if new:
        _set_cookie(response, smart.sessions.cookie_value(session_id), smart.sessions.ttl_seconds)
    return response


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, or None when it is not one."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def _post_authorize_page(
    request: Request,
    authorization: AuthorizationRequest,
    smart: LaunchServices,
    session_id: str,
    new: bool,
) -> HTMLResponse:
    """The page that POSTs the authorization request (``authorize-post``).

    Its CSP allows ``form-action`` to the authorization endpoint's origin, on this response only;
    the security middleware leaves a CSP already set alone.
    """
    origin = _origin(authorization.endpoint)
    if origin is None:
        return error_page(
            request,
            "The launch could not start",
            "The EHR's sign-in address is not a web address the app can send you to.",
            502,
        )
    frame_ancestors = request.app.state.settings.frame_ancestors
    csp = content_security_policy(frame_ancestors, form_targets=[origin])
    response = templates.TemplateResponse(
        request,
        "authorize_post.html",
        {"endpoint": authorization.endpoint, "fields": sorted(authorization.params.items())},
        headers={**NO_STORE, "Content-Security-Policy": csp},
    )
    if new:
        _set_cookie(response, smart.sessions.cookie_value(session_id), smart.sessions.ttl_seconds)
    return response


def _pending_data(pending: PendingLaunch, session_id: str) -> dict[str, Any]:
    configuration = asdict(pending.configuration)
    configuration["capabilities"] = sorted(pending.configuration.capabilities)
    # The issuer entry (and its client secret) is looked up again on the callback.
    return {
        "session_id": session_id,
        "state": pending.state,
        "code_verifier": pending.code_verifier,
        "nonce": pending.nonce,
        "iss": pending.iss,
        "scope": pending.scope,
        "launch": pending.launch,
        "created_at": pending.created_at.isoformat(),
        "configuration": configuration,
    }


def _pending_from(data: dict[str, Any], smart: LaunchServices) -> PendingLaunch:
    raw = data["configuration"]
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    values["capabilities"] = frozenset(raw["capabilities"])
    configuration = SmartConfiguration(**values)
    return PendingLaunch(
        state=data["state"],
        code_verifier=data["code_verifier"],
        nonce=data["nonce"],
        iss=data["iss"],
        issuer=smart.registry.lookup(data["iss"]),
        configuration=configuration,
        scope=data["scope"],
        launch=data["launch"],
        created_at=datetime.fromisoformat(data["created_at"]),
    )


class _OnePending:
    """check_callback's store for the one launch already popped from the session store."""

    def __init__(self, pending: PendingLaunch) -> None:
        self._pending: PendingLaunch | None = pending

    def save(self, pending: PendingLaunch) -> None:
        self._pending = pending

    def pop(self, state: str) -> PendingLaunch | None:
        found, self._pending = self._pending, None
        return found if found is not None and found.state == state else None


async def launch(request: Request, iss: str | None = None, launch: str | None = None) -> Response:
    """``GET /launch``: EHR launch (iss + launch), standalone (iss or the default issuer)."""
    smart = services(request)
    iss = iss or smart.default_iss
    try:
        if not iss:
            raise IssuerNotAllowed("the launch names no FHIR server (iss)")
        issuer = smart.registry.lookup(iss)
    except IssuerNotAllowed:
        log.info("launch refused: issuer not registered")
        return error_page(
            request,
            "This FHIR server is not registered",
            "The app was launched from a FHIR server it is not configured to trust, so it did "
            "not contact it. Ask your administrator to register the server.",
            400,
        )
    if launch is not None and not launch.strip():
        log.info("launch refused: empty launch parameter")
        return error_page(
            request,
            "The launch could not start",
            "The EHR sent an empty launch code, so the app cannot tell which chart it was opened "
            "from. Open the PPACT app again from the patient's chart; if this keeps happening, "
            "ask your administrator to check the app's registration in the EHR.",
            400,
        )
    session_id, new = _session_for(request, smart)
    if issuer.open:
        launch_id = secrets.token_urlsafe(24)
        record = LaunchRecord(
            launch_id=launch_id, session_id=session_id, iss=issuer.iss, open_server=True
        )
        smart.sessions.save_launch(record)
        return _redirect(f"/l/{launch_id}/pick", smart, session_id, new)
    try:
        async with smart.client() as http:
            plan = await begin_launch(
                http,
                smart.registry,
                iss,
                launch=launch,
                now=_now(),
                ehr_launch=launch is not None,
                cache=smart.discovery,
            )
    except SmartLaunchError as exc:
        log.info("launch failed: %s", type(exc).__name__)
        return error_page(request, "The launch could not start", str(exc), 502)
    if plan.request is None:  # pragma: no cover - open servers are handled above
        return error_page(request, "The launch could not start", "No authorization needed.", 500)
    smart.sessions.save_pending(
        plan.request.pending.state, _pending_data(plan.request.pending, session_id)
    )
    if plan.request.method == "POST":
        log.info("launch: authorization request sent by POST")
        return _post_authorize_page(request, plan.request, smart, session_id, new)
    return _redirect(plan.request.url, smart, session_id, new)


async def callback(request: Request) -> Response:
    """``GET /callback``: check state, exchange the code, validate the id_token, store tokens."""
    smart = services(request)
    params = dict(request.query_params)
    session_id = smart.sessions.session_id_from(request.cookies)
    data = smart.sessions.pop_pending(params.get("state", "")) if params.get("state") else None
    if data is None or data["session_id"] != session_id:
        log.info("callback refused: unknown state or other session")
        return error_page(
            request,
            "This sign-in link is not valid",
            "The sign-in answer does not match a launch started in this browser, or it was "
            "already used. Launch the app again from the EHR.",
            400,
        )
    now = _now()
    try:
        pending = _pending_from(data, smart)
        accepted: CallbackResult = check_callback(params, _OnePending(pending), now=now)
        async with smart.client() as http:
            token = await exchange_code(http, accepted, now=now, keys=smart.keys)
            user = token.fhir_user
            if token.id_token and "openid" in token.granted_scopes.tokens:
                claims = await validate_id_token(
                    http,
                    token.id_token,
                    configuration=pending.configuration,
                    client_id=pending.issuer.client_id or "",
                    nonce=pending.nonce,
                    now=now,
                    jwks_cache=smart.jwks,
                )
                user = claims.fhir_user or user
    except SmartLaunchError as exc:
        log.info("callback failed: %s", type(exc).__name__)
        return error_page(request, "Sign-in failed", str(exc), 400)
    if not token.patient:
        return error_page(
            request, "No patient in context", "The EHR did not say which patient to open.", 400
        )
    record = LaunchRecord(
        launch_id=secrets.token_urlsafe(24),
        session_id=data["session_id"],
        iss=pending.iss,
        open_server=False,
        patient_id=token.patient,
        user=user,
        encounter=token.encounter,
        need_patient_banner=token.need_patient_banner,
        smart_style_url=token.smart_style_url,
        intent=token.intent,
        tenant=token.tenant,
        scope=token.scope,
        access_token=token.access_token,
        refresh_token=token.refresh_token,
        expires_at=token.expires_at,
    )
    smart.sessions.save_launch(record)
    audit(request, "launch", LaunchContext.from_record(record))
    return _redirect(f"/l/{record.launch_id}/summary", smart, data["session_id"], False)


async def logout(request: Request, launch_id: str) -> Response:
    """``POST /l/{launch_id}/logout``: end the browser's session and all its launches."""
    smart = services(request)
    session_id = smart.sessions.session_id_from(request.cookies)
    if session_id:
        record = smart.sessions.load_launch(launch_id)
        if record is not None and record.session_id == session_id:
            audit(request, "logout", LaunchContext.from_record(record))
        smart.sessions.end_session(session_id)
    response = render_page(
        request,
        "launch_again.html",
        {"title": "Signed out", "message": "You are signed out of the PPACT app."},
    )
    _set_cookie(response, "", 0)
    return response


async def jwks(request: Request) -> JSONResponse:
    """``GET /.well-known/jwks.json``: our public keys for ``private_key_jwt``."""
    return JSONResponse(
        services(request).keys.jwks(), headers={"Cache-Control": "public, max-age=3600"}
    )


def build_router() -> APIRouter:
    """The launch routes."""
    router = APIRouter()
    router.add_api_route("/launch", launch, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/callback", callback, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/.well-known/jwks.json", jwks, methods=["GET"])

    async def get_pick(request: Request, ctx: LaunchDep, page: str = "1") -> Response:
        # Parsed here rather than by FastAPI, whose 422 is JSON: a bad page number gets a page.
        if not page.isdigit() or len(page) > 6:
            return error_page(
                request, "Page not found", "That page number is not valid; go back to page 1.", 400
            )
        return await pick_form(request, ctx, int(page))

    async def post_pick(request: Request, ctx: LaunchDep) -> Response:
        return await pick_submit(request, ctx)

    csrf = [Depends(require_csrf)]
    router.add_api_route("/l/{launch_id}/pick", get_pick, methods=["GET"])
    router.add_api_route("/l/{launch_id}/pick", post_pick, methods=["POST"], dependencies=csrf)
    router.add_api_route("/l/{launch_id}/logout", logout, methods=["POST"], dependencies=csrf)
    return router


async def _launch_again(request: Request, exc: Exception) -> Response:
    expired = isinstance(exc, LaunchExpired)
    return render_page(
        request,
        "launch_again.html",
        {
            "title": "Launch the app again" if expired else "This launch is not open here",
            "message": (
                "Your access to the EHR has ended. Open the PPACT app again from the chart."
                if expired
                else "This page belongs to a launch that has ended or was opened in another "
                "browser. Open the PPACT app again from the chart."
            ),
        },
        401 if expired else 404,
    )


def install_launch(app: FastAPI, settings: Settings) -> LaunchServices:
    """Wire the SMART launch: services on ``app.state.smart``, routes, "launch again" handlers.

    Args:
        app: The app being built (``app.state.engine`` must be set).
        settings: Its settings (issuers, keys, sessions).

    Returns:
        The services (also on ``app.state.smart``).
    """
    if settings.redis_url:
        store: KeyValueStore = RedisKeyValueStore.from_url(settings.redis_url)
    else:
        store = SqlKeyValueStore(app.state.engine)
    secret = settings.session_key.get_secret_value() if settings.session_key else None
    sessions = SessionManager(
        store,
        load_session_key(settings.data_dir, secret),
        ttl_seconds=settings.session_ttl_seconds,
    )
    smart = LaunchServices(
        registry=settings.issuer_registry,
        keys=signing_keys(settings),
        sessions=sessions,
        default_iss=settings.default_iss,
    )
    app.state.smart = smart
    app.include_router(build_router())
    app.add_exception_handler(LaunchExpired, _launch_again)
    app.add_exception_handler(LaunchNotFound, _launch_again)
    return smart
