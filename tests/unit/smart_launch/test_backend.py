"""Backend Services: client_credentials with a fresh assertion, token cache, one fetch at a time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import RSAKey

from smart_launch import (
    BackendServicesClient,
    IssuerConfig,
    KeyRing,
    SigningKey,
    SmartConfiguration,
    SmartLaunchError,
    TokenError,
    backend_scope,
)
from smart_launch.client_auth import CLIENT_ASSERTION_TYPE

from .conftest import CLIENT_ID, FHIR_BASE, NOW, TOKEN_URL

pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backend_issuer(rs384_key: SigningKey) -> IssuerConfig:
    return IssuerConfig(
        iss=FHIR_BASE,
        client_id=CLIENT_ID,
        auth_method="private_key_jwt",
        key_id=rs384_key.kid,
        open=True,
    )


@pytest.fixture
def backend(
    client: httpx.AsyncClient,
    backend_issuer: IssuerConfig,
    configuration: SmartConfiguration,
    key_ring: KeyRing,
    clock: FakeClock,
) -> BackendServicesClient:
    return BackendServicesClient(client, backend_issuer, configuration, key_ring, clock=clock)


def token_body(access_token: str, expires_in: int | None = 300) -> dict[str, object]:
    body: dict[str, object] = {
        "access_token": access_token,
        "token_type": "bearer",
        "scope": "system/Patient.rs",
    }
    if expires_in is not None:
        body["expires_in"] = expires_in
    return body


def form(request: httpx.Request) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(request.content.decode()).items()}


async def test_client_credentials_request_with_system_scopes_and_signed_assertion(
    backend: BackendServicesClient,
    respx_mock: respx.MockRouter,
    rs384_key: SigningKey,
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(json=token_body("t1"))

    assert await backend.access_token() == "t1"

    body = form(route.calls.last.request)
    assert body["grant_type"] == "client_credentials"
    assert body["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    assert body["scope"] == backend.scope
    assert body["scope"].split()[:2] == ["system/Group.rs", "system/Patient.rs"]
    assert all(scope.startswith("system/") for scope in body["scope"].split())
    public = RSAKey.import_key(rs384_key.public_jwk())
    claims = jwt.decode(body["client_assertion"], public, algorithms=["RS384"]).claims
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == TOKEN_URL
    assert set(body) == {"grant_type", "scope", "client_assertion_type", "client_assertion"}


async def test_token_is_reused_until_shortly_before_expiry_with_a_new_assertion_each_fetch(
    backend: BackendServicesClient, respx_mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = respx_mock.post(TOKEN_URL)
    route.side_effect = [
        httpx.Response(200, json=token_body("t1")),
        httpx.Response(200, json=token_body("t2")),
    ]

    assert await backend.access_token() == "t1"
    clock.now = NOW + timedelta(seconds=269)  # 300 s lifetime, 30 s margin
    assert await backend.access_token() == "t1"
    assert route.call_count == 1

    clock.now = NOW + timedelta(seconds=270)
    assert await backend.access_token() == "t2"
    assert route.call_count == 2
    first, second = (form(call.request)["client_assertion"] for call in route.calls)
    assert first != second


async def test_concurrent_callers_share_one_token_request(
    backend: BackendServicesClient, respx_mock: respx.MockRouter
) -> None:
    async def slow_token(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        return httpx.Response(200, json=token_body("shared"))

    route = respx_mock.post(TOKEN_URL).mock(side_effect=slow_token)

    tokens = await asyncio.gather(*(backend.access_token() for _ in range(10)))

    assert tokens == ["shared"] * 10
    assert route.call_count == 1


async def test_short_lived_token_is_still_reused_for_half_its_life(
    backend: BackendServicesClient, respx_mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(json=token_body("t", expires_in=20))

    await backend.access_token()
    clock.now = NOW + timedelta(seconds=9)
    await backend.access_token()
    assert route.call_count == 1
    clock.now = NOW + timedelta(seconds=10)
    await backend.access_token()
    assert route.call_count == 2


async def test_token_without_expiry_is_reused_only_briefly(
    backend: BackendServicesClient, respx_mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(json=token_body("t", expires_in=None))

    await backend.access_token()
    clock.now = NOW + timedelta(seconds=89)  # 120 s assumed lifetime, 30 s margin
    await backend.access_token()
    assert route.call_count == 1
    clock.now = NOW + timedelta(seconds=90)
    await backend.access_token()
    assert route.call_count == 2


async def test_invalidate_forces_a_new_token(
    backend: BackendServicesClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(json=token_body("t"))

    await backend.access_token()
    backend.invalidate()
    await backend.access_token()

    assert route.call_count == 2


async def test_refusal_is_a_token_error_and_nothing_is_cached(
    backend: BackendServicesClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(TOKEN_URL)
    route.side_effect = [
        httpx.Response(401, json={"error": "invalid_client", "error_description": "Unknown kid"}),
        httpx.Response(200, json=token_body("t")),
    ]

    with pytest.raises(TokenError, match="Unknown kid"):
        await backend.access_token()
    assert await backend.access_token() == "t"


async def test_backend_services_need_private_key_jwt(
    client: httpx.AsyncClient, configuration: SmartConfiguration, key_ring: KeyRing
) -> None:
    issuer = IssuerConfig(iss=FHIR_BASE, client_id=CLIENT_ID, redirect_uri="https://a/cb")

    with pytest.raises(SmartLaunchError, match="private_key_jwt"):
        BackendServicesClient(client, issuer, configuration, key_ring)


def test_backend_scope_prefers_the_configured_scopes(
    backend_issuer: IssuerConfig, configuration: SmartConfiguration
) -> None:
    configured = IssuerConfig(
        iss=FHIR_BASE,
        client_id=CLIENT_ID,
        auth_method="private_key_jwt",
        key_id="k",
        open=True,
        scopes=("system/Patient.read", "system/Group.read"),
    )

    assert backend_scope(configured, configuration) == "system/Patient.read system/Group.read"
    assert "system/MedicationRequest.rs" in backend_scope(backend_issuer, configuration).split()
