"""Errors raised by the SMART client, one tree with one root.

The tree follows the shape of httpx's ``_exceptions.py``: callers catch the root to show a generic
"launch failed" page, or a leaf to say what happened and what to try.

```
SmartLaunchError            anything this package raises on purpose
  DiscoveryError            .well-known/smart-configuration (and /metadata) missing or invalid
  IssuerNotAllowed          iss/aud not on the allowlist; nothing was fetched
  AuthorizationError        state mismatch or reuse, user denied, callback iss mismatch
  TokenError                token endpoint refused; carries error and error_description
  IdTokenError              id_token signature, algorithm or claims rejected
  FhirRequestError          status plus the server's OperationOutcome text
```

Messages never contain tokens, secrets or URLs with query strings, so they are safe to log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AuthorizationError",
    "DiscoveryError",
    "FhirRequestError",
    "IdTokenError",
    "IssuerNotAllowed",
    "SmartLaunchError",
    "TokenError",
]


class SmartLaunchError(Exception):
    """Root of every error this package raises on purpose."""


class DiscoveryError(SmartLaunchError):
    """The server's SMART configuration could not be found or is not usable."""


class IssuerNotAllowed(SmartLaunchError):
    """The ``iss`` (or ``aud``) is not a registered FHIR server; nothing was fetched."""


class AuthorizationError(SmartLaunchError):
    """The authorization callback is not acceptable (state, error, issuer).

    Attributes:
        error: The OAuth ``error`` code from the callback, when the server sent one.
        error_description: The server's ``error_description``, when it sent one.
    """

    def __init__(
        self, message: str, *, error: str | None = None, error_description: str | None = None
    ) -> None:
        super().__init__(message)
        self.error = error
        self.error_description = error_description


class TokenError(SmartLaunchError):
    """The token endpoint refused the request or answered with something unusable.

    Attributes:
        error: The OAuth ``error`` code (``invalid_grant`` ...), or None when there was none.
        error_description: The server's ``error_description``, or None.
        status_code: The HTTP status, or None when no response arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        error_description: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.error = error
        self.error_description = error_description
        self.status_code = status_code

    @classmethod
    def from_response(cls, status_code: int, body: object) -> TokenError:
        """Turn an OAuth error response (RFC 6749 section 5.2) into a sentence a person can act on.

        Args:
            status_code: HTTP status of the token response.
            body: The decoded JSON body, or None when it was not JSON.

        Returns:
            A TokenError whose message names the status, the error code and the description.
        """
        error = error_description = None
        if isinstance(body, Mapping):
            raw_error = body.get("error")
            raw_description = body.get("error_description")
            error = raw_error if isinstance(raw_error, str) else None
            error_description = raw_description if isinstance(raw_description, str) else None
        message = f"token endpoint answered HTTP {status_code}"
        if error:
            message += f" {error}"
        if error_description:
            message += f": {error_description}"
        return cls(
            message,
            error=error,
            error_description=error_description,
            status_code=status_code,
        )


class IdTokenError(SmartLaunchError):
    """The id_token failed validation (signature, algorithm, iss, aud, exp or nonce)."""


class FhirRequestError(SmartLaunchError):
    """A FHIR request failed; the message carries the OperationOutcome text when there is one.

    Attributes:
        status_code: The HTTP status.
        diagnostics: The OperationOutcome issue texts, in order.
    """

    def __init__(
        self, message: str, *, status_code: int, diagnostics: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.diagnostics = diagnostics

    @classmethod
    def from_response(cls, status_code: int, body: object) -> FhirRequestError:
        """Read ``OperationOutcome.issue[]`` (FHIR R4 operationoutcome) into a readable error.

        Args:
            status_code: HTTP status of the FHIR response.
            body: The decoded JSON body, or None when it was not JSON.

        Returns:
            A FhirRequestError whose message lists each issue as ``severity code: text``.
        """
        diagnostics = tuple(_issue_texts(body))
        message = f"FHIR server answered HTTP {status_code}"
        if diagnostics:
            message += ": " + "; ".join(diagnostics)
        return cls(message, status_code=status_code, diagnostics=diagnostics)


def _issue_texts(body: object) -> list[str]:
    if not isinstance(body, Mapping) or body.get("resourceType") != "OperationOutcome":
        return []
    texts: list[str] = []
    issues: Any = body.get("issue")
    for issue in issues if isinstance(issues, list) else []:
        if not isinstance(issue, Mapping):
            continue
        details = issue.get("details")
        detail_text = details.get("text") if isinstance(details, Mapping) else None
        text = issue.get("diagnostics") or detail_text or ""
        severity = issue.get("severity") or "error"
        code = issue.get("code") or "unknown"
        texts.append(f"{severity} {code}: {text}" if text else f"{severity} {code}")
    return texts
