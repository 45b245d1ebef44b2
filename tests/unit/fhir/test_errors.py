"""OperationOutcome text and the status -> error class mapping."""

from __future__ import annotations

import pytest

from app.fhir.errors import (
    FhirError,
    FhirRequestError,
    NotAuthorized,
    NotFound,
    NotPermitted,
    error_for_status,
    operation_outcome_text,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "required", "diagnostics": "category?"}],
            },
            "category?",
            id="diagnostics",
        ),
        pytest.param(
            {
                "resourceType": "OperationOutcome",
                "issue": [{"code": "invalid", "details": {"text": "Bad date"}}],
            },
            "Bad date",
            id="details-text",
        ),
        pytest.param(
            {
                "resourceType": "OperationOutcome",
                "issue": [
                    {"diagnostics": "First", "details": {"text": "Second"}},
                    {"diagnostics": "First"},
                    {"details": {"text": "Third"}},
                ],
            },
            "First; Second; Third",
            id="several-issues-deduplicated",
        ),
        pytest.param({"resourceType": "OperationOutcome", "issue": []}, None, id="no-issues"),
        pytest.param({"resourceType": "Bundle"}, None, id="not-an-outcome"),
        pytest.param("<html>Bad gateway</html>", None, id="not-json-object"),
        pytest.param(None, None, id="no-body"),
    ],
)
def test_operation_outcome_text_reads_diagnostics_and_details(body, expected):
    assert operation_outcome_text(body) == expected


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        pytest.param(400, FhirRequestError, id="400"),
        pytest.param(401, NotAuthorized, id="401"),
        pytest.param(403, NotPermitted, id="403"),
        pytest.param(404, NotFound, id="404"),
        pytest.param(410, NotFound, id="410"),
        pytest.param(500, FhirRequestError, id="500"),
    ],
)
def test_error_for_status_picks_the_class(status, cls):
    error = error_for_status(status, None, what="Observation search")
    assert type(error) is cls
    assert isinstance(error, FhirError)
    assert error.status == status


def test_error_message_names_status_request_and_outcome_text():
    body = {"resourceType": "OperationOutcome", "issue": [{"diagnostics": "Unknown param foo"}]}
    error = error_for_status(400, body, what="Observation search")
    assert str(error) == "FHIR server answered HTTP 400 on Observation search: Unknown param foo"
    assert error.operation_outcome_text == "Unknown param foo"


def test_not_found_tells_deleted_from_unknown():
    assert error_for_status(410, None).gone is True
    assert error_for_status(404, None).gone is False
