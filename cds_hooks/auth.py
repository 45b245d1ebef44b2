"""Verify the CDS client's JWT on every call: discovery, services and feedback.

CDS Hooks 2.0 "Trusting CDS Clients" and "JWT Signing Algorithm", with the rules of
docs/standards.md section 3:

- `iss` must be an allowlisted issuer; its keys come from a configured JWKS, or from `jku` only
  when that (iss, jku) pair is allowlisted (never an arbitrary URL: no SSRF, no attacker keys);
  fetched key sets are cached for `JWKS_TTL_SECONDS` and refetched once on an unknown `kid`;
- `alg` is RS384 or ES384; ES256 only for the CDS Hooks sandbox issuer (it signs ES256);
  `none` and HS* are refused before anything else is read;
- `aud` must equal the public URL of the endpoint called (string or array), never a Host header;
- `exp` and `iat` are required, `nbf` honoured, all with a small leeway; `jti` is required and
  kept in a replay cache until the token expires. The cache is the product's shared store
  (`app.storage.replay`: Redis or the SQL database), so a token replayed to another instance of
  the service is refused too; this process's memory only answers for ids it has already seen.

Unsigned calls pass only when `PPACT_CDS_ALLOW_UNSIGNED=true` (development and tests).

Errors: `CdsAuthError` (cds_hooks/errors.py) for a missing, malformed, untrusted, expired or
replayed token (-> 401).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from app.storage.replay import MemoryReplayStore, ReplayStore, replay_key
from cds_hooks.errors import CdsAuthError

log = logging.getLogger(__name__)

SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
RECOMMENDED_ALGORITHMS = ("RS384", "ES384")
JWKS_TTL_SECONDS = 3600.0
JWKS_REFETCH_SECONDS = 60.0
MAX_JWKS_BYTES = 64 * 1024
MAX_TOKEN_CHARS = 16 * 1024


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """One allowlisted CDS client.

    Attributes:
        iss: the `iss` claim it signs with.
        jku: JWKS URLs it may name in the `jku` header (or that we fetch when it names none).
        jwks: a configured key set (used when the token carries no `jku`).
        algorithms: accepted `alg` values.
        tenant: expected `tenant` claim, when configured.
    """

    iss: str
    jku: tuple[str, ...] = ()
    jwks: KeySet | None = None
    algorithms: tuple[str, ...] = RECOMMENDED_ALGORITHMS
    tenant: str | None = None


def parse_issuers(entries: Iterable[Mapping[str, Any]]) -> dict[str, TrustedIssuer]:
    """Read the `cds_trusted_issuers` setting.

    Raises:
        ValueError: one line naming the entry and what is wrong with it.
    """
    issuers: dict[str, TrustedIssuer] = {}
    for index, entry in enumerate(entries):
        where = f"cds_trusted_issuers[{index}]"
        unknown = set(entry) - {"iss", "jku", "jwks", "jwks_file", "algorithms", "tenant"}
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        iss = entry.get("iss")
        if not isinstance(iss, str) or not iss:
            raise ValueError(f"{where}: iss is required")
        jku = entry.get("jku") or []
        jku = [jku] if isinstance(jku, str) else list(jku)
        if not all(isinstance(u, str) and u.startswith("https://") for u in jku):
            raise ValueError(f"{where}: jku must be https URLs")
        raw = entry.get("jwks")
        if entry.get("jwks_file"):
            raw = json.loads(Path(str(entry["jwks_file"])).read_text(encoding="utf-8"))
        try:
            key_set = KeySet.import_key_set(raw) if raw else None
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{where}: jwks is not a usable JWK Set ({exc})") from None
        if key_set is None and not jku:
            raise ValueError(f"{where}: needs jku or jwks")
        algorithms = tuple(entry.get("algorithms") or RECOMMENDED_ALGORITHMS)
        allowed = set(RECOMMENDED_ALGORITHMS) | ({"ES256"} if iss == SANDBOX_ISSUER else set())
        if not set(algorithms) <= allowed:
            raise ValueError(f"{where}: algorithms must be among {sorted(allowed)}")
        issuers[iss] = TrustedIssuer(iss, tuple(jku), key_set, algorithms, entry.get("tenant"))
    return issuers


@dataclass(frozen=True, slots=True)
class Caller:
    """A verified CDS client: issuer, token id and tenant (for logs: iss only)."""

    iss: str
    jti: str
    tenant: str | None


class JwtVerifier:
    """Checks bearer JWTs against the allowlist; holds the JWKS cache and the jti replay cache.

    Args:
        issuers: allowlisted clients by `iss`.
        leeway_seconds: clock skew allowed on exp/iat/nbf.
        allow_unsigned: accept calls without Authorization (development only).
        clock: seconds since the epoch (tests freeze it).
        transport: httpx transport for JWKS fetches (tests).
        replay: the shared `jti` replay store (`app.storage.replay`); by default this
            process's memory, which protects a single instance only.
    """

    def __init__(
        self,
        issuers: Mapping[str, TrustedIssuer],
        *,
        leeway_seconds: int = 30,
        allow_unsigned: bool = False,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
        replay: ReplayStore | None = None,
    ) -> None:
        self._issuers = dict(issuers)
        self._leeway = leeway_seconds
        self.allow_unsigned = allow_unsigned
        self._clock = clock
        self._transport = transport
        self._jwks: dict[str, tuple[KeySet, float]] = {}
        self._replay: ReplayStore = replay or MemoryReplayStore(clock=clock)

    async def verify(self, authorization: str | None, audiences: Sequence[str]) -> Caller | None:
        """Verify the Authorization header for a call to one of `audiences` (endpoint URLs).

        Returns:
            The caller, or None for an unsigned call when unsigned calls are allowed.

        Raises:
            CdsAuthError: the token is missing or not acceptable.
        """
        if not authorization:
            if self.allow_unsigned:
                return None
            raise CdsAuthError("missing bearer JWT")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
            raise CdsAuthError("Authorization is not a bearer JWT")
        try:
            compact = jws.extract_compact(token.encode("ascii"))
            header = compact.headers()
            unverified = json.loads(compact.payload)
        except (JoseError, ValueError, UnicodeError) as exc:
            raise CdsAuthError(f"malformed JWT ({type(exc).__name__})") from None
        alg = str(header.get("alg", ""))
        if alg.lower() == "none" or alg.upper().startswith("HS"):
            raise CdsAuthError(f"alg {alg} is not accepted")
        if header.get("typ") not in (None, "JWT"):
            raise CdsAuthError("typ must be JWT")
        iss = unverified.get("iss") if isinstance(unverified, dict) else None
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise CdsAuthError("issuer is not trusted")
        if alg not in issuer.algorithms:
            raise CdsAuthError(f"alg {alg} is not accepted for this issuer")
        claims = await self._verified_claims(token, header, issuer, alg)
        self._check_claims(claims, issuer, audiences)
        await self._claim_jti(issuer.iss, str(claims["jti"]), float(claims["exp"]))
        return Caller(issuer.iss, str(claims["jti"]), claims.get("tenant"))

    async def _claim_jti(self, iss: str, jti: str, exp: float) -> None:
        """Record the token id in the replay store until it expires; refuse a second use."""
        try:
            claimed = await asyncio.to_thread(
                self._replay.claim, replay_key(iss, jti), exp + self._leeway
            )
        except Exception as exc:  # the store is down: refuse rather than accept a replay
            log.error("cds jti replay store failed", extra={"error": type(exc).__name__})
            raise CdsAuthError("the token could not be checked for replay") from None
        if not claimed:
            raise CdsAuthError("jti was already used")

    async def _verified_claims(
        self, token: str, header: Mapping[str, Any], issuer: TrustedIssuer, alg: str
    ) -> dict[str, Any]:
        registry = JWSRegistry(algorithms=[alg])
        jku = header.get("jku")
        if jku is not None:
            if jku not in issuer.jku:
                raise CdsAuthError("jku is not allowlisted for this issuer")
            url: str | None = str(jku)
        elif issuer.jwks is not None:
            url = None
        else:
            url = issuer.jku[0]
        for attempt in range(2):
            keys = await self._key_set(url, refresh=attempt == 1) if url else issuer.jwks
            if keys is None:
                raise CdsAuthError("no keys configured for this issuer")
            try:
                return dict(jwt.decode(token, keys, registry=registry).claims)
            except JoseError as exc:
                unknown_kid = "kid" in str(exc).lower() or type(exc).__name__ == "MissingKeyError"
                if url is None or attempt == 1 or not unknown_kid or not self._may_refetch(url):
                    raise CdsAuthError(f"signature not verified ({exc.error})") from None
        raise CdsAuthError("signature not verified")  # pragma: no cover - loop returns or raises

    def _check_claims(
        self, claims: dict[str, Any], issuer: TrustedIssuer, audiences: Sequence[str]
    ) -> None:
        now = self._clock()
        registry = jwt.JWTClaimsRegistry(
            now=int(now),
            leeway=self._leeway,
            iss={"essential": True, "value": issuer.iss},
            aud={"essential": True, "values": list(audiences)},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise CdsAuthError(f"claims not accepted ({exc.error}: {exc.description})") from None
        if not isinstance(claims["iat"], int | float) or claims["iat"] > now + self._leeway:
            raise CdsAuthError("iat is in the future")
        if issuer.tenant is not None and claims.get("tenant") != issuer.tenant:
            raise CdsAuthError("tenant does not match")
        if not isinstance(claims["exp"], int | float):
            raise CdsAuthError("exp is not a number")

    def _may_refetch(self, url: str) -> bool:
        cached = self._jwks.get(url)
        return cached is None or time.monotonic() - cached[1] > JWKS_REFETCH_SECONDS

    async def _key_set(self, url: str, *, refresh: bool) -> KeySet:
        cached = self._jwks.get(url)
        if cached is not None and not refresh and time.monotonic() - cached[1] < JWKS_TTL_SECONDS:
            return cached[0]
        try:
            async with httpx.AsyncClient(
                timeout=2.0, follow_redirects=False, transport=self._transport
            ) as http:
                response = await http.get(url, headers={"Accept": "application/json"})
            if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
                raise CdsAuthError(f"JWKS fetch answered {response.status_code}")
            key_set = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, JoseError, KeyError, TypeError) as exc:
            log.warning("cds jwks fetch failed", extra={"error": type(exc).__name__})
            raise CdsAuthError("JWKS could not be fetched") from None
        self._jwks[url] = (key_set, time.monotonic())
        return key_set
