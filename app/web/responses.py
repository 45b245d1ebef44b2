"""Shared page responses of the web edge: the template environment, no-store headers, errors.

Every page that shows PHI or launch state answers ``Cache-Control: no-store``; error pages say
what went wrong in words and never echo server output as markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.web.csrf import install_csrf

__all__ = ["NO_STORE", "error_page", "render_page", "templates"]

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
install_csrf(templates.env)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def render_page(
    request: Request, name: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status, headers=NO_STORE)


def error_page(request: Request, title: str, message: str, status: int) -> HTMLResponse:
    """The error page: what went wrong in words, nothing from the server echoed as markup."""
    return render_page(request, "error.html", {"title": title, "message": message}, status)
