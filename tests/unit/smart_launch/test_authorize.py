"""The authorization request: EHR and standalone launch, PKCE, state, scopes."""

from __future__ import annotations

import base64
import hashlib
import math
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from smart_launch import (
    AuthorizationError,
    IssuerConfig,
    SmartConfiguration,
    SmartLaunchError,
    build_authorization_request,
    launch_scope,
    new_secret,
    parse_capability_statement,
    parse_smart_configuration,
)
from smart_launch.authorize import SECRET_LENGTH
from smart_launch.discovery import OAUTH_URIS_EXTENSION

from .conftest import (
    AUTHORIZE_URL,
    CLIENT_ID,
    FHIR_BASE,
    REDIRECT_URI,
    smart_configuration_document,
)


def query(url: str) -> dict[str, str]:
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True, strict_parsing=True)
    assert all(len(values) == 1 for values in parsed.values())
    return {name: values[0] for name, values in parsed.items()}


def test_ehr_launch_request_carries_every_required_parameter(
    public_issuer: IssuerConfig, configuration: SmartConfiguration, now: datetime
) -> None:
    request = build_authorization_request(public_issuer, configuration, now=now, launch="xyz123")

    assert request.url.startswith(AUTHORIZE_URL + "?")
    params = query(request.url)
    pending = request.pending
    assert params == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": pending.scope,
        "state": pending.state,
        "aud": FHIR_BASE,
        "code_challenge": params["code_challenge"],
        "code_challenge_method": "S256",
        "launch": "xyz123",
        "nonce": pending.nonce,
    }
    assert request.method == "GET"
    assert pending.iss == FHIR_BASE
    assert pending.launch == "xyz123"
    assert pending.created_at == now
    assert pending.redirect_uri == REDIRECT_URI


def test_code_challenge_is_the_s256_of_the_stored_verifier(
    public_issuer: IssuerConfig, configuration: SmartConfiguration, now: datetime
) -> None:
    request = build_authorization_request(public_issuer, configuration, now=now, launch="l")

    verifier = request.pending.code_verifier
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    assert query(request.url)["code_challenge"] == expected
    # RFC 7636 section 4.1: 43 to 128 unreserved characters.
    assert 43 <= len(verifier) <= 128


def test_ehr_launch_scope_is_v2_with_launch_and_identity(
    public_issuer: IssuerConfig, configuration: SmartConfiguration
) -> None:
    scope = launch_scope(public_issuer, configuration, ehr_launch=True)

    assert scope.split() == [
        "patient/Patient.rs",
        "patient/MedicationRequest.rs",
        "patient/MedicationDispense.rs",
        "patient/MedicationStatement.rs",
        "patient/Medication.rs",
        "patient/Condition.rs",
        "patient/Observation.rs",
        "patient/DocumentReference.rs",
        "patient/QuestionnaireResponse.rs",
        "patient/Procedure.rs",
        "patient/Encounter.rs",
        "patient/ServiceRequest.rs",
        "patient/CarePlan.rs",
        "patient/EpisodeOfCare.rs",
        "patient/Goal.rs",
        "launch",
        "openid",
        "fhirUser",
    ]


def test_server_without_permission_v2_gets_v1_scopes(public_issuer: IssuerConfig) -> None:
    configuration = parse_smart_configuration(
        smart_configuration_document(capabilities=["launch-ehr", "permission-v1"]), iss=FHIR_BASE
    )

    scope = launch_scope(public_issuer, configuration, ehr_launch=True).split()

    assert "patient/MedicationRequest.read" in scope
    assert not any(token.endswith(".rs") for token in scope)


def test_standalone_launch_asks_for_a_patient_and_sends_no_launch(
    configuration: SmartConfiguration, now: datetime
) -> None:
    issuer = IssuerConfig(
        iss=FHIR_BASE,
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        scopes=("patient/Observation.rs",),
        offline_access=True,
    )

    request = build_authorization_request(issuer, configuration, now=now)

    params = query(request.url)
    assert "launch" not in params
    assert params["scope"] == "patient/Observation.rs launch/patient openid fhirUser offline_access"
    assert params["aud"] == FHIR_BASE
    assert request.pending.launch is None


def test_nonce_is_sent_only_with_openid(
    public_issuer: IssuerConfig, configuration: SmartConfiguration, now: datetime
) -> None:
    request = build_authorization_request(
        public_issuer, configuration, now=now, launch="l", scope="launch patient/Patient.rs"
    )

    assert "nonce" not in query(request.url)
    assert request.pending.nonce is None


def test_state_verifier_and_nonce_have_at_least_122_bits_and_never_repeat(
    public_issuer: IssuerConfig, configuration: SmartConfiguration, now: datetime
) -> None:
    requests = [
        build_authorization_request(public_issuer, configuration, now=now, launch="l")
        for _ in range(50)
    ]
    secrets = [
        secret
        for request in requests
        for secret in (request.pending.state, request.pending.code_verifier, request.pending.nonce)
    ]

    # 62 possible symbols per character (letters and digits).
    assert SECRET_LENGTH * math.log2(62) >= 122
    assert all(secret is not None and len(secret) == SECRET_LENGTH for secret in secrets)
    assert all(str(secret).isalnum() for secret in secrets)
    assert len(set(secrets)) == len(secrets)
    assert len(set(new_secret() for _ in range(1000))) == 1000


def test_secrets_stay_out_of_repr(
    public_issuer: IssuerConfig, configuration: SmartConfiguration, now: datetime
) -> None:
    request = build_authorization_request(public_issuer, configuration, now=now, launch="l")

    text = repr(request)
    assert request.pending.state not in text
    assert request.pending.code_verifier not in text
    assert str(request.pending.nonce) not in text


def test_long_request_uses_post_when_the_server_offers_authorize_post(
    public_issuer: IssuerConfig, now: datetime
) -> None:
    configuration = parse_smart_configuration(
        smart_configuration_document(capabilities=["permission-v2", "authorize-post"]),
        iss=FHIR_BASE,
    )
    long_scope = " ".join(f"patient/Type{n}.rs" for n in range(150)) + " openid"

    short = build_authorization_request(public_issuer, configuration, now=now, launch="l")
    long = build_authorization_request(
        public_issuer, configuration, now=now, launch="l", scope=long_scope
    )

    assert short.method == "GET"
    assert long.method == "POST"
    assert long.params["scope"] == long_scope


def test_open_server_has_no_authorization_request(
    public_issuer: IssuerConfig, now: datetime
) -> None:
    with pytest.raises(SmartLaunchError, match="without authorization"):
        build_authorization_request(
            public_issuer, SmartConfiguration(iss=FHIR_BASE, source="open"), now=now
        )


def test_empty_launch_parameter_is_refused(
    public_issuer: IssuerConfig, configuration: SmartConfiguration, now: datetime
) -> None:
    with pytest.raises(AuthorizationError):
        build_authorization_request(public_issuer, configuration, now=now, launch="")


def test_naive_time_is_refused(
    public_issuer: IssuerConfig, configuration: SmartConfiguration, now: datetime
) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_authorization_request(
            public_issuer, configuration, now=now.replace(tzinfo=None), launch="l"
        )


def _capability_statement_configuration() -> SmartConfiguration:
    document = {
        "resourceType": "CapabilityStatement",
        "rest": [
            {
                "security": {
                    "extension": [
                        {
                            "url": OAUTH_URIS_EXTENSION,
                            "extension": [
                                {"url": "authorize", "valueUri": AUTHORIZE_URL},
                                {"url": "token", "valueUri": f"{FHIR_BASE}/token"},
                            ],
                        }
                    ]
                }
            }
        ],
    }
    configuration = parse_capability_statement(document, iss=FHIR_BASE)
    assert configuration is not None
    return configuration


def test_capability_statement_server_is_launched_without_openid_or_nonce(
    public_issuer: IssuerConfig, now: datetime
) -> None:
    # The CapabilityStatement fallback has no issuer or jwks_uri: an id_token could not be
    # validated, so none is asked for (the launch then simply has no fhirUser).
    configuration = _capability_statement_configuration()

    request = build_authorization_request(public_issuer, configuration, now=now, launch="l1")

    scope = query(request.url)["scope"].split()
    assert "openid" not in scope and "fhirUser" not in scope
    assert "launch" in scope
    assert "nonce" not in query(request.url)
    assert request.pending.nonce is None


@pytest.mark.parametrize("missing", ["issuer", "jwks_uri"])
def test_openid_needs_both_issuer_and_jwks_uri(public_issuer: IssuerConfig, missing: str) -> None:
    document = smart_configuration_document()
    del document[missing]
    configuration = parse_smart_configuration(document, iss=FHIR_BASE)

    assert "openid" not in launch_scope(public_issuer, configuration, ehr_launch=True).split()
    full = parse_smart_configuration(smart_configuration_document(), iss=FHIR_BASE)
    assert "openid" in launch_scope(public_issuer, full, ehr_launch=True).split()
