"""The JWT accept/reject matrix, with real keys and real signatures (JWKS served by respx).

CDS Hooks 2.0 "Trusting CDS Clients": allowlisted iss and jku, aud = the endpoint URL, exp/iat/
nbf with leeway, jti replay, RS384/ES384 (ES256 for the sandbox only), none and HS* refused.
"""

from __future__ import annotations

import base64
import json
import logging
import time

import httpx
import pytest
import respx
from joserfc.jwk import ECKey, OctKey, RSAKey

from cds_hooks.auth import SANDBOX_ISSUER, SANDBOX_JKU, parse_issuers
from tests.unit.cds_hooks.conftest import SELECT, _factory
from tests.unit.cds_hooks.support import (
    OXY_5,
    hook_request,
    medication_request,
    monitored_cot_patient,
    prefetch_for,
    sign_jwt,
)

BASE = "https://ppact.example.org"
EHR = "https://ehr.example.org"
JKU = "https://ehr.example.org/.well-known/jwks.json"
OTHER_JKU = "https://attacker.example/jwks.json"
SERVICE_URL = f"{BASE}{SELECT}"

RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
EC384 = ECKey.generate_key("P-384", parameters={"kid": "ec-1"})
EC256 = ECKey.generate_key("P-256", parameters={"kid": "ec-256"})
STRANGER = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})  # same kid, other key


def public_jwks(*keys):
    return {"keys": [k.as_dict(private=False) for k in keys]}


ISSUERS = [
    {"iss": EHR, "jku": [JKU]},
    {"iss": "https://static.example.org", "jwks": public_jwks(EC384), "algorithms": ["ES384"]},
    {"iss": SANDBOX_ISSUER, "jku": [SANDBOX_JKU], "algorithms": ["ES256", "ES384", "RS384"]},
]


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory):
    """One data directory (signing keys, database) for the module; a fresh app per test."""
    return tmp_path_factory.mktemp("cds-auth")


@pytest.fixture
def signed_client(shared_dir):
    with _factory(shared_dir) as make:
        yield make(public_url=BASE, cds_allow_unsigned=False, cds_trusted_issuers=ISSUERS)


@pytest.fixture
def jwks_server():
    with respx.mock(assert_all_called=False) as router:
        ehr = router.get(JKU).mock(return_value=httpx.Response(200, json=public_jwks(RSA)))
        sandbox = router.get(SANDBOX_JKU).mock(
            return_value=httpx.Response(200, json=public_jwks(EC256))
        )
        attacker = router.get(OTHER_JKU).mock(
            return_value=httpx.Response(200, json=public_jwks(STRANGER))
        )
        yield {"ehr": ehr, "sandbox": sandbox, "attacker": attacker}


def call(client, token, url=SELECT):
    request = hook_request(
        "order-select",
        "p1",
        drafts=[medication_request("d1", *OXY_5, patient="p1")],
        prefetch=prefetch_for(monitored_cot_patient("p1")),
    )
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(url, json=request, headers=headers)


def unsigned(header, claims):
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def claims(**extra):
    now = int(time.time())
    body = {"iss": EHR, "aud": SERVICE_URL, "exp": now + 300, "iat": now, "jti": "j-" + str(now)}
    body.update(extra)
    return body


# --------------------------------------------------------------------------- accepted


def test_rs384_with_allowlisted_jku_is_accepted(signed_client, jwks_server):
    token = sign_jwt(RSA, iss=EHR, aud=SERVICE_URL, kid="rsa-1", jku=JKU)
    assert call(signed_client, token).status_code == 200
    assert jwks_server["ehr"].call_count == 1


def test_jwks_is_cached_between_calls(signed_client, jwks_server):
    for _ in range(3):
        token = sign_jwt(RSA, iss=EHR, aud=SERVICE_URL, kid="rsa-1", jku=JKU)
        assert call(signed_client, token).status_code == 200
    assert jwks_server["ehr"].call_count == 1


def test_token_without_jku_uses_the_configured_jku(signed_client, jwks_server):
    token = sign_jwt(RSA, iss=EHR, aud=SERVICE_URL, kid="rsa-1")
    assert call(signed_client, token).status_code == 200


def test_es384_with_a_configured_jwks_is_accepted(signed_client, jwks_server):
    token = sign_jwt(
        EC384, iss="https://static.example.org", aud=SERVICE_URL, alg="ES384", kid="ec-1"
    )
    assert call(signed_client, token).status_code == 200
    assert not jwks_server["ehr"].called


def test_es256_is_accepted_from_the_sandbox(signed_client, jwks_server):
    token = sign_jwt(
        EC256, iss=SANDBOX_ISSUER, aud=SERVICE_URL, alg="ES256", kid="ec-256", jku=SANDBOX_JKU,
        claims={"sub": "sandbox-user"},
    )  # fmt: skip
    assert call(signed_client, token).status_code == 200


def test_aud_as_an_array_containing_the_url_is_accepted(signed_client, jwks_server):
    token = sign_jwt(RSA, iss=EHR, aud=["https://x.example", SERVICE_URL], kid="rsa-1", jku=JKU)
    assert call(signed_client, token).status_code == 200


def test_expiry_within_the_leeway_is_accepted(signed_client, jwks_server):
    token = sign_jwt(RSA, iss=EHR, aud=SERVICE_URL, kid="rsa-1", now=time.time() - 310)
    assert call(signed_client, token).status_code == 200  # expired 10 s ago, leeway 30 s


# --------------------------------------------------------------------------- refused


def _refused(response, needle=None):
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    if needle:
        assert needle in response.json()["error"]


@pytest.mark.parametrize(
    ("make_token", "needle"),
    [
        pytest.param(lambda: None, "missing", id="no-token"),
        pytest.param(lambda: "not-a-jwt", "malformed", id="garbage"),
        pytest.param(
            lambda: unsigned({"alg": "none", "typ": "JWT"}, claims()), "none", id="alg-none"
        ),
        pytest.param(
            lambda: sign_jwt(OctKey.generate_key(256), iss=EHR, aud=SERVICE_URL, alg="HS256"),
            "HS256",
            id="hs256",
        ),
        pytest.param(
            lambda: sign_jwt(RSA, iss="https://unknown.example", aud=SERVICE_URL, kid="rsa-1"),
            "issuer",
            id="unknown-iss",
        ),
        pytest.param(
            lambda: sign_jwt(RSA, iss=EHR, aud=f"{BASE}/cds-services/other", kid="rsa-1"),
            "aud",
            id="wrong-aud",
        ),
        pytest.param(
            lambda: sign_jwt(RSA, iss=EHR, aud="http://testserver" + SELECT, kid="rsa-1"),
            "aud",
            id="aud-of-the-host-header",
        ),
        pytest.param(
            lambda: sign_jwt(RSA, iss=EHR, aud=SERVICE_URL, kid="rsa-1", now=time.time() - 400),
            "exp",
            id="expired",
        ),
        pytest.param(
            lambda: sign_jwt(RSA, iss=EHR, aud=SERVICE_URL, kid="rsa-1", now=time.time() + 120),
            None,
            id="iat-in-the-future",
        ),
        pytest.param(
            lambda: sign_jwt(
                RSA, iss=EHR, aud=SERVICE_URL, kid="rsa-1", claims={"nbf": int(time.time()) + 120}
            ),
            "not yet valid",
            id="not-yet-valid",
        ),
        pytest.param(
            lambda: sign_jwt(RSA, iss=EHR, aud=SERVICE_URL, kid="rsa-1", claims={"jti": None}),
            "jti",
            id="no-jti",
        ),
        pytest.param(
            lambda: sign_jwt(STRANGER, iss=EHR, aud=SERVICE_URL, kid="rsa-1", jku=JKU),
            "signature",
            id="wrong-key",
        ),
        pytest.param(
            lambda: sign_jwt(RSA, iss=EHR, aud=SERVICE_URL, kid="rsa-1", header={"typ": "JOSE+x"}),
            "typ",
            id="wrong-typ",
        ),
        pytest.param(
            lambda: sign_jwt(RSA, iss=EHR, aud=SERVICE_URL, alg="RS256", kid="rsa-1"),
            "RS256",
            id="rs256-not-accepted",
        ),
        pytest.param(
            lambda: sign_jwt(EC256, iss=EHR, aud=SERVICE_URL, alg="ES256", kid="ec-256"),
            "ES256",
            id="es256-outside-the-sandbox",
        ),
    ],
)
def test_refused_tokens(signed_client, jwks_server, make_token, needle):
    _refused(call(signed_client, make_token()), needle)


def test_jku_not_on_the_allowlist_is_refused_without_fetching_it(signed_client, jwks_server):
    token = sign_jwt(STRANGER, iss=EHR, aud=SERVICE_URL, kid="rsa-1", jku=OTHER_JKU)
    _refused(call(signed_client, token), "jku")
    assert not jwks_server["attacker"].called


def test_a_replayed_jti_is_refused(signed_client, jwks_server):
    token = sign_jwt(RSA, iss=EHR, aud=SERVICE_URL, kid="rsa-1", jti="once")
    assert call(signed_client, token).status_code == 200
    _refused(call(signed_client, token), "jti")


def test_discovery_and_feedback_need_a_token_too(signed_client, jwks_server):
    _refused(signed_client.get("/cds-services"))
    feedback = {
        "feedback": [
            {"card": "x", "outcome": "accepted", "outcomeTimestamp": "2026-11-01T10:00:00Z"}
        ]
    }
    _refused(signed_client.post(f"{SELECT}/feedback", json=feedback))
    discovery = sign_jwt(RSA, iss=EHR, aud=f"{BASE}/cds-services", kid="rsa-1")
    assert (
        signed_client.get(
            "/cds-services", headers={"Authorization": f"Bearer {discovery}"}
        ).status_code
        == 200
    )
    fb = sign_jwt(RSA, iss=EHR, aud=f"{SERVICE_URL}/feedback", kid="rsa-1")
    response = signed_client.post(
        f"{SELECT}/feedback", json=feedback, headers={"Authorization": f"Bearer {fb}"}
    )
    assert response.status_code == 200


def test_unsigned_mode_logs_a_warning_at_start_up(make_client, caplog):
    with caplog.at_level(logging.WARNING, logger="cds_hooks"):
        make_client(cds_allow_unsigned=True)
    assert "PPACT_CDS_ALLOW_UNSIGNED" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cds_hooks"):
        make_client(cds_allow_unsigned=False)
    assert "PPACT_CDS_ALLOW_UNSIGNED" not in caplog.text


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        pytest.param({"jku": [JKU]}, "iss is required", id="no-iss"),
        pytest.param({"iss": EHR}, "needs jku or jwks", id="no-keys"),
        pytest.param({"iss": EHR, "jku": ["http://plain.example"]}, "https", id="http-jku"),
        pytest.param(
            {"iss": EHR, "jku": [JKU], "algorithms": ["ES256"]},
            "algorithms",
            id="es256-not-sandbox",
        ),
        pytest.param({"iss": EHR, "jku": [JKU], "algorithms": ["HS256"]}, "algorithms", id="hs"),
        pytest.param({"iss": EHR, "jwks": {"keys": "no"}}, "JWK Set", id="bad-jwks"),
        pytest.param({"iss": EHR, "jku": [JKU], "color": "red"}, "unknown keys", id="typo"),
    ],
)
def test_bad_issuer_configuration_is_refused_with_one_line(entry, needle):
    with pytest.raises(ValueError, match=needle):
        parse_issuers([entry])
