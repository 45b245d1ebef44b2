"""Launch routes in process: allowlist before any request, error pages, JWKS, launch context."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings, SettingsError, load_settings
from app.storage.sessions import COOKIE_NAME, LaunchRecord
from app.web.context import LaunchContext
from smart_launch import parse_scopes

SECURED = "https://ehr.example.org/fhir"
OPEN = "https://open.example.org/fhir"


class Recorder:
    """An httpx transport that records requests and answers 500 (the server is 'down')."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(500, json={})


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def app_client(tmp_path: Path, recorder: Recorder) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path,
        issuers=[
            {"iss": SECURED, "client_id": "c1", "redirect_uri": "https://app.example/callback"},
            {"iss": OPEN, "open": True},
        ],
    )
    app = create_app(settings)
    app.state.smart.transport = httpx.MockTransport(recorder.handler)
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def session_launch(client: TestClient, **fields: Any) -> str:
    sessions = client.app.state.smart.sessions  # type: ignore[attr-defined]
    sid = sessions.new_session()
    client.cookies.set(COOKIE_NAME, sessions.cookie_value(sid))
    values: dict[str, Any] = {"iss": SECURED, "open_server": False, "patient_id": "p1"}
    values.update(fields)
    sessions.save_launch(LaunchRecord(launch_id="LID", session_id=sid, **values))
    return "LID"


def test_unknown_iss_gets_an_error_page_and_no_request(
    app_client: TestClient, recorder: Recorder
) -> None:
    response = app_client.get("/launch", params={"iss": "https://evil.example/fhir", "launch": "x"})
    assert response.status_code == 400
    assert "not registered" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    assert recorder.requests == []


def test_missing_iss_without_default_is_refused(app_client: TestClient) -> None:
    response = app_client.get("/launch")
    assert response.status_code == 400


def test_discovery_failure_renders_a_page_not_a_trace(
    app_client: TestClient, recorder: Recorder
) -> None:
    response = app_client.get("/launch", params={"iss": SECURED, "launch": "x"})
    assert response.status_code == 502
    assert "The launch could not start" in response.text
    assert "Traceback" not in response.text
    assert [r.url.path for r in recorder.requests] == ["/fhir/.well-known/smart-configuration"]


@pytest.mark.parametrize("launch", ["", "  "])
def test_ehr_launch_with_an_empty_launch_parameter_gets_a_clear_400_page(
    app_client: TestClient, recorder: Recorder, launch: str
) -> None:
    response = app_client.get("/launch", params={"iss": SECURED, "launch": launch})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "empty launch code" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert recorder.requests == []  # refused before discovery


@pytest.mark.parametrize("page", ["abc", "-1", "1.5", "9" * 40])
def test_picker_page_that_is_not_a_number_gets_an_error_page(
    app_client: TestClient, recorder: Recorder, page: str
) -> None:
    launch_id = session_launch(app_client, open_server=True, iss=OPEN, patient_id=None)
    response = app_client.get(f"/l/{launch_id}/pick", params={"page": page})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "page number is not valid" in response.text
    assert recorder.requests == []


def test_open_server_launch_goes_to_the_picker_with_a_session_cookie(
    app_client: TestClient, recorder: Recorder
) -> None:
    response = app_client.get("/launch", params={"iss": OPEN}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].endswith("/pick")
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=None" in cookie
    assert recorder.requests == []


def test_callback_without_a_known_state_is_refused(app_client: TestClient) -> None:
    assert app_client.get("/callback").status_code == 400
    assert app_client.get("/callback", params={"state": "x", "code": "y"}).status_code == 400


def test_jwks_is_public_and_cacheable(app_client: TestClient) -> None:
    response = app_client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=3600"
    keys = response.json()["keys"]
    assert {k["alg"] for k in keys} == {"RS384", "ES384"}
    assert all("d" not in k and k["kid"] for k in keys)


def test_expired_token_without_refresh_token_shows_launch_again(app_client: TestClient) -> None:
    launch_id = session_launch(
        app_client,
        access_token="AT",
        scope="patient/Patient.rs",
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    response = app_client.get(f"/l/{launch_id}/pick")
    assert response.status_code == 401
    assert "Launch the app again" in response.text
    assert response.headers["cache-control"] == "no-store"


def test_launch_of_another_session_is_not_found(app_client: TestClient) -> None:
    launch_id = session_launch(app_client, open_server=True, iss=OPEN, patient_id=None)
    app_client.cookies.clear()
    assert app_client.get(f"/l/{launch_id}/pick").status_code == 404
    sessions = app_client.app.state.smart.sessions  # type: ignore[attr-defined]
    app_client.cookies.set(COOKIE_NAME, sessions.cookie_value(sessions.new_session()))
    response = app_client.get(f"/l/{launch_id}/pick")
    assert response.status_code == 404
    assert "Open the PPACT app again" in response.text


def test_secured_launch_with_a_patient_skips_the_picker(app_client: TestClient) -> None:
    launch_id = session_launch(app_client, access_token="AT", scope="patient/Patient.rs")
    response = app_client.get(f"/l/{launch_id}/pick", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/l/{launch_id}/summary"


def context(scope: str | None, open_server: bool = False) -> LaunchContext:
    return LaunchContext(
        launch_id="L",
        iss=SECURED,
        patient_id="p",
        user=None,
        need_patient_banner=True,
        smart_style_url=None,
        intent=None,
        tenant=None,
        open_server=open_server,
        granted=None if open_server else parse_scopes(scope),
    )


def test_may_read_and_write_follow_the_granted_scopes() -> None:
    v2 = context("patient/Patient.rs patient/DocumentReference.c patient/Observation.rs?category=x")
    assert v2.may_read("Patient") and not v2.may_read("Condition")
    assert not v2.may_read("Observation")  # narrowed by a query: only part of the type
    assert v2.may_write("DocumentReference") and not v2.may_write("Patient")
    v1 = context("patient/*.read user/DocumentReference.write")
    assert v1.may_read("Condition") and v1.may_write("DocumentReference")
    assert not v1.may_write("Condition")
    anything = context(None, open_server=True)
    assert anything.may_read("Condition") and anything.may_write("Communication")


def test_issuer_settings_are_validated_with_a_line_naming_the_entry(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"issuers .*entry 1 .*client_id and redirect_uri"):
        load_settings(
            overrides={"issuers": [{"iss": OPEN, "open": True}, {"iss": SECURED, "client_id": "x"}]}
        )
    with pytest.raises(SettingsError, match="unknown issuer setting"):
        load_settings(overrides={"issuers": [{"iss": OPEN, "open": True, "colour": "red"}]})
    with pytest.raises(SettingsError, match="default_iss"):
        load_settings(overrides={"default_iss": SECURED})
    secret = {"iss": SECURED, "client_id": "x", "client_secret": "hunter2"}
    with pytest.raises(SettingsError) as caught:
        load_settings(overrides={"issuers": [secret]})
    assert "hunter2" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_issuers_file_demo_server_and_default(tmp_path: Path) -> None:
    path = tmp_path / "issuers.yaml"
    path.write_text(
        "issuers:\n"
        f"  - iss: {SECURED}\n"
        "    client_id: c1\n"
        "    redirect_uri: https://app.example/callback\n"
        "    auth_method: private_key_jwt\n"
        "    key_id: k1\n"
        "    scopes: patient/Patient.rs launch\n"
    )
    settings = load_settings(
        overrides={
            "issuers_file": path,
            "demo_fhir_base": "http://127.0.0.1:8080/fhir/",
            "default_iss": SECURED + "/",
        }
    )
    registry = settings.issuer_registry
    assert registry.lookup(SECURED).key_id == "k1"
    assert registry.lookup("http://127.0.0.1:8080/fhir").open
    assert len(registry) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("issuers: 3\n")
    with pytest.raises(SettingsError, match="must hold a list"):
        load_settings(overrides={"issuers_file": bad})
