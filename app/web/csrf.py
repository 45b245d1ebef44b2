"""CSRF protection for every state-changing POST: a synchronizer token bound to the session.

Why: the session cookie is ``SameSite=None`` so that the app works inside an EHR iframe, which
means the browser sends it on cross-site POSTs too (OWASP CSRF Prevention Cheat Sheet,
"Synchronizer Token Pattern"). Each form carries a token derived from the session id with a key
of its own (HMAC-SHA256); a POST without the token of *this* session is refused with 403.

Forms include it with the template global: ``<input type="hidden" name="csrf_token"
value="{{ csrf_token(request) }}">``; scripts send it as the ``X-CSRF-Token`` header. Routes
declare ``dependencies=[Depends(require_csrf)]``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from fastapi import HTTPException, Request
from jinja2 import Environment

from app.storage.sessions import SessionManager

__all__ = ["CSRF_FIELD", "CSRF_HEADER", "csrf_token", "install_csrf", "require_csrf", "token_for"]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_PURPOSE = "csrf"


def token_for(sessions: SessionManager, session_id: str) -> str:
    """The CSRF token of a session.

    Args:
        sessions: The session manager (its derived CSRF key is used).
        session_id: The session id.

    Returns:
        A URL-safe token that only this session's forms carry.
    """
    mac = hmac.new(sessions.derived_key(_PURPOSE), session_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def _sessions(request: Request) -> SessionManager:
    manager: SessionManager = request.app.state.smart.sessions
    return manager


def csrf_token(request: Request) -> str:
    """The token for the request's session, or "" when there is no session (template global)."""
    sessions = _sessions(request)
    session_id = sessions.session_id_from(request.cookies)
    return token_for(sessions, session_id) if session_id else ""


async def require_csrf(request: Request) -> None:
    """FastAPI dependency: refuse (403) a request without this session's CSRF token.

    The token is read from the ``X-CSRF-Token`` header, else from the ``csrf_token`` form field.

    Raises:
        HTTPException: 403 when there is no session or the token is missing or wrong.
    """
    sessions = _sessions(request)
    session_id = sessions.session_id_from(request.cookies)
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not session_id or not given:
        raise HTTPException(status_code=403, detail="The form has expired; reload the page.")
    if not hmac.compare_digest(given.encode(), token_for(sessions, session_id).encode()):
        raise HTTPException(status_code=403, detail="The form has expired; reload the page.")


def install_csrf(env: Environment) -> None:
    """Make ``csrf_token(request)`` available to every template of ``env``."""
    env.globals["csrf_token"] = csrf_token
