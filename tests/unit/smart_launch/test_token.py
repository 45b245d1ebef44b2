"""Token exchange per client authentication method, response parsing, and refresh."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from smart_launch import (
    CallbackResult,
    IssuerConfig,
    KeyRing,
    SigningKey,
    SmartConfiguration,
    SmartLaunchError,
    TokenError,
    TokenResponse,
    build_authorization_request,
    client_assertion,
    exchange_code,
    parse_token_response,
    refresh_access_token,
)
from smart_launch.client_auth import CLIENT_ASSERTION_TYPE

from .conftest import CLIENT_ID, REDIRECT_URI, TOKEN_URL

pytestmark = pytest.mark.anyio

TOKEN_BODY = {
    "access_token": "access-token-one",
    "token_type": "bearer",
    "expires_in": 3600,
    "scope": "patient/MedicationRequest.rs launch openid fhirUser",
    "id_token": "id-1",
    "refresh_token": "rt-1",
    "patient": "pat-123",
    "encounter": "enc-9",
    "need_patient_banner": False,
    "smart_style_url": "https://ehr.example.org/style.json",
    "intent": "summary",
    "tenant": "clinic-a",
    "fhirContext": [{"reference": "Encounter/enc-9", "role": "launch"}, "Practitioner/7"],
}


def form(request: httpx.Request) -> dict[str, str]:
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    parsed = parse_qs(request.content.decode(), strict_parsing=True)
    assert all(len(values) == 1 for values in parsed.values())
    return {name: values[0] for name, values in parsed.items()}


def callback_for(
    issuer: IssuerConfig, configuration: SmartConfiguration, now: datetime
) -> CallbackResult:
    request = build_authorization_request(issuer, configuration, now=now, launch="l")
    return CallbackResult(code="code-1", pending=request.pending)


def public_jwk(key: SigningKey) -> RSAKey | ECKey:
    public = key.public_jwk()
    return RSAKey.import_key(public) if public["kty"] == "RSA" else ECKey.import_key(public)


# --- exchange ---------------------------------------------------------------------------------


async def test_public_client_sends_client_id_and_pkce_verifier_in_the_body(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    public_issuer: IssuerConfig,
    configuration: SmartConfiguration,
    now: datetime,
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(json=TOKEN_BODY)
    callback = callback_for(public_issuer, configuration, now)

    token = await exchange_code(client, callback, now=now)

    request = route.calls.last.request
    assert form(request) == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": REDIRECT_URI,
        "code_verifier": callback.pending.code_verifier,
        "client_id": CLIENT_ID,
    }
    assert "Authorization" not in request.headers
    assert request.headers["Accept"] == "application/json"
    assert token.access_token == "access-token-one"


async def test_confidential_symmetric_client_uses_basic_authorization(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    basic_issuer: IssuerConfig,
    configuration: SmartConfiguration,
    now: datetime,
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(json=TOKEN_BODY)
    callback = callback_for(basic_issuer, configuration, now)

    await exchange_code(client, callback, now=now)

    request = route.calls.last.request
    expected = base64.b64encode(b"ppact-client:s3cret:with/odd+chars").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    body = form(request)
    assert "client_id" not in body
    assert "client_secret" not in body
    assert body["code_verifier"] == callback.pending.code_verifier


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
async def test_confidential_asymmetric_client_sends_a_verifiable_assertion(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    configuration: SmartConfiguration,
    key_ring: KeyRing,
    now: datetime,
    alg: str,
) -> None:
    signing_key = key_ring.for_alg(alg)  # type: ignore[arg-type]
    issuer = IssuerConfig(
        iss=configuration.iss,
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        auth_method="private_key_jwt",
        key_id=signing_key.kid,
    )
    route = respx_mock.post(TOKEN_URL).respond(json=TOKEN_BODY)

    await exchange_code(client, callback_for(issuer, configuration, now), now=now, keys=key_ring)

    request = route.calls.last.request
    body = form(request)
    assert "Authorization" not in request.headers
    assert "client_id" not in body
    assert body["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    decoded = jwt.decode(body["client_assertion"], public_jwk(signing_key), algorithms=[alg])
    assert decoded.header == {"alg": alg, "kid": signing_key.kid, "typ": "JWT"}
    claims = decoded.claims
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == TOKEN_URL
    assert claims["iat"] == int(now.timestamp())
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert len(claims["jti"]) >= 22


def test_assertion_signature_fails_with_another_key(rs384_key: SigningKey, now: datetime) -> None:
    assertion = client_assertion(
        client_id=CLIENT_ID, token_url=TOKEN_URL, signing_key=rs384_key, now=now
    )
    stranger = RSAKey.generate_key(2048)

    with pytest.raises(Exception, match="signature"):
        jwt.decode(assertion, stranger, algorithms=["RS384"])


def test_each_assertion_has_a_unique_jti(es384_key: SigningKey, now: datetime) -> None:
    public = public_jwk(es384_key)
    jtis = {
        jwt.decode(
            client_assertion(
                client_id=CLIENT_ID, token_url=TOKEN_URL, signing_key=es384_key, now=now
            ),
            public,
            algorithms=["ES384"],
        ).claims["jti"]
        for _ in range(20)
    }

    assert len(jtis) == 20


async def test_private_key_jwt_without_loaded_keys_is_refused_before_any_request(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    jwt_issuer: IssuerConfig,
    configuration: SmartConfiguration,
    now: datetime,
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(json=TOKEN_BODY)

    with pytest.raises(SmartLaunchError, match="no key"):
        await exchange_code(client, callback_for(jwt_issuer, configuration, now), now=now)
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("response", "error", "description"),
    [
        pytest.param(
            httpx.Response(
                400, json={"error": "invalid_grant", "error_description": "Code expired"}
            ),
            "invalid_grant",
            "Code expired",
            id="invalid-grant",
        ),
        pytest.param(
            httpx.Response(401, json={"error": "invalid_client"}),
            "invalid_client",
            None,
            id="invalid-client",
        ),
        pytest.param(httpx.Response(502, text="<html>Bad gateway</html>"), None, None, id="html"),
    ],
)
async def test_refusal_becomes_token_error_with_the_servers_description(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    public_issuer: IssuerConfig,
    configuration: SmartConfiguration,
    now: datetime,
    response: httpx.Response,
    error: str | None,
    description: str | None,
) -> None:
    respx_mock.post(TOKEN_URL).mock(return_value=response)

    with pytest.raises(TokenError) as caught:
        await exchange_code(client, callback_for(public_issuer, configuration, now), now=now)

    assert caught.value.error == error
    assert caught.value.error_description == description
    assert caught.value.status_code == response.status_code
    assert str(response.status_code) in str(caught.value)
    if description:
        assert description in str(caught.value)


async def test_unreachable_token_endpoint_is_a_token_error(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    public_issuer: IssuerConfig,
    configuration: SmartConfiguration,
    now: datetime,
) -> None:
    respx_mock.post(TOKEN_URL).mock(side_effect=httpx.ConnectTimeout("slow"))

    with pytest.raises(TokenError, match="ConnectTimeout"):
        await exchange_code(client, callback_for(public_issuer, configuration, now), now=now)


# --- parsing ----------------------------------------------------------------------------------


def test_token_response_reads_every_context_parameter(now: datetime) -> None:
    token = parse_token_response(TOKEN_BODY, now=now)

    assert token.token_type == "Bearer"
    assert token.expires_at == now + timedelta(hours=1)
    assert token.scope == TOKEN_BODY["scope"]
    assert token.refresh_token == "rt-1"
    assert token.id_token == "id-1"
    assert token.patient == "pat-123"
    assert token.encounter == "enc-9"
    assert token.need_patient_banner is False
    assert token.smart_style_url == "https://ehr.example.org/style.json"
    assert token.intent == "summary"
    assert token.tenant == "clinic-a"
    assert token.fhir_context == (
        {"reference": "Encounter/enc-9", "role": "launch"},
        {"reference": "Practitioner/7"},
    )
    assert token.granted_scopes.granted("MedicationRequest", "read")
    assert not token.granted_scopes.granted("Observation", "read")


def test_missing_scope_means_the_requested_scope_and_banner_defaults_to_shown(
    now: datetime,
) -> None:
    token = parse_token_response(
        {"access_token": "a", "token_type": "Bearer", "fhirUser": "Practitioner/7"},
        now=now,
        requested_scope="patient/Patient.rs",
    )

    assert token.scope == "patient/Patient.rs"
    assert token.need_patient_banner is True
    assert token.expires_at is None
    assert token.fhir_user == "Practitioner/7"
    assert token.fhir_context == ()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"token_type": "Bearer"}, id="no-access-token"),
        pytest.param({"access_token": "a", "token_type": "mac"}, id="not-bearer"),
        pytest.param({"access_token": "a"}, id="no-token-type"),
        pytest.param(["a"], id="not-an-object"),
    ],
)
def test_unusable_token_response_is_a_token_error(body: object, now: datetime) -> None:
    with pytest.raises(TokenError):
        parse_token_response(body, now=now)


@pytest.mark.parametrize(
    ("expires_in", "expected_seconds"),
    [
        pytest.param(300, 300, id="int"),
        pytest.param("300", 300, id="string"),
        pytest.param(0, 0, id="zero"),
        pytest.param(-5, 0, id="negative"),
    ],
)
def test_expires_in_becomes_an_absolute_expiry(
    expires_in: object, expected_seconds: int, now: datetime
) -> None:
    token = parse_token_response(
        {"access_token": "a", "token_type": "BEARER", "expires_in": expires_in}, now=now
    )

    assert token.expires_at == now + timedelta(seconds=expected_seconds)


def test_needs_refresh_within_the_margin(now: datetime) -> None:
    token = TokenResponse(access_token="a", expires_at=now + timedelta(seconds=90))

    assert not token.needs_refresh(now)
    assert not token.needs_refresh(now + timedelta(seconds=29))
    assert token.needs_refresh(now + timedelta(seconds=30))
    assert token.needs_refresh(now, margin=timedelta(seconds=120))
    assert not TokenResponse(access_token="a").needs_refresh(now)


def test_tokens_stay_out_of_repr(now: datetime) -> None:
    text = repr(parse_token_response(TOKEN_BODY, now=now))

    assert "access-token-one" not in text
    assert "rt-1" not in text
    assert "id-1" not in text
    # Identifiers stay out too, so a logged token response carries no PHI.
    assert "pat-123" not in text
    assert "enc-9" not in text
    assert "clinic-a" in text


# --- refresh ----------------------------------------------------------------------------------


@pytest.fixture
def current(now: datetime) -> TokenResponse:
    return parse_token_response(TOKEN_BODY, now=now - timedelta(minutes=59))


async def test_refresh_sends_the_refresh_token_and_a_new_one_replaces_it(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    public_issuer: IssuerConfig,
    configuration: SmartConfiguration,
    current: TokenResponse,
    now: datetime,
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(
        json={
            "access_token": "at-2",
            "token_type": "Bearer",
            "expires_in": 600,
            "refresh_token": "rt-2",
        }
    )

    fresh = await refresh_access_token(
        client, current, issuer=public_issuer, configuration=configuration, now=now
    )

    assert form(route.calls.last.request) == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-1",
        "client_id": CLIENT_ID,
    }
    assert fresh.access_token == "at-2"
    assert fresh.refresh_token == "rt-2"
    assert fresh.expires_at == now + timedelta(minutes=10)
    # Context the refresh answer left out is kept.
    assert fresh.patient == "pat-123"
    assert fresh.encounter == "enc-9"
    assert fresh.need_patient_banner is False
    assert fresh.scope == current.scope
    assert fresh.fhir_context == current.fhir_context


async def test_refresh_without_a_new_refresh_token_keeps_the_old_one(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    basic_issuer: IssuerConfig,
    configuration: SmartConfiguration,
    current: TokenResponse,
    now: datetime,
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(
        json={"access_token": "at-2", "token_type": "Bearer", "scope": "patient/Patient.rs"}
    )

    fresh = await refresh_access_token(
        client,
        current,
        issuer=basic_issuer,
        configuration=configuration,
        now=now,
        scope="patient/Patient.rs",
    )

    request = route.calls.last.request
    assert request.headers["Authorization"].startswith("Basic ")
    assert form(request) == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-1",
        "scope": "patient/Patient.rs",
    }
    assert fresh.refresh_token == "rt-1"
    assert fresh.scope == "patient/Patient.rs"


async def test_refresh_with_private_key_jwt_signs_a_new_assertion(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    jwt_issuer: IssuerConfig,
    configuration: SmartConfiguration,
    current: TokenResponse,
    key_ring: KeyRing,
    rs384_key: SigningKey,
    now: datetime,
) -> None:
    route = respx_mock.post(TOKEN_URL).respond(json={"access_token": "a", "token_type": "Bearer"})

    await refresh_access_token(
        client, current, issuer=jwt_issuer, configuration=configuration, now=now, keys=key_ring
    )

    body = form(route.calls.last.request)
    assert body["grant_type"] == "refresh_token"
    claims = jwt.decode(
        body["client_assertion"], public_jwk(rs384_key), algorithms=["RS384"]
    ).claims
    assert claims["aud"] == TOKEN_URL


async def test_refresh_failure_is_a_token_error(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    public_issuer: IssuerConfig,
    configuration: SmartConfiguration,
    current: TokenResponse,
    now: datetime,
) -> None:
    respx_mock.post(TOKEN_URL).respond(
        400, json={"error": "invalid_grant", "error_description": "Refresh token revoked"}
    )

    with pytest.raises(TokenError, match="Refresh token revoked") as caught:
        await refresh_access_token(
            client, current, issuer=public_issuer, configuration=configuration, now=now
        )
    assert caught.value.error == "invalid_grant"


async def test_refresh_without_a_refresh_token_makes_no_request(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    public_issuer: IssuerConfig,
    configuration: SmartConfiguration,
    current: TokenResponse,
    now: datetime,
) -> None:
    with pytest.raises(TokenError, match="no refresh token"):
        await refresh_access_token(
            client,
            replace(current, refresh_token=None),
            issuer=public_issuer,
            configuration=configuration,
            now=now,
        )
    assert len(respx_mock.calls) == 0
