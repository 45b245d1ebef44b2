"""Client authentication at the token endpoint: public, symmetric or asymmetric.

Follows SMART App Launch 2.2 client authentication: a public client sends ``client_id`` in the
form; ``client-confidential-symmetric`` sends ``Authorization: Basic
base64(client_id:client_secret)``; ``client-confidential-asymmetric`` sends a ``client_assertion``
JWT signed RS384 or ES384 (header ``alg``, ``kid``, ``typ=JWT``; claims ``iss`` = ``sub`` =
client_id, ``aud`` = token URL, ``exp`` at most five minutes ahead, a unique ``jti``). Signing is
done by joserfc; a new assertion is signed for every request.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

from joserfc import jwt

from smart_launch._clock import require_aware
from smart_launch.allowlist import IssuerConfig
from smart_launch.authorize import new_secret
from smart_launch.errors import SmartLaunchError
from smart_launch.keys import KeyRing, SigningKey

__all__ = [
    "ASSERTION_LIFETIME",
    "CLIENT_ASSERTION_TYPE",
    "client_assertion",
    "client_authentication",
]

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = timedelta(minutes=4)
"""Below the five-minute ceiling of SAL client-confidential-asymmetric, leaving room for skew."""


def client_assertion(
    *, client_id: str, token_url: str, signing_key: SigningKey, now: datetime
) -> str:
    """A signed ``client_assertion`` JWT (SAL client-confidential-asymmetric).

    Args:
        client_id: Our client id; both ``iss`` and ``sub``.
        token_url: The token endpoint; the ``aud``.
        signing_key: RS384 or ES384 private key.
        now: Signing time, timezone-aware.

    Returns:
        The compact JWT; a fresh ``jti`` each call.
    """
    require_aware(now)
    issued_at = int(now.timestamp())
    header = {"alg": signing_key.alg, "kid": signing_key.kid, "typ": "JWT"}
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "iat": issued_at,
        "exp": issued_at + int(ASSERTION_LIFETIME.total_seconds()),
        "jti": new_secret(),
    }
    return jwt.encode(header, claims, signing_key.key, algorithms=[signing_key.alg])


def client_authentication(
    issuer: IssuerConfig, token_url: str, *, now: datetime, keys: KeyRing | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Form fields and headers that authenticate us at the token endpoint.

    Args:
        issuer: The allowlist entry (auth method, client id, secret or key id).
        token_url: The token endpoint (the assertion's ``aud``).
        now: Current time, timezone-aware.
        keys: Our signing keys; required for ``private_key_jwt``.

    Returns:
        ``(form_fields, headers)`` to add to the token request.

    Raises:
        SmartLaunchError: No client id, or the signing key is missing.
    """
    if not issuer.client_id:
        raise SmartLaunchError(f"{issuer.iss} has no client_id registered")
    if issuer.auth_method == "client_secret_basic":
        # SAL client-confidential-symmetric: base64(client_id:client_secret), as written there.
        credentials = f"{issuer.client_id}:{issuer.client_secret}".encode()
        return {}, {"Authorization": "Basic " + base64.b64encode(credentials).decode("ascii")}
    if issuer.auth_method == "private_key_jwt":
        if keys is None or issuer.key_id is None:
            raise SmartLaunchError(f"{issuer.iss} uses private_key_jwt but no key is loaded")
        assertion = client_assertion(
            client_id=issuer.client_id,
            token_url=token_url,
            signing_key=keys.get(issuer.key_id),
            now=now,
        )
        return {"client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": assertion}, {}
    return {"client_id": issuer.client_id}, {}
