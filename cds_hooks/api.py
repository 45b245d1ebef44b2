"""HTTP edge of the CDS service: routes under /cds-services, JWT check, limits, CORS, errors.

CDS Hooks 2.0 "Discovery", "Calling a CDS Service", "Feedback", "HTTP Status Codes", "Trusting
CDS Clients" and "Cross-Origin Resource Sharing". Every route verifies the caller's JWT first,
with `aud` = the public URL of the endpoint called (`Settings.base_url`, never the Host header).
Bodies are read up to `cds_max_body_bytes` (larger: 413) within `BODY_TIMEOUT_SECONDS` (slower:
408), before a call takes the service's gate, so slow uploads cannot hold it; they are parsed
inside it. Every failure is a 4xx with a one-line `{"error": ...}`; an unexpected failure after
the request was understood becomes an info card saying the checks could not run, never a 5xx for
the EHR (docs/style.md "Errors").

`install(app, settings, engine)` is the one call `app.main.create_app` makes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app.clinical.terminology import load_terminology
from app.settings import Settings
from app.storage.feedback import FeedbackStore
from app.storage.replay import (
    CachedReplayStore,
    RedisReplayStore,
    ReplayStore,
    SqlReplayStore,
)
from cds_hooks.auth import JwtVerifier, parse_issuers
from cds_hooks.errors import CdsAuthError, ServiceError
from cds_hooks.feedback import store_feedback
from cds_hooks.models import CdsRequest, FeedbackRequest
from cds_hooks.services import CdsHooksService, discovery

log = logging.getLogger(__name__)

PREFIX = "/cds-services"
M = TypeVar("M", bound=BaseModel)
BODY_TIMEOUT_SECONDS = 5.0  # a whole body must arrive within this (read at call time)


def error(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A one-line error body."""
    return JSONResponse({"error": reason.splitlines()[0][:300]}, status, headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes or `BODY_TIMEOUT_SECONDS` of upload.

    Raises:
        ServiceError: 413 too large, 408 too slow.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ServiceError(413, f"body larger than {limit} bytes")
    body = bytearray()
    seconds = BODY_TIMEOUT_SECONDS
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise ServiceError(413, f"body larger than {limit} bytes")
    except TimeoutError:
        raise ServiceError(408, f"body not received within {seconds:g} s") from None
    return bytes(body)


def parse_json(body: bytes) -> Any:
    """The body as JSON.

    Raises:
        ServiceError: 400 not JSON.
    """
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ServiceError(400, "body is not valid JSON") from None


async def read_json(request: Request, limit: int) -> Any:
    """`read_body` then `parse_json`."""
    return parse_json(await read_body(request, limit))


def parse_model(model: type[M], data: Any) -> M:
    """Validate JSON into a model; the first problem as one line (422)."""
    if not isinstance(data, dict):
        raise ServiceError(400, "body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ServiceError(422, f"{where}: {first['msg']}") from None
    except RecursionError:
        raise ServiceError(400, "body is nested too deeply") from None


class PathCors:
    """Starlette's CORS middleware, applied to the CDS routes only (allowlisted origins)."""

    def __init__(self, app: ASGIApp, *, prefix: str, origins: list[str]) -> None:
        self._app = app
        self._prefix = prefix
        self._cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(self._prefix):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def build_router(
    service: CdsHooksService, verifier: JwtVerifier, *, base_url: str, max_body_bytes: int
) -> APIRouter:
    """The /cds-services routes."""
    router = APIRouter()

    async def authorised(request: Request, *paths: str) -> None:
        audiences = [f"{base_url}{PREFIX}{p}" for p in paths]
        try:
            await verifier.verify(request.headers.get("authorization"), audiences)
        except CdsAuthError as exc:
            log.warning("cds call refused", extra={"reason": str(exc)})
            raise ServiceError(401, str(exc)) from None

    @router.get(PREFIX, response_model=None)
    async def discover(request: Request) -> JSONResponse:
        try:
            await authorised(request, "")
        except ServiceError as exc:
            return error(exc.status, exc.reason, _challenge(exc.status))
        return JSONResponse(discovery().dump())

    @router.post(PREFIX + "/{service_id}", response_model=None)
    async def call(service_id: str, request: Request) -> JSONResponse:
        try:
            await authorised(request, f"/{service_id}")
            # Upload first, outside the gate (a slow client must not hold a place); parse
            # inside it, so that few parsed prefetches are alive at once (CdsHooksService.gate).
            raw = await read_body(request, max_body_bytes)
            async with service.gate:
                body = parse_model(CdsRequest, parse_json(raw))
                response = await service.call(service_id, body)
        except ServiceError as exc:
            return error(exc.status, exc.reason, _challenge(exc.status))
        except Exception as exc:  # never a 5xx for the EHR: say the checks did not run
            log.error("cds call failed", extra={"error": type(exc).__name__})
            return JSONResponse({"cards": [_failure_card()]})
        return JSONResponse(response.dump())

    @router.post(PREFIX + "/{service_id}/feedback", response_model=None)
    async def feedback(service_id: str, request: Request) -> JSONResponse:
        try:
            await authorised(request, f"/{service_id}/feedback", f"/{service_id}")
            body = parse_model(FeedbackRequest, await read_json(request, max_body_bytes))
            result = await store_feedback(
                service_id, body, store=service.store, policy=service.policy
            )
        except ServiceError as exc:
            return error(exc.status, exc.reason, _challenge(exc.status))
        return JSONResponse(
            {"stored": result.stored, "duplicates": result.duplicates, "snoozes": result.snoozes}
        )

    return router


def _challenge(status: int) -> dict[str, str] | None:
    return {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None


def _failure_card() -> dict[str, Any]:
    import uuid

    from cds_hooks.cards import SOURCE_LABEL, TOPIC_SYSTEM

    return {
        "uuid": str(uuid.uuid4()),
        "summary": "Opioid safety checks could not run for this order; check the chart directly.",
        "indicator": "info",
        "source": {
            "label": SOURCE_LABEL,
            "topic": {"system": TOPIC_SYSTEM, "code": "service-error", "display": "Service error"},
        },
    }


def install(app: FastAPI, settings: Settings, engine: Engine) -> CdsHooksService:
    """Mount the CDS service on the app: routes, CORS for allowlisted origins, app.state.cds.

    Raises:
        ValueError: `cds_trusted_issuers` is not valid (one line naming the entry).
    """
    store = FeedbackStore(engine)
    # The jti replay cache is shared by every instance: Redis when configured, else the SQL store.
    shared: ReplayStore = (
        RedisReplayStore.from_url(settings.redis_url)
        if settings.redis_url
        else SqlReplayStore(engine)
    )
    verifier = JwtVerifier(
        parse_issuers(settings.cds_trusted_issuers),
        leeway_seconds=settings.cds_jwt_leeway_seconds,
        allow_unsigned=settings.cds_allow_unsigned,
        replay=CachedReplayStore(shared),
    )
    if settings.cds_allow_unsigned:
        log.warning("PPACT_CDS_ALLOW_UNSIGNED is set: CDS calls without a JWT are accepted")
    service = CdsHooksService(
        policy=settings.policy,
        terminology=load_terminology(),
        store=store,
        timezone=settings.timezone,
        fhir_servers=frozenset(s.rstrip("/") for s in settings.cds_fhir_servers),
        deadline_seconds=settings.cds_fetch_deadline_ms / 1000,
        launch_url=f"{settings.base_url}/launch",
    )
    app.state.cds = service
    app.state.cds_verifier = verifier
    app.state.feedback_store = store
    app.include_router(
        build_router(
            service,
            verifier,
            base_url=settings.base_url,
            max_body_bytes=settings.cds_max_body_bytes,
        )
    )
    app.add_middleware(PathCors, prefix=PREFIX, origins=list(settings.cds_cors_origins))
    return service
