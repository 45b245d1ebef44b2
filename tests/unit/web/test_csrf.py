"""CSRF: a synchronizer token bound to the session, required on every state-changing POST."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from jinja2 import Environment

from app.main import create_app
from app.settings import Settings
from app.storage.db import create_engine, ensure_schema
from app.storage.sessions import COOKIE_NAME, LaunchRecord, SessionManager, SqlKeyValueStore
from app.web.csrf import CSRF_HEADER, install_csrf, token_for

OPEN = "https://open.example.org/fhir"


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path, issuers=[{"iss": OPEN, "open": True}]))
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def new_launch(client: TestClient) -> tuple[str, str]:
    """A session cookie and an open-server launch in it; returns (launch id, csrf token)."""
    sessions: SessionManager = client.app.state.smart.sessions  # type: ignore[attr-defined]
    sid = sessions.new_session()
    client.cookies.set(COOKIE_NAME, sessions.cookie_value(sid))
    sessions.save_launch(LaunchRecord(launch_id="L1", session_id=sid, iss=OPEN, open_server=True))
    return "L1", token_for(sessions, sid)


def test_tokens_are_bound_to_the_session_and_the_key(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ensure_schema(engine)
    key = Fernet.generate_key()
    sessions = SessionManager(SqlKeyValueStore(engine), key)
    a, b = sessions.new_session(), sessions.new_session()
    assert token_for(sessions, a) == token_for(sessions, a)
    assert token_for(sessions, a) != token_for(sessions, b)
    other = SessionManager(SqlKeyValueStore(engine), Fernet.generate_key())
    assert token_for(other, a) != token_for(sessions, a)
    assert a not in token_for(sessions, a)
    engine.dispose()


def test_post_without_or_with_a_wrong_token_is_forbidden(app_client: TestClient) -> None:
    launch_id, token = new_launch(app_client)
    url = f"/l/{launch_id}/logout"
    assert app_client.post(url).status_code == 403
    assert app_client.post(url, data={"csrf_token": ""}).status_code == 403
    assert app_client.post(url, data={"csrf_token": token[:-2]}).status_code == 403
    assert app_client.post(url, headers={CSRF_HEADER: "nope"}).status_code == 403
    assert app_client.app.state.smart.sessions.load_launch(launch_id) is not None  # type: ignore[attr-defined]


def test_token_of_another_session_is_forbidden(app_client: TestClient) -> None:
    _, first_token = new_launch(app_client)
    launch_id, _ = new_launch(app_client)  # a second browser session replaces the cookie
    response = app_client.post(f"/l/{launch_id}/pick", data={"csrf_token": first_token})
    assert response.status_code == 403


def test_post_without_a_session_is_forbidden(app_client: TestClient) -> None:
    _, token = new_launch(app_client)
    app_client.cookies.clear()
    assert app_client.post("/l/L1/logout", data={"csrf_token": token}).status_code == 403


def test_right_token_in_form_or_header_is_accepted(app_client: TestClient) -> None:
    launch_id, token = new_launch(app_client)
    response = app_client.post(f"/l/{launch_id}/logout", headers={CSRF_HEADER: token})
    assert response.status_code == 200
    launch_id, token = new_launch(app_client)
    response = app_client.post(f"/l/{launch_id}/logout", data={"csrf_token": token})
    assert response.status_code == 200
    assert "signed out" in response.text


def test_template_global_renders_the_session_token(app_client: TestClient) -> None:
    _, token = new_launch(app_client)
    env = Environment(autoescape=True)
    install_csrf(env)
    template = env.from_string('<input value="{{ csrf_token(request) }}">')
    request = SimpleNamespace(app=app_client.app, cookies=dict(app_client.cookies))
    assert template.render(request=request) == f'<input value="{token}">'
    anonymous = SimpleNamespace(app=app_client.app, cookies={})
    assert template.render(request=anonymous) == '<input value="">'
