"""The callback check: state used once, server errors, RFC 9207 iss, age, code."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from smart_launch import (
    AuthorizationError,
    InMemoryPendingLaunches,
    IssuerConfig,
    SmartConfiguration,
    build_authorization_request,
    check_callback,
    parse_smart_configuration,
)

from .conftest import AUTH_ISSUER, FHIR_BASE, smart_configuration_document


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
