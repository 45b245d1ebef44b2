"""Validate the OpenID Connect ``id_token`` of a SMART launch.

Follows SMART App Launch 2.2 scopes-and-launch-context "Scopes for requesting identity data" and
OpenID Connect Core 1.0 section 3.1.3.7: the signature is checked with a key from the server's
``jwks_uri`` (fetched with our client and cached; fetched again once when an unknown ``kid`` shows
up, for key rotation), the algorithm must be on an explicit allowlist (RS256, RS384, ES256, ES384;
never ``none`` or HS*), ``iss`` must be the discovered issuer, ``aud`` must contain our client id,
``exp`` is checked with a small leeway and ``nonce`` must be the one we sent. Signature checks are
done by joserfc.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from smart_launch._clock import require_aware
from smart_launch.discovery import SmartConfiguration
from smart_launch.errors import IdTokenError

__all__ = [
    "ID_TOKEN_ALGORITHMS",
    "IdTokenClaims",
    "JwksCache",
    "validate_id_token",
    "verify_id_token",
]

ID_TOKEN_ALGORITHMS: tuple[str, ...] = ("RS256", "RS384", "ES256", "ES384")
DEFAULT_LEEWAY_SECONDS = 60
_KEY_TYPES = {"RS": "RSA", "ES": "EC"}


@dataclass(frozen=True, slots=True)
class IdTokenClaims:
    """The checked claims of an id_token.

    Attributes:
        sub: The user's subject id at the issuer.
        fhir_user: ``fhirUser`` (or SAL 1 ``profile``): a relative or absolute URL of a
            Practitioner, PractitionerRole, Patient, RelatedPerson or Person; None if absent.
        issuer: The ``iss`` claim (equal to the discovered issuer).
        claims: Every claim, as sent.
    """

    sub: str
    fhir_user: str | None
    issuer: str
    claims: Mapping[str, Any] = field(repr=False)


def _key_for(header: Mapping[str, Any], key_set: KeySet) -> RSAKey | ECKey | None:
    kid = header.get("kid")
    kty = _KEY_TYPES.get(str(header.get("alg", ""))[:2])
    candidates = [
        key
        for key in key_set.keys
        if isinstance(key, RSAKey | ECKey)
        and key.key_type == kty
        and (kid is None or key.kid == kid)
        and key.get("use") in (None, "sig")
    ]
    # Without a kid, a single key of the right type is unambiguous (OIDC Core 10.1).
    return candidates[0] if len(candidates) == 1 else None


def verify_id_token(
    id_token: str,
    key_set: KeySet,
    *,
    issuer: str,
    client_id: str,
    nonce: str | None,
    now: datetime,
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
) -> IdTokenClaims:
    """Check an id_token against known keys; pure, no I/O.

    Args:
        id_token: The compact JWT.
        key_set: The issuer's public keys.
        issuer: The discovered issuer; ``iss`` must equal it.
        client_id: Our client id; ``aud`` must contain it.
        nonce: The nonce we sent; None only when we sent none.
        now: Current time, timezone-aware.
        leeway_seconds: Clock-skew allowance for ``exp`` and ``iat``.

    Returns:
        The checked claims.

    Raises:
        IdTokenError: Malformed token, disallowed algorithm, no matching key, bad signature or a
            claim that does not check out.
    """
    require_aware(now)
    try:
        header = jws.extract_compact(id_token.encode()).protected
    except (JoseError, ValueError) as exc:
        raise IdTokenError(f"the id_token is not a compact JWS ({type(exc).__name__})") from None
    alg = header.get("alg")
    if alg not in ID_TOKEN_ALGORITHMS:
        raise IdTokenError(f"the id_token algorithm {alg!r} is not allowed")
    key = _key_for(header, key_set)
    if key is None:
        raise IdTokenError("no key in the issuer's JWKS matches the id_token")
    try:
        token = jwt.decode(id_token, key, algorithms=[alg])
    except JoseError as exc:
        raise IdTokenError(f"the id_token signature does not verify ({exc.error})") from None
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    if nonce is not None:
        options["nonce"] = {"essential": True, "value": nonce}
    registry = jwt.JWTClaimsRegistry(now=int(now.timestamp()), leeway=leeway_seconds, **options)
    claims = token.claims
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise IdTokenError(f"the id_token was rejected: {exc.description or exc.error}") from None
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise IdTokenError("the id_token has several audiences and its azp is not our client")
    fhir_user = claims.get("fhirUser", claims.get("profile"))
    return IdTokenClaims(
        sub=str(claims["sub"]),
        fhir_user=fhir_user if isinstance(fhir_user, str) else None,
        issuer=issuer,
        claims=claims,
    )


class JwksCache:
    """Issuers' public key sets by ``jwks_uri``, kept for ``ttl_seconds``."""

    def __init__(
        self, *, ttl_seconds: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Create an empty cache.

        Args:
            ttl_seconds: How long a key set is reused.
            clock: Monotonic seconds; tests pass a fake.
        """
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, KeySet]] = {}

    async def get(
        self, client: httpx.AsyncClient, jwks_uri: str, *, refresh: bool = False
    ) -> KeySet:
        """The key set at ``jwks_uri``, fetched when absent, expired or ``refresh`` is True.

        Raises:
            IdTokenError: The JWKS could not be fetched or parsed.
        """
        entry = self._entries.get(jwks_uri)
        if entry is not None and not refresh and self._clock() - entry[0] < self._ttl_seconds:
            return entry[1]
        try:
            response = await client.get(jwks_uri, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
            key_set = _public_signing_keys(document)
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            raise IdTokenError(
                f"the issuer's JWKS could not be read ({type(exc).__name__})"
            ) from None
        self._entries[jwks_uri] = (self._clock(), key_set)
        return key_set


def _public_signing_keys(document: object) -> KeySet:
    """The RSA and EC public keys of a JWKS document; other key types cannot sign id_tokens."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: list[RSAKey | ECKey] = []
    for item in document["keys"]:
        # A JWKS is public; a key that carries a private member is not one we should trust.
        if not isinstance(item, Mapping) or "d" in item:
            continue
        if item.get("kty") == "RSA":
            keys.append(RSAKey.import_key(dict(item)))
        elif item.get("kty") == "EC":
            keys.append(ECKey.import_key(dict(item)))
    return KeySet(keys)  # type: ignore[arg-type]


async def validate_id_token(
    client: httpx.AsyncClient,
    id_token: str,
    *,
    configuration: SmartConfiguration,
    client_id: str,
    nonce: str | None,
    now: datetime,
    jwks_cache: JwksCache,
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
) -> IdTokenClaims:
    """Validate an id_token with the issuer's keys, fetching them through ``jwks_cache``.

    When no cached key matches the token, the JWKS is fetched once more (the server may have
    rotated its keys) before the token is rejected.

    Args:
        client: Our HTTP client.
        id_token: The compact JWT from the token response.
        configuration: The discovered configuration (``issuer`` and ``jwks_uri``).
        client_id: Our client id.
        nonce: The nonce from the PendingLaunch.
        now: Current time, timezone-aware.
        jwks_cache: Shared key cache.
        leeway_seconds: Clock-skew allowance.

    Returns:
        The checked claims.

    Raises:
        IdTokenError: The server publishes no issuer or jwks_uri, or the token is rejected.
    """
    if not configuration.issuer or not configuration.jwks_uri:
        raise IdTokenError(
            f"{configuration.iss} publishes no issuer or jwks_uri; its id_token cannot be checked"
        )
    key_set = await jwks_cache.get(client, configuration.jwks_uri)
    if not _has_key(id_token, key_set):
        key_set = await jwks_cache.get(client, configuration.jwks_uri, refresh=True)
    return verify_id_token(
        id_token,
        key_set,
        issuer=configuration.issuer,
        client_id=client_id,
        nonce=nonce,
        now=now,
        leeway_seconds=leeway_seconds,
    )


def _has_key(id_token: str, key_set: KeySet) -> bool:
    """False only when the token is readable and no key matches it (maybe a rotated key)."""
    try:
        header = jws.extract_compact(id_token.encode()).protected
    except (JoseError, ValueError):
        return True
    return _key_for(header, key_set) is not None
