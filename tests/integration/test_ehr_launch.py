"""End-to-end SMART launches over real HTTP: the app and a test SMART server on uvicorn, SEKMET.

Each test drives a browser (cookies, redirects followed by hand) through ``/launch``, the
authorization server's ``/authorize``, ``/callback`` and on to the patient, then reads the
patient's record from the real FHIR server through ``fhir_client_for`` / ``load_patient_record``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.fhir_server import FhirTestServer
from tests.support.browser import Browser
from tests.support.launch_env import (
    HOSTILE_NAME,
    PATIENT_A,
    PATIENT_B,
    LaunchEnv,
    launch_env,
    seed_patients,
)

pytestmark = pytest.mark.integration

LAUNCH_PATH = re.compile(r"/l/([A-Za-z0-9_-]{20,})/summary$")


@pytest.fixture(scope="module")
def seeded(fhir_server: FhirTestServer) -> FhirTestServer:
    seed_patients(fhir_server)
    return fhir_server


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


def ehr_launch(env: LaunchEnv, browser: Browser, patient: str) -> str:
    """Run an EHR launch for ``patient``; return the launch id."""
    token = f"launch-{patient}-{len(env.auth.launches)}"
    env.auth.launches[token] = patient
    response = browser.get(f"{env.app_base}/launch?iss={env.iss}&launch={token}", follow=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{env.auth.base}/authorize?")
    at_server = browser.get(response.headers["location"], follow=False)
    assert at_server.status_code == 302, at_server.text
    callback = browser.get(at_server.headers["location"], follow=False)
    assert callback.request.url.path == "/callback"
    assert callback.status_code == 303, callback.text
    match = LAUNCH_PATH.search(callback.headers["location"])
    assert match, callback.text
    return match.group(1)


def record(env: LaunchEnv, browser: Browser, launch_id: str) -> dict:
    response = browser.get(f"{env.app_base}/l/{launch_id}/test-record")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("auth_method", ["private_key_jwt", "client_secret_basic", "none"])
def test_ehr_launch_reads_the_patient_from_the_fhir_server(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser, auth_method: str
) -> None:
    with launch_env(seeded, tmp_path, auth_method=auth_method) as env:
        launch_id = ehr_launch(env, browser, PATIENT_A)
        data = record(env, browser, launch_id)
    assert data["patient_id"] == PATIENT_A
    assert data["family"] == "Alpha"
    assert {"Patient", "MedicationRequest", "Condition"} <= set(data["types"])
    assert data["sections"]["patient"] == "complete"
    assert data["user"] == f"{env.auth.fhir_base}/Practitioner/test-clinician"
    assert env.auth.token_requests == [{"grant_type": "authorization_code"}]
    entries = env.app.state.audit.entries()
    assert [e.event for e in entries] == ["view-test-record", "launch"]
    assert entries[1].patient == PATIENT_A and entries[1].launch == launch_id


def test_launch_cookie_is_opaque_signed_httponly_secure_samesite_none_partitioned(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    with launch_env(seeded, tmp_path) as env:
        ehr_launch(env, browser, PATIENT_A)
        first = browser.history[0]
    assert first.headers["cache-control"] == "no-store"
    (cookie,) = browser.set_cookie_headers
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite", "partitioned", "path"} <= attributes
    assert "samesite=none" in cookie.lower()
    assert cookie.startswith("__Host-ppact_session=")
    value = cookie.split(";")[0].split("=", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}\.[0-9a-f]{64}", value)


def test_standalone_launch_and_default_issuer(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    with launch_env(seeded, tmp_path, default_iss=True) as env:
        env.auth.standalone_patient = PATIENT_B
        response = browser.get(f"{env.app_base}/launch", follow=False)
        assert response.status_code == 303
        authorize = response.headers["location"]
        assert "launch%2Fpatient" in authorize and "&launch=" not in authorize
        at_server = browser.get(authorize, follow=False)
        callback = browser.get(at_server.headers["location"], follow=False)
        launch_id = LAUNCH_PATH.search(callback.headers["location"]).group(1)
        data = record(env, browser, launch_id)
    assert data["patient_id"] == PATIENT_B
    assert data["family"] == "Beta"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_open_server_patient_picker_pages_escapes_and_sets_the_patient(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    with launch_env(seeded, tmp_path) as env:
        response = browser.get(f"{env.app_base}/launch?iss={env.open_iss}")
        assert response.status_code == 200
        assert response.request.url.path.endswith("/pick")
        assert response.headers["cache-control"] == "no-store"
        launch_url = str(response.request.url).removesuffix("/pick")
        page1 = response.text
        token = _csrf(page1)
        assert 'value="2"' in page1  # a next page exists
        page2 = browser.post(f"{launch_url}/pick", {"csrf_token": token, "q": "", "page": "2"})
        assert page2.status_code == 200 and "Page 2" in page2.text
        found = browser.post(f"{launch_url}/pick", {"csrf_token": token, "q": "Mallory"})
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in found.text
        assert HOSTILE_NAME not in found.text
        refused = browser.post(f"{launch_url}/pick", {"patient": PATIENT_A}, follow=False)
        assert refused.status_code == 403
        wrong = browser.post(
            f"{launch_url}/pick", {"patient": PATIENT_A, "csrf_token": token + "x"}, follow=False
        )
        assert wrong.status_code == 403
        chosen = browser.post(
            f"{launch_url}/pick", {"patient": PATIENT_A, "csrf_token": token}, follow=False
        )
        assert chosen.status_code == 303
        assert chosen.headers["location"].endswith("/summary")
        data = browser.get(f"{launch_url}/test-record").json()
    assert data["patient_id"] == PATIENT_A
    assert data["open_server"] is True
    assert data["may_read"] == {"Condition": True, "MedicationRequest": True}
    assert data["sections"]["medication-request"] in {"complete", "partial"}


def test_logout_clears_the_session_and_its_launches(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    with launch_env(seeded, tmp_path) as env:
        launch_id = ehr_launch(env, browser, PATIENT_A)
        pick = browser.get(f"{env.app_base}/launch?iss={env.open_iss}")
        token = _csrf(pick.text)
        refused = browser.post(f"{env.app_base}/l/{launch_id}/logout", {}, follow=False)
        assert refused.status_code == 403
        out = browser.post(f"{env.app_base}/l/{launch_id}/logout", {"csrf_token": token})
        assert out.status_code == 200 and "signed out" in out.text
        assert "max-age=0" in browser.set_cookie_headers[-1].lower()
        after = browser.get(f"{env.app_base}/l/{launch_id}/test-record")
        assert after.status_code == 404
        assert "Open the PPACT app again" in after.text
        assert env.app.state.audit.entries()[0].event == "logout"


def test_capability_statement_only_server_launches_without_identity(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    # No smart-configuration: the endpoints come from /metadata, which names no issuer or JWKS,
    # so the app must not ask for an id_token it could never validate.
    with launch_env(seeded, tmp_path, metadata_only=True) as env:
        launch_id = ehr_launch(env, browser, PATIENT_A)
        data = record(env, browser, launch_id)
        authorize = next(r for r in browser.history if r.request.url.path == "/authorize")
    assert data["patient_id"] == PATIENT_A
    assert data["family"] == "Alpha"
    assert data["user"] is None
    assert env.auth.issued_id_tokens == []
    assert "openid" not in authorize.request.url.params["scope"].split()
