"""Authorization request (EHR and standalone) and the callback check."""

from __future__ import annotations

import base64
import hashlib
import math
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from smart_launch import (
    AuthorizationError,
    InMemoryPendingLaunches,
    IssuerConfig,
    SmartConfiguration,
    SmartLaunchError,
    build_authorization_request,
    check_callback,
    launch_scope,
    new_secret,
    parse_smart_configuration,
)
from smart_launch.authorize import SECRET_LENGTH

from .conftest import (
    AUTH_ISSUER,
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
        "patient/Condition.rs",
        "patient/Observation.rs",
        "patient/DocumentReference.rs",
        "patient/QuestionnaireResponse.rs",
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


# --- callback ---------------------------------------------------------------------------------


@pytest.fixture
def store() -> InMemoryPendingLaunches:
    return InMemoryPendingLaunches()


@pytest.fixture
def state(
    public_issuer: IssuerConfig,
    configuration: SmartConfiguration,
    now: datetime,
    store: InMemoryPendingLaunches,
) -> str:
    request = build_authorization_request(public_issuer, configuration, now=now, launch="l")
    store.save(request.pending)
    return request.pending.state


def test_callback_with_matching_state_returns_code_and_launch(
    store: InMemoryPendingLaunches, state: str, now: datetime
) -> None:
    result = check_callback(
        {"code": "abc", "state": state, "iss": AUTH_ISSUER}, store, now=now + timedelta(minutes=2)
    )

    assert result.code == "abc"
    assert result.pending.state == state
    assert result.pending.iss == FHIR_BASE


def test_callback_state_is_burnt_after_use(
    store: InMemoryPendingLaunches, state: str, now: datetime
) -> None:
    check_callback({"code": "abc", "state": state}, store, now=now)

    with pytest.raises(AuthorizationError, match="already used"):
        check_callback({"code": "abc", "state": state}, store, now=now)
    assert len(store) == 0


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"code": "abc", "state": "forged"}, id="wrong-state"),
        pytest.param({"code": "abc"}, id="no-state"),
        pytest.param({"code": "abc", "state": ""}, id="empty-state"),
    ],
)
def test_callback_with_wrong_state_is_rejected(
    store: InMemoryPendingLaunches, state: str, now: datetime, params: dict[str, str]
) -> None:
    with pytest.raises(AuthorizationError):
        check_callback(params, store, now=now)
    assert len(store) == 1


def test_callback_error_is_reported_with_the_servers_description(
    store: InMemoryPendingLaunches, state: str, now: datetime
) -> None:
    params = {"state": state, "error": "access_denied", "error_description": "User said no"}

    with pytest.raises(AuthorizationError) as caught:
        check_callback(params, store, now=now)

    assert caught.value.error == "access_denied"
    assert caught.value.error_description == "User said no"
    assert "User said no" in str(caught.value)
    assert len(store) == 0


def test_error_on_a_forged_callback_is_reported_as_a_state_problem(
    store: InMemoryPendingLaunches, state: str, now: datetime
) -> None:
    params = {"state": "forged", "error": "access_denied", "error_description": "Call 555-0100"}

    with pytest.raises(AuthorizationError) as caught:
        check_callback(params, store, now=now)

    assert caught.value.error is None
    assert "555-0100" not in str(caught.value)


@pytest.mark.parametrize(
    "callback_iss",
    [
        pytest.param(FHIR_BASE, id="fhir-base-is-not-the-issuer"),
        pytest.param("https://attacker.example.com", id="other-server"),
    ],
)
def test_callback_iss_must_be_the_discovered_issuer(
    store: InMemoryPendingLaunches, state: str, now: datetime, callback_iss: str
) -> None:
    with pytest.raises(AuthorizationError, match="iss"):
        check_callback({"code": "abc", "state": state, "iss": callback_iss}, store, now=now)


def test_callback_without_iss_is_refused_when_the_server_promises_one(
    public_issuer: IssuerConfig, now: datetime, store: InMemoryPendingLaunches
) -> None:
    configuration = parse_smart_configuration(
        smart_configuration_document(authorization_response_iss_parameter_supported=True),
        iss=FHIR_BASE,
    )
    request = build_authorization_request(public_issuer, configuration, now=now, launch="l")
    store.save(request.pending)

    with pytest.raises(AuthorizationError, match="no iss"):
        check_callback({"code": "abc", "state": request.pending.state}, store, now=now)


def test_callback_after_max_age_is_refused(
    store: InMemoryPendingLaunches, state: str, now: datetime
) -> None:
    with pytest.raises(AuthorizationError, match="too long"):
        check_callback({"code": "abc", "state": state}, store, now=now + timedelta(minutes=11))


def test_callback_without_code_is_refused(
    store: InMemoryPendingLaunches, state: str, now: datetime
) -> None:
    with pytest.raises(AuthorizationError, match="no authorization code"):
        check_callback({"state": state}, store, now=now)


def test_callback_with_repeated_state_parameter_is_refused(
    store: InMemoryPendingLaunches, state: str, now: datetime
) -> None:
    with pytest.raises(AuthorizationError, match="more than once"):
        check_callback({"code": ["abc"], "state": [state, state]}, store, now=now)


def test_callback_accepts_single_item_lists(
    store: InMemoryPendingLaunches, state: str, now: datetime
) -> None:
    result = check_callback({"code": ["abc"], "state": [state]}, store, now=now)

    assert result.code == "abc"


def test_callback_compares_with_fhir_base_when_no_issuer_was_discovered(
    public_issuer: IssuerConfig,
    configuration: SmartConfiguration,
    now: datetime,
    store: InMemoryPendingLaunches,
) -> None:
    request = build_authorization_request(
        public_issuer, replace(configuration, issuer=None), now=now, launch="l"
    )
    store.save(request.pending)

    result = check_callback(
        {"code": "abc", "state": request.pending.state, "iss": FHIR_BASE}, store, now=now
    )

    assert result.code == "abc"
