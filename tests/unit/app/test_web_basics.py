"""The web app starts, answers health checks and sends its security headers."""

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


def test_landing_page_has_csp_without_inline_script_and_default_frame_ancestors():
    client = TestClient(create_app(Settings()))
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "x-frame-options" not in response.headers


def test_frame_ancestors_come_from_settings():
    settings = Settings(frame_ancestors=["https://ehr.example.org"])
    response = TestClient(create_app(settings)).get("/healthz")
    assert response.json() == {"status": "ok"}
    assert "frame-ancestors https://ehr.example.org" in response.headers["content-security-policy"]
