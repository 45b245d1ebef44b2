"""`create_app(settings)`: the one place that wires the web app, launch routes and CDS Hooks.

Importing this module builds nothing; `ppact serve` (see `app.cli`) calls `create_app`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.settings import Settings
from app.web.security import SecurityHeadersMiddleware

PACKAGE_DIR = Path(__file__).parent


def create_app(settings: Settings) -> FastAPI:
    """Build the FastAPI application for the given settings."""
    app = FastAPI(title="PPACT COT toolkit", docs_url=None, redoc_url=None)
    app.state.settings = settings
    templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")
    app.add_middleware(SecurityHeadersMiddleware, frame_ancestors=settings.frame_ancestors)
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        policy = settings.policy
        return templates.TemplateResponse(
            request,
            "index.html",
            {
                "demo_fhir_base": settings.demo_fhir_base,
                "thresholds": policy.mme.thresholds,
                "edition": policy.mme.edition,
            },
        )

    return app
