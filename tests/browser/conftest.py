"""Browser test fixtures: the real app on uvicorn, a real FHIR server, headless Debian Chromium.

- FHIR: SEKMET on 127.0.0.1 (`tests/integration/fhir_server.py`, bearer-token protected), loaded
  with five synthetic patients of different archetypes (the most complex first);
  patient 4 is renamed ``<script>alert(1)</script>`` to check escaping.
- App: `create_app` served by uvicorn in a thread on a free 127.0.0.1 port.
- Launch: there is no OAuth server here, so the test stores a launch record the way the
  callback does (server's bearer token, full scopes) and gives Chromium the session cookie.
- Chromium: `/usr/bin/chromium` (Debian package), never a downloaded browser. Missing Chromium
  or axe-core skips with a reason, unless PPACT_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.main import create_app
from app.settings import Settings
from app.storage.sessions import COOKIE_NAME, LaunchRecord
from app.synth.bundle import DEFAULT_SEED, patient_bundle
from tests.integration.fhir_server import (
    FhirTestServer,
    free_port,
    start_fhir_server,
    stop_fhir_server,
)
from tests.support.chromium import CHROMIUM_ARGS, browser_unavailable, require_chromium

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
AS_OF = date(2026, 11, 1)
#: Most complex, high-dose ER, stable (renamed hostile), MOUD and messy-chart patients.
PATIENTS = (1, 2, 4, 6, 13)
HOSTILE_PATIENT = "ppact-0004"
HOSTILE_NAME = "<script>alert(1)</script>"
SCOPE = (
    "launch openid fhirUser patient/Patient.rs patient/MedicationRequest.rs "
    "patient/MedicationDispense.rs patient/MedicationStatement.rs patient/Medication.rs "
    "patient/Condition.rs patient/Observation.rs patient/DocumentReference.rs "
    "patient/DocumentReference.c patient/QuestionnaireResponse.rs patient/Procedure.rs "
    "patient/Encounter.rs patient/ServiceRequest.rs patient/CarePlan.rs patient/EpisodeOfCare.rs "
    "patient/Goal.rs"
)


def _missing(what: str) -> None:
    browser_unavailable(what)


@pytest.fixture(scope="session")
def fhir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirTestServer]:
    server = start_fhir_server(tmp_path_factory.mktemp("browser-fhir"))
    try:
        for number in PATIENTS:
            bundle = patient_bundle(number, seed=DEFAULT_SEED, anchor=AS_OF)
            for entry in bundle["entry"]:
                resource = entry["resource"]
                if resource["resourceType"] == "Patient" and resource["id"] == HOSTILE_PATIENT:
                    resource["name"] = [{"text": HOSTILE_NAME}]
            server.transaction([entry["resource"] for entry in bundle["entry"]])
        yield server
    finally:
        stop_fhir_server(server)


class AppServer:
    """The app on uvicorn in a thread; `launch` stores a launch and returns its id."""

    def __init__(self, data_dir: Path, fhir: FhirTestServer) -> None:
        self.fhir = fhir
        self.app = create_app(Settings(data_dir=data_dir))
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.session_id = ""

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("app server did not start")
            time.sleep(0.02)
        sessions = self.app.state.smart.sessions
        self.session_id = sessions.new_session()
        self.cookie = sessions.cookie_value(self.session_id)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def launch(self, patient_id: str, **fields: Any) -> str:
        launch_id = secrets.token_urlsafe(16)
        values: dict[str, Any] = {
            "iss": self.fhir.base_url,
            "open_server": False,
            "patient_id": patient_id,
            "user": "Practitioner/ppact-prac-01",
            "scope": SCOPE,
            "access_token": self.fhir.token,
            "expires_at": datetime.now(UTC) + timedelta(hours=1),
        }
        values.update(fields)
        record = LaunchRecord(launch_id=launch_id, session_id=self.session_id, **values)
        self.app.state.smart.sessions.save_launch(record)
        return launch_id

    def url(self, launch_id: str, page: str) -> str:
        return f"{self.base_url}/l/{launch_id}/{page}?as_of={AS_OF.isoformat()}"


@pytest.fixture(scope="session")
def app_server(
    tmp_path_factory: pytest.TempPathFactory, fhir: FhirTestServer
) -> Iterator[AppServer]:
    server = AppServer(tmp_path_factory.mktemp("browser-app"), fhir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope: the sync Playwright driver owns an event loop in this thread while open, and
    # other tests of the session start their own.
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _context(browser: Any, app_server: AppServer, **options: Any) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    context.add_cookies(
        [
            {
                "name": COOKIE_NAME,
                "value": app_server.cookie,
                "domain": "127.0.0.1",
                "path": "/",
                "secure": True,
                "httpOnly": True,
            }
        ]
    )
    return context


@pytest.fixture
def page(browser: Any, app_server: AppServer) -> Iterator[Any]:
    """A fresh browser context holding the app session cookie."""
    context = _context(browser, app_server)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def axe_page(browser: Any, app_server: AppServer) -> Iterator[Any]:
    """As `page`, but the page CSP does not block the injected axe-core script (test only)."""
    context = _context(browser, app_server, bypass_csp=True)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def axe_script() -> Path:
    if not AXE.exists():
        _missing("axe-core is not installed: run `npm ci --prefix tests/browser`")
    return AXE


@pytest.fixture(scope="session")
def artifacts() -> Callable[[str], Path]:
    ARTIFACTS.mkdir(exist_ok=True)

    def path(name: str) -> Path:
        return ARTIFACTS / name

    return path
