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


def test_landing_page_on_the_demo_server_offers_the_patient_picker(tmp_path):
    settings = Settings(demo_fhir_base="http://127.0.0.1:8081/fhir", data_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        page = client.get("/").text
    assert 'action="http://testserver/launch"' in page or 'action="/launch"' in page
    assert 'name="iss" value="http://127.0.0.1:8081/fhir"' in page
    assert "Choose a demo patient" in page
    assert "/cds-services" in page
