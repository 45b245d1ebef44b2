"""Errors raised by the FHIR client, one tree with one root.

Follows the R4 RESTful API status rules (https://hl7.org/fhir/R4/http.html) and the table in
docs standards section 4: the server's OperationOutcome text is carried in the message so a
person can act on it, and statuses that need different handling get their own class.

```
FhirError
  FhirRequestError      error status; carries the status and the OperationOutcome text
    NotAuthorized       401, also after one token refresh
    NotPermitted        403: scope or policy; degrade the feature, say what is missing
    NotFound            404 unknown or hidden, 410 deleted (`gone` is True)
  FhirTimeout           no answer within the timeout, retries included
  FhirConnectionError   the server could not be reached
  InvalidResponse       the answer was not the FHIR JSON we asked for
```

Messages never contain URLs with query strings or resource content: they name the resource type,
the status and the server's own OperationOutcome text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FhirError(Exception):
    """Root of every error the FHIR client raises."""


class FhirRequestError(FhirError):
    """The server answered with an error status.

    Attributes:
        status: HTTP status code.
        operation_outcome_text: Issue diagnostics / details text from the OperationOutcome body,
            joined with "; ", or None when the body had none.
    """

    def __init__(self, status: int, operation_outcome_text: str | None, *, what: str = "") -> None:
        self.status = status
        self.operation_outcome_text = operation_outcome_text
        where = f" on {what}" if what else ""
        text = f": {operation_outcome_text}" if operation_outcome_text else ""
        super().__init__(f"FHIR server answered HTTP {status}{where}{text}")


class NotAuthorized(FhirRequestError):
    """401: the token was refused, and refreshing it once did not help."""


class NotPermitted(FhirRequestError):
    """403: the token's scopes or the server's policy do not allow this request."""


class NotFound(FhirRequestError):
    """404 (unknown or hidden) or 410 (deleted)."""

    @property
    def gone(self) -> bool:
        """True when the server said the resource was deleted (410)."""
        return self.status == 410


class FhirTimeout(FhirError):
    """The server did not answer in time, retries included."""


class FhirConnectionError(FhirError):
    """The server could not be reached (DNS, refused connection, TLS)."""


class InvalidResponse(FhirError):
    """The server answered 2xx but the body was not the FHIR JSON asked for."""


def operation_outcome_text(body: Any) -> str | None:
    """The human-readable text of an OperationOutcome, or None.

    Reads `issue[].diagnostics` and `issue[].details.text` (R4 OperationOutcome), in that order
    per issue, and joins distinct texts with "; ".

    Args:
        body: Parsed JSON body of an error response (anything; non-OperationOutcome gives None).

    Returns:
        The joined text, or None when the body carries none.
    """
    if not isinstance(body, Mapping) or body.get("resourceType") != "OperationOutcome":
        return None
    texts: list[str] = []
    issues = body.get("issue")
    for issue in issues if isinstance(issues, list) else []:
        if not isinstance(issue, Mapping):
            continue
        details = issue.get("details")
        candidates = [
            issue.get("diagnostics"),
            details.get("text") if isinstance(details, Mapping) else None,
        ]
        for text in candidates:
            if isinstance(text, str) and text.strip() and text.strip() not in texts:
                texts.append(text.strip())
    return "; ".join(texts) or None


def error_for_status(status: int, body: Any, *, what: str = "") -> FhirRequestError:
    """The error class for an HTTP error status, with the OperationOutcome text.

    Args:
        status: HTTP status code (>= 400).
        body: Parsed JSON body, or None when it was not JSON.
        what: Short description of the request for the message, e.g. "MedicationRequest search".

    Returns:
        NotAuthorized, NotPermitted, NotFound or a plain FhirRequestError.
    """
    text = operation_outcome_text(body)
    if status == 401:
        return NotAuthorized(status, text, what=what)
    if status == 403:
        return NotPermitted(status, text, what=what)
    if status in (404, 410):
        return NotFound(status, text, what=what)
    return FhirRequestError(status, text, what=what)
