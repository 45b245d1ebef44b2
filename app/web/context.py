"""Per-launch context: what a page under ``/l/{launch_id}/...`` knows about its launch.

A launch is one SMART App Launch (EHR, standalone or open-server pick) in one browser tab. Its
tokens and context live server-side in the session store (``app.storage.sessions``), keyed by an
opaque random ``launch_id`` that appears in URL paths; the browser's session cookie only proves
that the launch belongs to this browser. Two tabs launched for two patients therefore never share
a context (docs product "Security"; SMART App Launch 2.2 "App Launch: Launch and Authorization").

Pages depend on :func:`require_launch` and read FHIR through :func:`fhir_client_for`, which sends
the launch's access token and refreshes it once on 401. Access tokens are refreshed shortly before
expiry when a refresh token exists; when that fails the launch is over and the exception handler
(``app.web.launch``) shows the "launch again" page. The refresh lock is per process: with several
instances two may refresh at once, and with rotating refresh tokens the loser gets
``invalid_grant``. So a failed refresh first reloads the launch, and when its access token has
changed (the other instance won) that token is used and the launch stays open.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated
from weakref import WeakValueDictionary

import httpx
from fastapi import Depends, Request

from app.fhir.client import FhirClient
from app.storage.sessions import LaunchRecord, SessionManager
from smart_launch import (
    DiscoveryCache,
    GrantedScopes,
    IssuerRegistry,
    JwksCache,
    KeyRing,
    SmartLaunchError,
    TokenResponse,
    discover,
    parse_scopes,
    refresh_access_token,
)

__all__ = [
    "REFRESH_MARGIN",
    "LaunchContext",
    "LaunchDep",
    "LaunchExpired",
    "LaunchNotFound",
    "LaunchServices",
    "fhir_client_for",
    "require_launch",
    "services",
]

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(seconds=60)
"""Refresh an access token this long before it expires."""


class LaunchNotFound(Exception):
    """No launch with this id belongs to this browser session (rendered as 404)."""


class LaunchExpired(Exception):
    """The launch existed but can no longer reach the FHIR server (rendered as 401)."""


@dataclass(frozen=True)
class LaunchContext:
    """What one launch knows; never holds a token.

    Attributes:
        launch_id: Opaque and random; used in URL paths as ``/l/{launch_id}/...``.
        iss: The FHIR base URL.
        patient_id: The patient in context, or None (an open server before the pick).
        user: ``fhirUser`` (a reference such as ``Practitioner/123``) or None.
        need_patient_banner: Whether the app must show its own patient banner.
        smart_style_url: The EHR style document URL, if sent.
        intent: The launch ``intent``, if sent.
        tenant: The EHR ``tenant``, if sent.
        open_server: True for an open (unauthenticated) FHIR server.
        granted: The granted scopes; None on an open server, where everything is allowed.
    """

    launch_id: str
    iss: str
    patient_id: str | None
    user: str | None
    need_patient_banner: bool
    smart_style_url: str | None
    intent: str | None
    tenant: str | None
    open_server: bool
    granted: GrantedScopes | None

    def may_read(self, resource_type: str) -> bool:
        """True when the launch may read and search every resource of this type."""
        return self.granted is None or self.granted.granted(resource_type, "read")

    def may_write(self, resource_type: str) -> bool:
        """True when the launch may create resources of this type (``c`` / v1 ``write``)."""
        return self.granted is None or self.granted.granted(resource_type, "c")

    @classmethod
    def from_record(cls, record: LaunchRecord) -> LaunchContext:
        """The context of a stored launch (the tokens stay behind)."""
        return cls(
            launch_id=record.launch_id,
            iss=record.iss,
            patient_id=record.patient_id,
            user=record.user,
            need_patient_banner=record.need_patient_banner,
            smart_style_url=record.smart_style_url,
            intent=record.intent,
            tenant=record.tenant,
            open_server=record.open_server,
            granted=None if record.open_server else parse_scopes(record.scope),
        )


@dataclass
class LaunchServices:
    """The shared SMART machinery, one per app (``app.state.smart``).

    Attributes:
        registry: The issuer allowlist.
        keys: Our signing keys (``private_key_jwt``, served as the JWKS).
        sessions: The server-side session and launch store.
        transport: httpx transport override for :meth:`client` (tests).
        discovery: Discovery cache shared by launches.
        jwks: Issuer JWKS cache for id_token validation.
        default_iss: The issuer a standalone launch without ``iss`` uses.
    """

    registry: IssuerRegistry
    keys: KeyRing
    sessions: SessionManager
    discovery: DiscoveryCache = field(default_factory=DiscoveryCache)
    jwks: JwksCache = field(default_factory=JwksCache)
    default_iss: str | None = None
    transport: httpx.AsyncBaseTransport | None = None
    _locks: WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=WeakValueDictionary, repr=False
    )

    def client(self) -> httpx.AsyncClient:
        """A client for discovery, token and JWKS calls; it never follows redirects.

        A redirect from a FHIR server's discovery document to another origin is therefore not
        followed (the allowlist names the server, not wherever it points to).
        """
        return httpx.AsyncClient(
            timeout=httpx.Timeout(10.0), follow_redirects=False, transport=self.transport
        )

    def lock_for(self, launch_id: str) -> asyncio.Lock:
        """One lock per launch, so concurrent requests refresh its token once.

        Held weakly: a lock lives while some request holds it, so ended launches leave nothing.
        """
        lock = self._locks.get(launch_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[launch_id] = lock
        return lock


def services(request: Request) -> LaunchServices:
    """The app's LaunchServices."""
    smart: LaunchServices = request.app.state.smart
    return smart


def _now() -> datetime:
    return datetime.now(UTC)


def _load(request: Request, launch_id: str) -> LaunchRecord:
    smart = services(request)
    session_id = smart.sessions.session_id_from(request.cookies)
    record = smart.sessions.load_launch(launch_id) if session_id else None
    if record is None or record.session_id != session_id:
        # The same answer for "no such launch" and "another browser's launch".
        raise LaunchNotFound
    return record


async def _refresh(request: Request, record: LaunchRecord) -> LaunchRecord:
    """Refresh the launch's access token; raise LaunchExpired when that is impossible."""
    smart = services(request)
    if not record.refresh_token:
        raise LaunchExpired
    try:
        issuer = smart.registry.lookup(record.iss)
        token = TokenResponse(
            access_token=record.access_token or "",
            expires_at=record.expires_at,
            scope=record.scope or "",
            refresh_token=record.refresh_token,
        )
        async with smart.client() as http:
            configuration = await discover(http, issuer, cache=smart.discovery)
            fresh = await refresh_access_token(
                http, token, issuer=issuer, configuration=configuration, now=_now(), keys=smart.keys
            )
    except SmartLaunchError as exc:
        log.info("token refresh failed: %s", type(exc).__name__)
        # Another instance may have refreshed meanwhile (the lock is per process), spending the
        # rotating refresh token we sent: its access token is then in the store, so use it.
        latest = smart.sessions.load_launch(record.launch_id)
        if (
            latest is not None
            and latest.session_id == record.session_id
            and latest.access_token
            and latest.access_token != record.access_token
        ):
            log.info("token was refreshed by another instance; using that token")
            return latest
        smart.sessions.delete_launch(record.launch_id)
        raise LaunchExpired from None
    updated = record.with_token(
        access_token=fresh.access_token,
        refresh_token=fresh.refresh_token,
        expires_at=fresh.expires_at,
        scope=fresh.scope or record.scope,
    )
    smart.sessions.save_launch(updated)
    log.info("access token refreshed")
    return updated


async def _fresh_record(request: Request, launch_id: str, *, force: bool = False) -> LaunchRecord:
    record = _load(request, launch_id)
    if record.open_server:
        return record
    expiring = record.expires_at is not None and _now() >= record.expires_at - REFRESH_MARGIN
    if not (force or expiring):
        return record
    async with services(request).lock_for(launch_id):
        current = _load(request, launch_id)
        if current.access_token != record.access_token:
            return current  # another request refreshed it meanwhile
        return await _refresh(request, current)


async def require_launch(request: Request, launch_id: str) -> LaunchContext:
    """FastAPI dependency for routes under ``/l/{launch_id}/...``.

    Checks that the launch belongs to this browser's session and refreshes its access token when
    it expires within :data:`REFRESH_MARGIN` (and a refresh token exists).

    Args:
        request: The incoming request (its session cookie is read).
        launch_id: The path parameter.

    Returns:
        The launch's context.

    Raises:
        LaunchNotFound: No such launch for this session (the handler answers 404).
        LaunchExpired: The token expired and could not be refreshed (the handler answers 401).
    """
    record = await _fresh_record(request, launch_id)
    if not record.open_server and record.expires_at is not None and _now() >= record.expires_at:
        raise LaunchExpired
    return LaunchContext.from_record(record)


def fhir_client_for(request: Request, ctx: LaunchContext) -> FhirClient:
    """A FhirClient for this launch's FHIR server and token.

    The token is read from the session store for every request, and a 401 triggers one refresh
    (then the request is retried once). Use as ``async with fhir_client_for(request, ctx) as c:``.

    Args:
        request: The current request (for the app's services and the session cookie).
        ctx: The launch, from :func:`require_launch`.

    Returns:
        A client that the caller closes (``async with``).
    """
    if ctx.open_server:
        return FhirClient(ctx.iss)

    async def access_token() -> str | None:
        return _load(request, ctx.launch_id).access_token

    # Tokens this client got by refreshing: a 401 that comes back while one of them is current
    # was sent with the old token, so the request is retried without refreshing again.
    refreshed: set[str | None] = set()

    async def on_unauthorized() -> bool:
        try:
            current = _load(request, ctx.launch_id).access_token
            if current in refreshed:
                return True
            fresh = await _fresh_record(request, ctx.launch_id, force=True)
        except (LaunchExpired, LaunchNotFound):
            return False
        refreshed.add(fresh.access_token)
        return True

    return FhirClient(ctx.iss, access_token=access_token, on_unauthorized=on_unauthorized)


LaunchDep = Annotated[LaunchContext, Depends(require_launch)]
"""Route parameter type: ``ctx: LaunchDep`` is ``Depends(require_launch)``."""
