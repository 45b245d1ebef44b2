"""``/launch`` sends a long authorization request by POST when the server offers ``authorize-post``.

SMART App Launch 2.2 scopes-and-launch-context "Scope size over the wire"; docs standards
section 1. The EHR's discovery document is served by an httpx MockTransport; the page is checked
for every parameter, the PKCE challenge against the stored verifier, and its own CSP.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

ISS = "https://ehr.example.org/fhir"
AUTHORIZE = "https://auth.example.org:8443/oauth2/authorize"
REDIRECT = "https://app.example/callback"
EHR_ORIGIN = "https://ehr.example.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
# SMART v2 granular scopes (search-parameter constraints) make realistic long scope strings.
LONG_SCOPES = [
    "patient/Patient.rs",
    "patient/MedicationRequest.rs",
    "patient/MedicationDispense.rs",
    "patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|"
    "problem-list-item",
    "patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|"
    "encounter-diagnosis",
    *(
        f"patient/Observation.rs?category={CATEGORY}|{category}"
        for category in (
            "laboratory",
            "survey",
            "social-history",
            "vital-signs",
            "exam",
            "therapy",
            "activity",
            "procedure",
            "imaging",
        )
    ),
    *(
        f"patient/{resource}.rs"
        for resource in (
            "DocumentReference",
            "QuestionnaireResponse",
            "Procedure",
            "Encounter",
            "ServiceRequest",
            "CarePlan",
            "EpisodeOfCare",
            "MedicationStatement",
            "Medication",
        )
    ),
    "patient/DocumentReference.c",
]


def configuration(*capabilities: str) -> dict[str, Any]:
    return {
        "issuer": "https://auth.example.org:8443",
        "authorization_endpoint": AUTHORIZE,
        "token_endpoint": "https://auth.example.org:8443/oauth2/token",
        "jwks_uri": "https://auth.example.org:8443/jwks",
        "code_challenge_methods_supported": ["S256"],
        "capabilities": ["launch-ehr", "client-public", "permission-v2", *capabilities],
    }


class Ehr:
    """The EHR's discovery endpoint; records every request the app makes."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/fhir/.well-known/smart-configuration":
            return httpx.Response(200, json=self.document)
        return httpx.Response(404, json={})


def client_for(tmp_path: Path, ehr: Ehr, scopes: list[str]) -> TestClient:
    settings = Settings(
        data_dir=tmp_path,
        frame_ancestors=[EHR_ORIGIN],
        issuers=[{"iss": ISS, "client_id": "c1", "redirect_uri": REDIRECT, "scopes": scopes}],
    )
    app = create_app(settings)
    app.state.smart.transport = httpx.MockTransport(ehr.handler)
    return TestClient(app, base_url="https://testserver")


@pytest.fixture
def post_ehr() -> Ehr:
    return Ehr(configuration("authorize-post"))


@pytest.fixture
def app_client(tmp_path: Path, post_ehr: Ehr) -> Iterator[TestClient]:
    with client_for(tmp_path, post_ehr, LONG_SCOPES) as client:
        yield client


class FormReader(HTMLParser):
    """The forms, hidden inputs, buttons and scripts of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str | None]] = []
        self.fields: list[tuple[str, str]] = []
        self.buttons: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self._in: str | None = None
        self._script_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append(values)
        elif tag == "input" and values.get("type") == "hidden":
            self.fields.append((values["name"] or "", values["value"] or ""))
        elif tag in ("button", "script"):
            self._in = tag
            if tag == "script":
                self.scripts.append(values)

    def handle_data(self, data: str) -> None:
        if self._in == "button":
            self.buttons.append(data.strip())
        elif self._in == "script":
            self._script_text += data

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def read_page(html: str) -> FormReader:
    reader = FormReader()
    reader.feed(html)
    return reader


def csp_directives(header: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


def test_long_scope_request_is_a_self_submitting_post_form(
    app_client: TestClient, post_ehr: Ehr
) -> None:
    response = app_client.get("/launch", params={"iss": ISS, "launch": "ehr-launch-123"})

    assert response.status_code == 200
    page = read_page(response.text)
    (form,) = page.forms
    assert form["method"] == "post"
    assert form["action"] == AUTHORIZE
    fields = dict(page.fields)
    assert len(fields) == len(page.fields), "a parameter appears twice"
    assert set(fields) == {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "aud",
        "code_challenge",
        "code_challenge_method",
        "launch",
        "nonce",
    }
    assert fields["response_type"] == "code"
    assert fields["client_id"] == "c1"
    assert fields["redirect_uri"] == REDIRECT
    assert fields["aud"] == ISS
    assert fields["launch"] == "ehr-launch-123"
    assert fields["code_challenge_method"] == "S256"
    assert fields["scope"].split() == [*LONG_SCOPES, "launch", "openid", "fhirUser"]
    assert "Continue to sign in" in page.buttons
    # The GET URL would have been too long; that is why this is a POST.
    assert len(AUTHORIZE) + len(httpx.QueryParams(fields).__str__()) > 2000

    # state is bound to the server-side launch, and the challenge is S256 of its verifier.
    pending = app_client.app.state.smart.sessions.pop_pending(fields["state"])  # type: ignore[attr-defined]
    assert pending is not None
    assert pending["nonce"] == fields["nonce"]
    digest = hashlib.sha256(pending["code_verifier"].encode()).digest()
    assert fields["code_challenge"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert len(fields["state"]) >= 22
    assert [r.url.path for r in post_ehr.requests] == ["/fhir/.well-known/smart-configuration"]


def test_the_post_page_csp_allows_only_the_authorization_origin_and_is_not_cached(
    app_client: TestClient,
) -> None:
    response = app_client.get("/launch", params={"iss": ISS, "launch": "L1"})

    directives = csp_directives(response.headers["content-security-policy"])
    assert directives["form-action"] == "form-action 'self' https://auth.example.org:8443"
    assert directives["frame-ancestors"] == f"frame-ancestors {EHR_ORIGIN}"
    assert directives["script-src"] == "script-src 'self'"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-ppact_session=") and "HttpOnly" in cookie

    # Only that response: other pages keep form-action to the app itself.
    other = app_client.get("/")
    assert csp_directives(other.headers["content-security-policy"])["form-action"] == (
        "form-action 'self'"
    )


def test_the_post_page_has_no_inline_script_and_loads_autosubmit(app_client: TestClient) -> None:
    response = app_client.get("/launch", params={"iss": ISS, "launch": "L1"})

    page = read_page(response.text)
    (source,) = [s.get("src") or "" for s in page.scripts]
    assert httpx.URL(source).path == "/static/js/autosubmit.js"
    assert page._script_text.strip() == ""
    script = app_client.get(source)
    assert script.status_code == 200
    assert "form[data-autosubmit]" in script.text and ".submit()" in script.text
    assert "data-autosubmit" in response.text


def test_a_short_request_is_still_a_redirect(tmp_path: Path, post_ehr: Ehr) -> None:
    with client_for(tmp_path, post_ehr, ["patient/Patient.rs"]) as client:
        response = client.get(
            "/launch", params={"iss": ISS, "launch": "L1"}, follow_redirects=False
        )
    assert response.status_code == 303
    assert response.headers["location"].startswith(AUTHORIZE + "?")


def test_a_long_request_without_authorize_post_is_a_redirect(tmp_path: Path) -> None:
    ehr = Ehr(configuration())
    with client_for(tmp_path, ehr, LONG_SCOPES) as client:
        response = client.get(
            "/launch", params={"iss": ISS, "launch": "L1"}, follow_redirects=False
        )
    assert response.status_code == 303
    assert len(response.headers["location"]) > 2000
    assert "form-action 'self';" in response.headers["content-security-policy"]


def test_an_endpoint_that_is_not_a_web_address_gets_an_error_page(tmp_path: Path) -> None:
    document = configuration("authorize-post")
    document["authorization_endpoint"] = "ftp://auth.example.org/authorize"
    with client_for(tmp_path, Ehr(document), LONG_SCOPES) as client:
        response = client.get("/launch", params={"iss": ISS, "launch": "L1"})
    assert response.status_code in (400, 502)
    assert "<form" not in response.text
    assert "ftp://" not in response.headers["content-security-policy"]
