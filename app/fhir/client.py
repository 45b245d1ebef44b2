"""One async FHIR R4 client: search with paging, read, batch read, bounded retries.

Follows the R4 RESTful API (https://hl7.org/fhir/R4/http.html), search paging
(https://hl7.org/fhir/R4/search.html#count: `Bundle.link[next]` is opaque and followed exactly as
given) and the vendor notes in docs standards sections 4 and 5. The shape (one client used as an
async context manager, pooled connections, temporary vs fatal failures) follows
cumulus-fhir-support's `client.py` / `http.py`.

Authentication is not done here: the caller passes a token provider and a refresh hook, so this
module imports nothing of the SMART client.

Logs carry resource types, status codes, counts and timings only; never URLs, ids, query strings
or resource content.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx

from app.fhir.bundles import (
    RESOURCE_ID,
    RESOURCE_TYPE,
    ReadResults,
    SearchResult,
    batch_entry,
    collect_page,
    ignored_params,
    link,
    split_reference,
)
from app.fhir.errors import (
    FhirConnectionError,
    FhirTimeout,
    InvalidResponse,
    NotFound,
    error_for_status,
)
from app.fhir.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after, retry_delay

__all__ = [
    "FhirClient",
    "ReadResults",
    "RetryPolicy",
    "SearchLimits",
    "SearchResult",
    "parse_retry_after",
    "split_reference",
]

log = logging.getLogger(__name__)
# httpx logs every request URL, query string (patient ids, codes) included, at INFO.
logging.getLogger("httpx").setLevel(logging.WARNING)

FHIR_JSON = "application/fhir+json"

TokenProvider = Callable[[], Awaitable[str | None]]
RefreshHook = Callable[[], Awaitable[bool]]
SearchParams = Sequence[tuple[str, str]] | Mapping[str, str]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NO_CACHE = {"Cache-Control": "no-cache"}


@dataclass(frozen=True, slots=True)
class SearchLimits:
    """Bounds for following one search's pages.

    Attributes:
        max_pages: Pages read at most; paging stops there and the result is truncated.
        max_seconds: Wall-clock budget for all pages of one search.
        page_size: `_count` hint sent when the caller did not set one (servers may ignore it).
    """

    max_pages: int = 50
    max_seconds: float = 120.0
    # Charts of COT patients hold hundreds of orders and fills: a large page means fewer
    # sequential round trips; servers cap it to their own maximum (HAPI 1000 by default).
    page_size: int = 500


class FhirClient:
    """Async FHIR R4 client for one server (base URL), used as an async context manager.

    Args:
        base_url: FHIR base, e.g. "https://ehr.example.org/fhir/R4".
        access_token: Returns the current bearer token (None: send no Authorization header).
        on_unauthorized: Called once per request on 401; True when a new token was got, and
            the request is then retried with it.
        timeout_seconds: Per-request timeout (connect, read, write, pool).
        retry: Retry bounds for 429/502/503/504, timeouts and connection failures.
        limits: Paging bounds for searches.
        max_connections: Connection pool size; above the loader's requests in flight
            (`load.DEFAULT_CONCURRENCY`) so one record load goes out in one wave.
        transport: httpx transport override (tests).
        sleep: Awaitable sleep (tests pass a fake one).
        clock: Monotonic clock in seconds (tests pass a fake one).
        rng: Random source for backoff jitter.
    """

    def __init__(
        self,
        base_url: str,
        *,
        access_token: TokenProvider | None = None,
        on_unauthorized: RefreshHook | None = None,
        timeout_seconds: float = 20.0,
        retry: RetryPolicy | None = None,
        limits: SearchLimits | None = None,
        max_connections: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._base_url = httpx.URL(self._base)
        if self._base_url.scheme not in _DEFAULT_PORTS or not self._base_url.host:
            raise ValueError("FHIR base URL must be an absolute http(s) URL")
        self._access_token = access_token
        self._on_unauthorized = on_unauthorized
        self._retry = retry or RetryPolicy()
        self._limits = limits or SearchLimits()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            follow_redirects=False,
        )

    @property
    def base_url(self) -> str:
        """The FHIR base URL, without a trailing slash."""
        return self._base

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._http.aclose()

    # ------------------------------------------------------------------ interactions

    async def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        """Read one resource (`GET [base]/[type]/[id]`).

        Raises:
            NotFound: 404 or 410.
            NotPermitted: 403.
            FhirError: any other failure.
        """
        _check_type(resource_type)
        if not RESOURCE_ID.fullmatch(resource_id):
            raise ValueError("not a FHIR resource id")
        body = await self._send(
            "GET", f"{self._base}/{resource_type}/{resource_id}", what=f"{resource_type} read"
        )
        if body.get("resourceType") != resource_type:
            raise InvalidResponse(f"{resource_type} read returned a {body.get('resourceType')}")
        return body

    async def search(self, resource_type: str, params: SearchParams) -> list[dict[str, Any]]:
        """Search and follow all pages; return matched then included resources.

        Outcome entries are left out; use `search_detailed` to see them, the included
        resources apart, and whether paging was cut short.
        """
        return (await self.search_detailed(resource_type, params)).resources

    async def capabilities(self) -> dict[str, Any]:
        """The server's CapabilityStatement (`GET [base]/metadata`).

        Raises:
            FhirError: it could not be read.
        """
        return await self._send("GET", f"{self._base}/metadata", what="metadata")

    async def search_detailed(
        self, resource_type: str | None, params: SearchParams, *, fresh: bool = False
    ) -> SearchResult:
        """Search `[base]/[type]?params` and follow `Bundle.link[next]` exactly as given.

        `resource_type=None` searches the whole system (`[base]?params`, R4 search 3.1.1.0).

        Next links are followed only on the base URL's origin (scheme, host, port); a link to
        another origin stops paging and is recorded in `truncated`, as are the page and time
        caps. A next page answering 404/410 (HAPI's cached search expired) restarts the search
        once.

        Args:
            resource_type: e.g. "MedicationRequest"; None for a system-level search.
            params: Search parameters; repeated names as a sequence of pairs. `_count` is added
                as a hint when absent.
            fresh: Send `Cache-Control: no-cache`: HAPI JPA otherwise answers a repeated search
                from its result cache for 60 s, stale after writes (deletes) in between.

        Returns:
            The entries of all pages read.

        Raises:
            FhirError: the first page failed, or a later page failed after a restart.
        """
        if resource_type is not None:
            _check_type(resource_type)
        sent = list(params.items()) if isinstance(params, Mapping) else list(params)
        if not any(name == "_count" for name, _ in sent):
            sent.append(("_count", str(self._limits.page_size)))
        rtype = resource_type or "system"
        what = f"{rtype} search"
        started = self._clock()
        result = SearchResult(rtype)
        restarted = False
        search_url = f"{self._base}/{resource_type}" if resource_type else self._base
        url = search_url
        page_params: list[tuple[str, str]] | None = sent
        while True:
            try:
                bundle = await self._send(
                    "GET", url, params=page_params, what=what, headers=_NO_CACHE if fresh else None
                )
            except NotFound:
                if result.pages == 0 or restarted:
                    raise
                # HAPI: `_getpages` links point at a cached search that can expire; restart.
                log.info("fhir search restarted", extra={"fhir_resource_type": rtype})
                restarted = True
                result = SearchResult(rtype)
                url, page_params = search_url, sent
                continue
            if bundle.get("resourceType") != "Bundle":
                raise InvalidResponse(f"{what} returned a {bundle.get('resourceType')}")
            result.pages += 1
            if result.pages == 1:
                result.ignored_params = ignored_params(sent, bundle)
                result.self_link = link(bundle, "self")
            collect_page(bundle, result)
            next_url = link(bundle, "next")
            if next_url is None:
                break
            next_absolute = self._base_url.join(next_url)
            if not self._same_origin(next_absolute):
                result.truncated = "the next-page link points to another server; paging stopped"
                log.warning("fhir next link off origin", extra={"fhir_resource_type": rtype})
                break
            if result.pages >= self._limits.max_pages:
                result.truncated = f"page cap reached: stopped after page {result.pages}"
                break
            if self._clock() - started >= self._limits.max_seconds:
                result.truncated = f"time cap reached: stopped after page {result.pages}"
                break
            url, page_params = str(next_absolute), None
        log.info(
            "fhir search done",
            extra={
                "fhir_resource_type": rtype,
                "pages": result.pages,
                "matches": len(result.matches),
                "included": len(result.included),
                "truncated": result.truncated is not None,
            },
        )
        return result

    async def batch_read(self, refs: Sequence[str], *, chunk_size: int = 50) -> ReadResults:
        """Read relative references ("Medication/123") with batch Bundles of GETs.

        One batch per `chunk_size` references. Entries that fail inside a successful batch are
        reported in `failed`; a refused batch (the POST itself fails) raises, so the caller
        can fall back to single reads.

        Raises:
            FhirError: the batch request as a whole failed.
        """
        found: dict[str, dict[str, Any]] = {}
        failed: dict[str, str] = {}
        wanted: list[str] = []
        for ref in dict.fromkeys(refs):
            if split_reference(ref) is None:
                failed[ref] = "not a relative reference Type/id"
            else:
                wanted.append(ref)
        for start in range(0, len(wanted), chunk_size):
            chunk = wanted[start : start + chunk_size]
            bundle = {
                "resourceType": "Bundle",
                "type": "batch",
                "entry": [{"request": {"method": "GET", "url": ref}} for ref in chunk],
            }
            body = await self._send("POST", self._base, json_body=bundle, what="batch read")
            entries = body.get("entry")
            if (
                body.get("resourceType") != "Bundle"
                or body.get("type") != "batch-response"
                or not isinstance(entries, list)
                or len(entries) != len(chunk)
            ):
                raise InvalidResponse("batch read did not return one batch-response entry per read")
            for ref, entry in zip(chunk, entries, strict=True):
                resource, problem = batch_entry(ref, entry)
                if resource is not None:
                    found[ref] = resource
                else:
                    failed[ref] = problem
        return ReadResults(found, failed)

    async def transaction(
        self, bundle: Mapping[str, Any], *, retry_server_errors: bool = False
    ) -> dict[str, Any]:
        """Send a transaction or batch Bundle (`POST [base]`, R4 http.html#transaction).

        Args:
            bundle: A Bundle of type "transaction" or "batch".
            retry_server_errors: Also retry 500 (besides 429/502/503/504). Only safe when every
                entry is idempotent (PUT by id, DELETE), as a repeat then changes nothing.

        Returns:
            The "transaction-response" or "batch-response" Bundle, one entry per request.

        Raises:
            FhirRequestError: the server refused the Bundle as a whole (its OperationOutcome
                text is in the message).
            InvalidResponse: the answer is not the matching response Bundle.
        """
        kind = bundle.get("type")
        if bundle.get("resourceType") != "Bundle" or kind not in ("transaction", "batch"):
            raise ValueError("not a transaction or batch Bundle")
        entries = bundle.get("entry")
        sent = len(entries) if isinstance(entries, list) else 0
        retry = RETRY_STATUSES | {500} if retry_server_errors else RETRY_STATUSES
        body = await self._send(
            "POST", self._base, json_body=dict(bundle), what=str(kind), retry_statuses=retry
        )
        received = body.get("entry")
        if (
            body.get("resourceType") != "Bundle"
            or body.get("type") != f"{kind}-response"
            or len(received if isinstance(received, list) else []) != sent
        ):
            raise InvalidResponse(f"{kind} did not return one {kind}-response entry per request")
        return body

    # ------------------------------------------------------------------ transport

    async def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: list[tuple[str, str]] | None = None,
        json_body: dict[str, Any] | None = None,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One request with token, 401 refresh-once and bounded retries; the parsed JSON body."""
        started = self._clock()
        attempt = 0
        refreshed = False
        content = json.dumps(json_body).encode() if json_body is not None else None
        while True:
            sent_headers = {"Accept": FHIR_JSON, **(headers or {})}
            if content is not None:
                sent_headers["Content-Type"] = FHIR_JSON
            if self._access_token is not None:
                token = await self._access_token()
                if token:
                    sent_headers["Authorization"] = f"Bearer {token}"
            sent_at = self._clock()
            try:
                response = await self._http.request(
                    method,
                    url,
                    params=httpx.QueryParams(tuple(params)) if params is not None else None,
                    content=content,
                    headers=sent_headers,
                )
            except httpx.TimeoutException as exc:
                delay = self._retry_delay(attempt, started, None)
                log.warning("fhir timeout", extra={"fhir_what": what, "attempt": attempt})
                if delay is None:
                    raise FhirTimeout(f"No answer in time on {what}") from exc
                attempt += 1
                await self._sleep(delay)
                continue
            except httpx.TransportError as exc:
                delay = self._retry_delay(attempt, started, None)
                log.warning(
                    "fhir connection failed",
                    extra={"fhir_what": what, "attempt": attempt, "error": type(exc).__name__},
                )
                if delay is None:
                    raise FhirConnectionError(f"FHIR server unreachable on {what}") from exc
                attempt += 1
                await self._sleep(delay)
                continue
            status = response.status_code
            log.info(
                "fhir response",
                extra={
                    "fhir_what": what,
                    "status": status,
                    "elapsed_ms": round((self._clock() - sent_at) * 1000),
                },
            )
            if status == 401 and self._on_unauthorized is not None and not refreshed:
                refreshed = True
                if await self._on_unauthorized():
                    continue
            if status in retry_statuses:
                wait = parse_retry_after(response.headers.get("Retry-After"), now=datetime.now(UTC))
                delay = self._retry_delay(attempt, started, wait)
                if delay is not None:
                    attempt += 1
                    await self._sleep(delay)
                    continue
            if status >= 300:
                raise error_for_status(status, _json_or_none(response), what=what)
            body = _json_or_none(response)
            if not isinstance(body, dict):
                raise InvalidResponse(f"{what} did not return a JSON object")
            return body

    def _retry_delay(self, attempt: int, started: float, retry_after: float | None) -> float | None:
        elapsed = self._clock() - started
        return retry_delay(self._retry, attempt, elapsed, retry_after, self._rng)

    def _same_origin(self, url: httpx.URL) -> bool:
        def origin(u: httpx.URL) -> tuple[str, str, int | None]:
            return (u.scheme, u.host.lower(), u.port or _DEFAULT_PORTS.get(u.scheme))

        return origin(url) == origin(self._base_url)


# ---------------------------------------------------------------------- helpers


def _check_type(resource_type: str) -> None:
    if not RESOURCE_TYPE.fullmatch(resource_type):
        raise ValueError("not a FHIR resource type")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None
