"""The error tree and the readable messages built from server answers."""

from __future__ import annotations

import pytest

from smart_launch import (
    AuthorizationError,
    DiscoveryError,
    FhirRequestError,
    IdTokenError,
    IssuerNotAllowed,
    SmartLaunchError,
    TokenError,
)


@pytest.mark.parametrize(
    "error_class",
    [
        DiscoveryError,
        IssuerNotAllowed,
        AuthorizationError,
        TokenError,
        IdTokenError,
        FhirRequestError,
    ],
)
def test_every_error_has_the_one_root(error_class: type[Exception]) -> None:
    assert issubclass(error_class, SmartLaunchError)


def test_fhir_error_reads_the_operation_outcome() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "required", "diagnostics": "category is required"},
            {"severity": "warning", "code": "processing", "details": {"text": "slow search"}},
            {"severity": "error", "code": "exception"},
        ],
    }

    error = FhirRequestError.from_response(400, outcome)

    assert error.status_code == 400
    assert error.diagnostics == (
        "error required: category is required",
        "warning processing: slow search",
        "error exception",
    )
    assert str(error) == (
        "FHIR server answered HTTP 400: error required: category is required; "
        "warning processing: slow search; error exception"
    )


def test_fhir_error_without_an_operation_outcome_names_the_status() -> None:
    error = FhirRequestError.from_response(503, None)

    assert str(error) == "FHIR server answered HTTP 503"
    assert error.diagnostics == ()


def test_token_error_ignores_non_string_fields() -> None:
    error = TokenError.from_response(400, {"error": 7, "error_description": ["x"]})

    assert error.error is None
    assert error.error_description is None
    assert str(error) == "token endpoint answered HTTP 400"
