"""Fixtures for the SMART client: a fake EHR behind respx, real keys, a frozen non-UTC clock.

Keys are generated once per session (RSA generation is the slow part). Every HTTP call goes
through respx with ``assert_all_mocked``, so a request to anything not routed fails the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from smart_launch import (
    IssuerConfig,
    IssuerRegistry,
    KeyRing,
    SigningKey,
    SmartConfiguration,
    parse_smart_configuration,
)

FHIR_BASE = "https://ehr.example.org/fhir/r4"
AUTH_ISSUER = "https://auth.example.org/tenant-1"
AUTHORIZE_URL = "https://auth.example.org/oauth2/authorize"
TOKEN_URL = "https://auth.example.org/oauth2/token"
JWKS_URL = "https://auth.example.org/oauth2/jwks"
REDIRECT_URI = "https://ppact.example.org/launch/callback"
CLIENT_ID = "ppact-client"

# 09:30 in US Pacific standard time: a wall clock that is not UTC.
PACIFIC = timezone(timedelta(hours=-8), "PST")
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=PACIFIC)


def smart_configuration_document(**overrides: Any) -> dict[str, Any]:
    """A SAL 2.2 ``.well-known/smart-configuration`` document for the fake EHR."""
    document: dict[str, Any] = {
        "issuer": AUTH_ISSUER,
        "authorization_endpoint": AUTHORIZE_URL,
        "token_endpoint": TOKEN_URL,
        "jwks_uri": JWKS_URL,
        "capabilities": ["launch-ehr", "launch-standalone", "permission-v2", "sso-openid-connect"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
    }
    document.update(overrides)
    return document


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def rs384_key() -> SigningKey:
    return SigningKey(kid="ppact-rs384", alg="RS384", key=RSAKey.generate_key(2048))


@pytest.fixture(scope="session")
def es384_key() -> SigningKey:
    return SigningKey(kid="ppact-es384", alg="ES384", key=ECKey.generate_key("P-384"))


@pytest.fixture(scope="session")
def key_ring(rs384_key: SigningKey, es384_key: SigningKey) -> KeyRing:
    return KeyRing([rs384_key, es384_key])


@pytest.fixture(scope="session")
def server_rsa_key() -> RSAKey:
    """The EHR's id_token signing key."""
    return RSAKey.generate_key(2048, parameters={"kid": "ehr-rsa-1", "use": "sig"})


@pytest.fixture(scope="session")
def server_ec_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "ehr-ec-1", "use": "sig"})


@pytest.fixture
def server_jwks(server_rsa_key: RSAKey, server_ec_key: ECKey) -> dict[str, Any]:
    return {"keys": [server_rsa_key.as_dict(private=False), server_ec_key.as_dict(private=False)]}


def sign_id_token(
    key: RSAKey | ECKey, *, alg: str = "RS256", kid: str | None = None, **claims: Any
) -> str:
    """An id_token as the EHR would sign it; claims default to a valid token at NOW."""
    issued_at = int(NOW.timestamp())
    body: dict[str, Any] = {
        "iss": AUTH_ISSUER,
        "aud": CLIENT_ID,
        "sub": "practitioner-7",
        "iat": issued_at,
        "exp": issued_at + 300,
        "fhirUser": "Practitioner/7",
    }
    body.update(claims)
    header = {"alg": alg, "kid": kid if kid is not None else key.kid}
    return jwt.encode(
        header, {k: v for k, v in body.items() if v is not None}, key, algorithms=[alg]
    )


@pytest.fixture
def public_issuer() -> IssuerConfig:
    return IssuerConfig(iss=FHIR_BASE, client_id=CLIENT_ID, redirect_uri=REDIRECT_URI)


@pytest.fixture
def basic_issuer() -> IssuerConfig:
    return IssuerConfig(
        iss=FHIR_BASE,
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        auth_method="client_secret_basic",
        client_secret="s3cret:with/odd+chars",
    )


@pytest.fixture
def jwt_issuer(rs384_key: SigningKey) -> IssuerConfig:
    return IssuerConfig(
        iss=FHIR_BASE,
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        auth_method="private_key_jwt",
        key_id=rs384_key.kid,
    )


@pytest.fixture
def registry(public_issuer: IssuerConfig) -> IssuerRegistry:
    return IssuerRegistry([public_issuer])


@pytest.fixture
def configuration() -> SmartConfiguration:
    return parse_smart_configuration(smart_configuration_document(), iss=FHIR_BASE)


@pytest.fixture
def respx_mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
async def client(respx_mock: respx.MockRouter) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http_client:
        yield http_client
