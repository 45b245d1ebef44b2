"""An EHR launch whose authorization request is POSTed (``authorize-post``), end to end.

SMART App Launch 2.2 scopes-and-launch-context "Scope size over the wire". The test SMART server
(tests/support/smart_server.py) advertises ``authorize-post``; the app's issuer asks for a scope
string long enough that the GET URL would pass 2000 characters. The browser gets the app's form
page and POSTs its fields to the authorization server, as a browser does when autosubmit.js runs
or the button is pressed; then the callback, the token exchange and the patient's record follow
over real HTTP against the real FHIR server. A second test lets headless Chromium run the page
itself, so autosubmit.js and the page's CSP ``form-action`` are exercised for real.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from smart_launch import IssuerRegistry
from smart_launch.scopes import DEFAULT_RESOURCE_TYPES, resource_scopes
from tests.integration.fhir_server import FhirTestServer
from tests.support.browser import Browser
from tests.support.chromium import CHROMIUM_ARGS, require_chromium
from tests.support.launch_env import PATIENT_A, LaunchEnv, launch_env, seed_patients

pytestmark = pytest.mark.integration

LAUNCH_PATH = re.compile(r"/l/([A-Za-z0-9_-]{20,})/summary$")
OBSERVATION = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION = "http://terminology.hl7.org/CodeSystem/condition-category"
DOCUMENT = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
# SMART v2 granular scopes (search-parameter constraints): a realistic way to pass 2000 characters.
GRANULAR = [
    *(
        f"patient/Observation.rs?category={OBSERVATION}|{category}"
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
        f"patient/Condition.rs?category={CONDITION}|{category}"
        for category in ("problem-list-item", "encounter-diagnosis")
    ),
    "patient/Condition.rs?category=http://hl7.org/fhir/us/core/CodeSystem/condition-category|"
    "health-concern",
    f"patient/DocumentReference.rs?category={DOCUMENT}|clinical-note",
]


@pytest.fixture(scope="module")
def seeded(fhir_server: FhirTestServer) -> FhirTestServer:
    seed_patients(fhir_server)
    return fhir_server


@pytest.fixture
def post_env(seeded: FhirTestServer, tmp_path: Path) -> Iterator[LaunchEnv]:
    """The launch environment with ``authorize-post`` on and a long scope list for the EHR.

    The issuer entry is swapped on the running app (the registry the launch routes read) for
    one with SMART v2 granular scopes, long enough to need POST.
    """
    with launch_env(seeded, tmp_path) as env:
        env.auth.authorize_post = True
        smart = env.app.state.smart
        scopes = (*resource_scopes(DEFAULT_RESOURCE_TYPES, version="v2"), *GRANULAR)
        smart.registry = IssuerRegistry(
            replace(entry, scopes=scopes) if entry.iss == env.iss else entry
            for entry in smart.registry
        )
        yield env


class AuthorizeForm(HTMLParser):
    """The form's action and hidden fields."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action: str | None = None
        self.method: str | None = None
        self.fields: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action, self.method = values.get("action"), values.get("method")
        elif tag == "input" and values.get("type") == "hidden":
            self.fields[values["name"] or ""] = values["value"] or ""


def test_ehr_launch_completes_through_the_post_form(post_env: LaunchEnv) -> None:
    env = post_env
    env.auth.launches["launch-post-1"] = PATIENT_A
    browser = Browser()
    try:
        page = browser.get(f"{env.app_base}/launch?iss={env.iss}&launch=launch-post-1")
        assert page.status_code == 200, page.text
        form = AuthorizeForm(page.text)
        assert form.method == "post"
        assert form.action == f"{env.auth.base}/authorize"
        assert "form-action 'self' " + env.auth.base in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        assert set(GRANULAR) <= set(form.fields["scope"].split())
        assert form.fields["launch"] == "launch-post-1"
        assert form.fields["aud"] == env.iss

        at_server = browser.post(form.action, form.fields, follow=False)
        assert at_server.status_code == 303, at_server.text
        callback = browser.get(at_server.headers["location"], follow=False)
        assert callback.request.url.path == "/callback"
        assert callback.status_code == 303, callback.text
        match = LAUNCH_PATH.search(callback.headers["location"])
        assert match, callback.text
        record = browser.get(f"{env.app_base}/l/{match.group(1)}/test-record")
        assert record.status_code == 200, record.text
        data = record.json()
    finally:
        browser.close()
    assert env.auth.authorize_methods == ["POST"]
    assert env.auth.token_requests == [{"grant_type": "authorization_code"}]
    assert data["patient_id"] == PATIENT_A
    assert data["family"] == "Alpha"
    assert data["sections"]["patient"] == "complete"


def test_the_state_of_a_posted_request_is_burnt_after_one_callback(post_env: LaunchEnv) -> None:
    env = post_env
    env.auth.launches["launch-post-2"] = PATIENT_A
    browser = Browser()
    try:
        page = browser.get(f"{env.app_base}/launch?iss={env.iss}&launch=launch-post-2")
        form = AuthorizeForm(page.text)
        at_server = browser.post(form.action or "", form.fields, follow=False)
        first = browser.get(at_server.headers["location"], follow=False)
        again = browser.get(at_server.headers["location"], follow=False)
    finally:
        browser.close()
    assert first.status_code == 303
    assert again.status_code == 400
    assert "already used" in again.text


@pytest.mark.browser
def test_chromium_submits_the_form_itself_under_the_page_csp(post_env: LaunchEnv) -> None:
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    env = post_env
    env.auth.launches["launch-post-3"] = PATIENT_A
    violations: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page()
            page.on(
                "console",
                lambda message: (
                    violations.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )
            page.goto(f"{env.app_base}/launch?iss={env.iss}&launch=launch-post-3")
            page.wait_for_url(LAUNCH_PATH, timeout=20_000)
            launch_id = LAUNCH_PATH.search(page.url).group(1)  # type: ignore[union-attr]
            body = page.goto(f"{env.app_base}/l/{launch_id}/test-record")
            assert body is not None
            data = body.json()
        finally:
            chromium.close()
    assert violations == []
    assert env.auth.authorize_methods == ["POST"]
    assert data["patient_id"] == PATIENT_A
