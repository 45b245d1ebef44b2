"""id_token validation: signature from jwks_uri, algorithm allowlist, iss, aud, exp, nonce."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from smart_launch import (
    IdTokenError,
    JwksCache,
    SmartConfiguration,
    validate_id_token,
    verify_id_token,
)

from .conftest import AUTH_ISSUER, CLIENT_ID, JWKS_URL, NOW, sign_id_token

pytestmark = pytest.mark.anyio

NONCE = "n-0123456789abcdefghijklmnopqrstuvwxyzABCDE"


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def key_set(server_jwks: dict[str, Any]) -> KeySet:
    return KeySet.import_key_set(server_jwks)  # type: ignore[arg-type]


def verify(token: str, key_set: KeySet, *, now: datetime = NOW, nonce: str | None = NONCE) -> Any:
    return verify_id_token(
        token, key_set, issuer=AUTH_ISSUER, client_id=CLIENT_ID, nonce=nonce, now=now
    )


@pytest.mark.parametrize(
    ("key_name", "alg"),
    [
        pytest.param("server_rsa_key", "RS256", id="RS256"),
        pytest.param("server_rsa_key", "RS384", id="RS384"),
        pytest.param("server_ec_key", "ES256", id="ES256"),
    ],
)
def test_valid_id_token_gives_subject_and_fhir_user(
    request: pytest.FixtureRequest, key_set: KeySet, key_name: str, alg: str
) -> None:
    key = request.getfixturevalue(key_name)

    claims = verify(sign_id_token(key, alg=alg, nonce=NONCE), key_set)

    assert claims.sub == "practitioner-7"
    assert claims.fhir_user == "Practitioner/7"
    assert claims.issuer == AUTH_ISSUER
    assert claims.claims["nonce"] == NONCE


def test_es384_id_token_verifies() -> None:
    key = ECKey.generate_key("P-384", parameters={"kid": "p384"})
    key_set = KeySet.import_key_set({"keys": [key.as_dict(private=False)]})

    claims = verify(sign_id_token(key, alg="ES384", nonce=NONCE), key_set)

    assert claims.sub == "practitioner-7"


def test_sal1_profile_claim_is_read_as_fhir_user(server_rsa_key: RSAKey, key_set: KeySet) -> None:
    token = sign_id_token(
        server_rsa_key,
        nonce=NONCE,
        fhirUser=None,
        profile="https://ehr.example.org/fhir/r4/PractitionerRole/3",
    )

    assert verify(token, key_set).fhir_user == "https://ehr.example.org/fhir/r4/PractitionerRole/3"


def test_signature_by_another_key_with_the_same_kid_is_rejected(key_set: KeySet) -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "ehr-rsa-1"})

    with pytest.raises(IdTokenError, match="signature"):
        verify(sign_id_token(impostor, nonce=NONCE), key_set)


def test_tampered_payload_is_rejected(server_rsa_key: RSAKey, key_set: KeySet) -> None:
    header, _, signature = sign_id_token(server_rsa_key, nonce=NONCE).split(".")
    forged_payload = b64(
        {
            "iss": AUTH_ISSUER,
            "aud": CLIENT_ID,
            "sub": "admin",
            "iat": int(NOW.timestamp()),
            "exp": int(NOW.timestamp()) + 300,
            "nonce": NONCE,
        }
    )

    with pytest.raises(IdTokenError, match="signature"):
        verify(f"{header}.{forged_payload}.{signature}", key_set)


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        pytest.param({"aud": "someone-else"}, "aud", id="wrong-aud"),
        pytest.param({"aud": ["someone-else", "other"]}, "aud", id="aud-list-without-us"),
        pytest.param({"iss": "https://ehr.example.org/fhir/r4"}, "iss", id="fhir-base-as-iss"),
        pytest.param({"iss": "https://attacker.example.com"}, "iss", id="wrong-iss"),
        pytest.param(
            {"exp": int(NOW.timestamp()) - 61, "iat": int(NOW.timestamp()) - 400},
            "expired",
            id="expired",
        ),
        pytest.param({"nonce": "another-nonce"}, "nonce", id="wrong-nonce"),
        pytest.param({"nonce": None}, "nonce", id="missing-nonce"),
        pytest.param({"exp": None}, "exp", id="missing-exp"),
        pytest.param({"sub": None}, "sub", id="missing-sub"),
    ],
)
def test_bad_claims_are_rejected(
    server_rsa_key: RSAKey, key_set: KeySet, claims: dict[str, Any], message: str
) -> None:
    token = sign_id_token(server_rsa_key, **{"nonce": NONCE, **claims})

    with pytest.raises(IdTokenError, match=message):
        verify(token, key_set)


def test_expiry_within_the_leeway_is_accepted(server_rsa_key: RSAKey, key_set: KeySet) -> None:
    token = sign_id_token(server_rsa_key, nonce=NONCE, exp=int(NOW.timestamp()) - 30)

    assert verify(token, key_set).sub == "practitioner-7"


def test_audience_list_with_us_needs_azp_naming_us(server_rsa_key: RSAKey, key_set: KeySet) -> None:
    audience = [CLIENT_ID, "other-client"]
    accepted = sign_id_token(server_rsa_key, nonce=NONCE, aud=audience, azp=CLIENT_ID)
    refused = sign_id_token(server_rsa_key, nonce=NONCE, aud=audience)

    assert verify(accepted, key_set).sub == "practitioner-7"
    with pytest.raises(IdTokenError, match="azp"):
        verify(refused, key_set)


def test_alg_none_is_rejected(key_set: KeySet) -> None:
    unsigned = ".".join(
        [
            b64({"alg": "none", "kid": "ehr-rsa-1"}),
            b64(
                {
                    "iss": AUTH_ISSUER,
                    "aud": CLIENT_ID,
                    "sub": "x",
                    "exp": int(NOW.timestamp()) + 60,
                    "nonce": NONCE,
                }
            ),
            "",
        ]
    )

    with pytest.raises(IdTokenError, match="'none' is not allowed"):
        verify(unsigned, key_set)


def test_hs256_is_rejected(key_set: KeySet) -> None:
    # A shared-secret token under the kid of the server's RSA key: never accepted, whatever
    # the secret (joserfc already refuses to key HMAC with a public key).
    hmac_key = OctKey.generate_key(256)
    issued_at = int(NOW.timestamp())
    token = jwt.encode(
        {"alg": "HS256", "kid": "ehr-rsa-1"},
        {"iss": AUTH_ISSUER, "aud": CLIENT_ID, "sub": "x", "iat": issued_at, "exp": issued_at + 60},
        hmac_key,
        algorithms=["HS256"],
    )

    with pytest.raises(IdTokenError, match="'HS256' is not allowed"):
        verify(token, key_set, nonce=None)


def test_token_without_kid_uses_the_single_key_of_its_type(server_rsa_key: RSAKey) -> None:
    key_set = KeySet.import_key_set({"keys": [server_rsa_key.as_dict(private=False)]})
    token = jwt.encode(
        {"alg": "RS256"},
        {
            "iss": AUTH_ISSUER,
            "aud": CLIENT_ID,
            "sub": "s",
            "iat": int(NOW.timestamp()),
            "exp": int(NOW.timestamp()) + 60,
            "nonce": NONCE,
        },
        server_rsa_key,
    )

    assert verify(token, key_set).sub == "s"


def test_garbage_is_rejected(key_set: KeySet) -> None:
    with pytest.raises(IdTokenError, match="compact JWS"):
        verify("not-a-jwt", key_set)


# --- fetching the JWKS ------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


async def test_keys_are_fetched_from_jwks_uri_once_and_cached(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    configuration: SmartConfiguration,
    server_jwks: dict[str, Any],
    server_rsa_key: RSAKey,
) -> None:
    route = respx_mock.get(JWKS_URL).respond(json=server_jwks)
    cache = JwksCache(ttl_seconds=600, clock=FakeClock())

    for _ in range(3):
        claims = await validate_id_token(
            client,
            sign_id_token(server_rsa_key, nonce=NONCE),
            configuration=configuration,
            client_id=CLIENT_ID,
            nonce=NONCE,
            now=NOW,
            jwks_cache=cache,
        )
        assert claims.fhir_user == "Practitioner/7"

    assert route.call_count == 1


async def test_unknown_kid_refetches_the_jwks_once_for_key_rotation(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    configuration: SmartConfiguration,
    server_jwks: dict[str, Any],
) -> None:
    rotated = RSAKey.generate_key(2048, parameters={"kid": "ehr-rsa-2"})
    route = respx_mock.get(JWKS_URL)
    route.side_effect = [
        httpx.Response(200, json=server_jwks),
        httpx.Response(200, json={"keys": [rotated.as_dict(private=False)]}),
    ]
    cache = JwksCache(clock=FakeClock())
    await cache.get(client, JWKS_URL)

    claims = await validate_id_token(
        client,
        sign_id_token(rotated, nonce=NONCE),
        configuration=configuration,
        client_id=CLIENT_ID,
        nonce=NONCE,
        now=NOW,
        jwks_cache=cache,
    )

    assert claims.sub == "practitioner-7"
    assert route.call_count == 2


async def test_token_from_an_unknown_key_is_rejected_after_one_refetch(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    configuration: SmartConfiguration,
    server_jwks: dict[str, Any],
) -> None:
    route = respx_mock.get(JWKS_URL).respond(json=server_jwks)
    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"})

    with pytest.raises(IdTokenError, match="no key"):
        await validate_id_token(
            client,
            sign_id_token(stranger, nonce=NONCE),
            configuration=configuration,
            client_id=CLIENT_ID,
            nonce=NONCE,
            now=NOW,
            jwks_cache=JwksCache(clock=FakeClock()),
        )
    assert route.call_count == 2


async def test_jwks_fetch_failure_is_an_id_token_error(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter, configuration: SmartConfiguration
) -> None:
    respx_mock.get(JWKS_URL).respond(500)

    with pytest.raises(IdTokenError, match="JWKS"):
        await JwksCache().get(client, JWKS_URL)


async def test_private_members_in_a_served_jwks_are_ignored(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter, server_rsa_key: RSAKey
) -> None:
    respx_mock.get(JWKS_URL).respond(json={"keys": [server_rsa_key.as_dict(private=True)]})

    key_set = await JwksCache().get(client, JWKS_URL)

    assert key_set.keys == []


async def test_server_without_issuer_or_jwks_uri_cannot_have_its_id_token_checked(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    configuration: SmartConfiguration,
    server_rsa_key: RSAKey,
) -> None:
    for broken in (replace(configuration, issuer=None), replace(configuration, jwks_uri=None)):
        with pytest.raises(IdTokenError, match="publishes no issuer or jwks_uri"):
            await validate_id_token(
                client,
                sign_id_token(server_rsa_key, nonce=NONCE),
                configuration=broken,
                client_id=CLIENT_ID,
                nonce=NONCE,
                now=NOW,
                jwks_cache=JwksCache(),
            )
    assert len(respx_mock.calls) == 0


def test_naive_now_is_refused(server_rsa_key: RSAKey, key_set: KeySet) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(sign_id_token(server_rsa_key, nonce=NONCE), key_set, now=NOW.replace(tzinfo=None))


def test_expiry_is_compared_as_an_instant_whatever_the_timezone(
    server_rsa_key: RSAKey, key_set: KeySet
) -> None:
    token = sign_id_token(server_rsa_key, nonce=NONCE)  # exp = NOW + 300 s

    assert verify(token, key_set, now=NOW.astimezone(UTC)).sub == "practitioner-7"
    with pytest.raises(IdTokenError, match="expired"):
        verify(token, key_set, now=(NOW + timedelta(seconds=361)).astimezone(UTC))
