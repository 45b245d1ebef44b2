"""`create_app(settings)`: the one place that wires the web app, launch routes and CDS Hooks.

Importing this module builds nothing; `ppact serve` (see `app.cli`) calls `create_app`.
Feature modules expose `build_router(settings)`; shared services (the SQL engine and the stores
built on it) live on `app.state` and are created here, once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.settings import Settings
from app.storage.audit import AuditLog
from app.storage.db import create_engine, ensure_schema
from app.web.alerts import build_router as build_alerts_router
from app.web.csrf import install_csrf
from app.web.launch import install_launch
from app.web.pages import install_pages
from app.web.security import SecurityHeadersMiddleware
from cds_hooks.api import install as install_cds

PACKAGE_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")


def create_app(settings: Settings) -> FastAPI:
    """Build the FastAPI application for the given settings."""
    engine = create_engine(settings.sql_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ensure_schema(engine)
        yield
        engine.dispose()

    app = FastAPI(title="PPACT COT toolkit", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
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
                "base_url": settings.base_url,
                "thresholds": policy.mme.thresholds,
                "edition": policy.mme.edition,
            },
        )

    # --- feature routers (one include per feature module) ---
    app.state.audit = AuditLog(engine)
    install_csrf(templates.env)
    install_launch(app, settings)  # /launch, /callback, /l/{id}/pick|logout, JWKS
    install_pages(app, settings)  # /l/{id}/summary|dashboard|outreach|summary.pdf|save-to-chart
    install_cds(app, settings, engine)  # /cds-services (CDS Hooks), app.state.cds
    app.include_router(build_alerts_router())  # /alerts analytics page

    return app
