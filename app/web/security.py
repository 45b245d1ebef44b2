"""Security headers for every response.

The app runs inside EHR iframes, so framing is allowed only from configured EHR origins through
CSP `frame-ancestors` (no `X-Frame-Options: DENY`). No inline script is allowed: templates carry
no script and every asset is served from `/static`.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp


def content_security_policy(
    frame_ancestors: Sequence[str], *, form_targets: Sequence[str] = ()
) -> str:
    """The CSP header value; `frame-ancestors 'none'` when no EHR origin is configured.

    Args:
        frame_ancestors: EHR origins allowed to frame the app.
        form_targets: extra origins a form on this response may post to (the EHR's
            authorization endpoint for a POST authorization request); none by default.
    """
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    form_action = " ".join(["'self'", *form_targets])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action {form_action}",
            f"frame-ancestors {ancestors}",
        ]
    )


class SecurityHeadersMiddleware(BaseHTTPMiddleware):
    """Adds CSP, nosniff and a strict referrer policy to every response."""

    def __init__(self, app: ASGIApp, frame_ancestors: Sequence[str]) -> None:
        super().__init__(app)
        self._csp = content_security_policy(frame_ancestors)

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", self._csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response
