"""The CDS service's errors; each carries a one-line reason for the `{"error": ...}` body.

::

    CdsHooksError
      ServiceError      a call the service cannot answer: HTTP status + reason (400, 404, 412,
                        413, 422); raised by the routes, the services and the feedback endpoint
      CdsAuthError      the caller's JWT is missing or not acceptable (401)

Nothing else leaves the service: an unexpected failure becomes an info card (docs/style.md
"Errors": the CDS always answers, never a 500 for the EHR).
"""

from __future__ import annotations


class CdsHooksError(Exception):
    """Root of the CDS service's errors."""


class ServiceError(CdsHooksError):
    """A call the service cannot answer: HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class CdsAuthError(CdsHooksError):
    """The call's JWT is not acceptable; the message is one line for the 401 body."""
