"""Launch security over real HTTP: state, PKCE, replay, unknown or redirecting iss, expiry,
refresh failure, two launches in one browser, CSRF, and tokens kept out of HTML, cookies and logs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.main import create_app
from tests.integration.fhir_server import FhirTestServer
from tests.integration.test_ehr_launch import LAUNCH_PATH, ehr_launch, record
from tests.support.browser import Browser
from tests.support.launch_env import (
    CLIENT_ID,
    PATIENT_A,
    PATIENT_B,
    add_record_route,
    launch_env,
    seed_patients,
)
from tests.support.servers import serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seeded(fhir_server: FhirTestServer) -> FhirTestServer:
    seed_patients(fhir_server)
    return fhir_server


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser()
    yield b
    b.close()


def counting_server(hits: list[str], redirect_to: str | None = None) -> FastAPI:
    """A server that records every request; optionally redirects everything to another origin."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def anything(request: Request, path: str) -> Response:
        hits.append(path)
        if redirect_to:
            return RedirectResponse(f"{redirect_to}/{path}", status_code=302)
        return JSONResponse({"issuer": "evil"})

    return app


def test_unknown_iss_is_refused_without_any_outbound_request(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    hits: list[str] = []
    with serve(counting_server(hits)) as evil, launch_env(seeded, tmp_path) as env:
        response = browser.get(f"{env.app_base}/launch?iss={evil}/fhir&launch=x", follow=False)
        no_iss = browser.get(f"{env.app_base}/launch", follow=False)
    assert response.status_code == 400
    assert "not registered" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert no_iss.status_code == 400
    assert hits == []
    assert "location" not in response.headers


def test_discovery_does_not_follow_a_redirect_to_another_origin(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    hits: list[str] = []
    target_hits: list[str] = []
    with serve(counting_server(target_hits)) as target:
        with serve(counting_server(hits, redirect_to=target)) as redirector:
            entry = {
                "iss": f"{redirector}/fhir",
                "client_id": "c",
                "redirect_uri": "http://127.0.0.1:1/callback",
            }
            with launch_env(seeded, tmp_path, extra_issuers=[entry]) as env:
                response = browser.get(
                    f"{env.app_base}/launch?iss={redirector}/fhir&launch=x", follow=False
                )
    assert response.status_code == 502
    assert "The launch could not start" in response.text
    assert hits  # discovery asked the registered server ...
    assert target_hits == []  # ... but did not follow it elsewhere


def test_wrong_state_and_replayed_callback_are_refused(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    with launch_env(seeded, tmp_path) as env:
        bogus = browser.get(f"{env.app_base}/callback?code=abc&state=not-a-state")
        assert bogus.status_code == 400
        ehr_launch(env, browser, PATIENT_A)
        callback_url = str(browser.history[-1].request.url)
        replay = browser.get(callback_url, follow=False)
        assert replay.status_code == 400
        assert "already used" in replay.text
    assert env.auth.token_requests == [{"grant_type": "authorization_code"}]


def test_callback_from_another_browser_is_refused(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    with launch_env(seeded, tmp_path) as env:
        env.auth.launches["L1"] = PATIENT_A
        start = browser.get(f"{env.app_base}/launch?iss={env.iss}&launch=L1", follow=False)
        at_server = browser.get(start.headers["location"], follow=False)
        other = Browser()
        try:
            stolen = other.get(at_server.headers["location"], follow=False)
        finally:
            other.close()
    assert stolen.status_code == 400
    assert env.auth.token_requests == []


def test_pkce_mismatch_fails_at_the_token_endpoint(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    with launch_env(seeded, tmp_path) as env:
        env.auth.launches["L1"] = PATIENT_A
        start = browser.get(f"{env.app_base}/launch?iss={env.iss}&launch=L1", follow=False)
        parts = urlsplit(start.headers["location"])
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["code_challenge"] = "A" * 43  # an attacker's challenge
        tampered = f"{env.auth.base}/authorize?{urlencode(query)}"
        final = browser.get(tampered)
    assert final.status_code == 400
    assert "Sign-in failed" in final.text
    assert "Traceback" not in final.text
    assert not LAUNCH_PATH.search(str(final.request.url))


def test_token_is_refreshed_once_after_401s_and_before_expiry(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    with launch_env(seeded, tmp_path) as env:
        launch_id = ehr_launch(env, browser, PATIENT_A)
        env.auth.revoked.update(env.auth.issued_access_tokens)  # server-side revocation -> 401s
        data = record(env, browser, launch_id)
        assert data["sections"]["patient"] == "complete"
        assert data["sections"]["medication-request"] == "complete"
        # Every section got a 401 at once; the token was refreshed once for all of them.
        assert [r["grant_type"] for r in env.auth.token_requests] == [
            "authorization_code",
            "refresh_token",
        ]
        env.auth.access_ttl = 30  # inside the refresh margin: refreshed before the first read
        second = ehr_launch(env, browser, PATIENT_B)
        assert record(env, browser, second)["family"] == "Beta"
        assert [r["grant_type"] for r in env.auth.token_requests][2:] == [
            "authorization_code",
            "refresh_token",
        ]


def test_failed_refresh_shows_the_launch_again_page(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    with launch_env(seeded, tmp_path) as env:
        env.auth.access_ttl = 30
        env.auth.refresh_fails = True
        launch_id = ehr_launch(env, browser, PATIENT_A)
        response = browser.get(f"{env.app_base}/l/{launch_id}/test-record")
        again = browser.get(f"{env.app_base}/l/{launch_id}/test-record")
    assert response.status_code == 401
    assert "Launch the app again" in response.text
    assert "Traceback" not in response.text
    assert response.headers["cache-control"] == "no-store"
    assert again.status_code == 404  # the launch was dropped


def test_two_instances_refreshing_at_once_keep_the_launch_open(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    # Two app instances share one SQLite session store; each has its own per-process lock, so
    # both refresh the same launch at once. The server rotates refresh tokens: the second use of
    # the old one is refused (invalid_grant) after the winner's new token is already stored.
    with launch_env(seeded, tmp_path) as env:
        env.auth.access_ttl = 30  # inside the refresh margin: the next read refreshes
        launch_id = ehr_launch(env, browser, PATIENT_A)
        env.auth.access_ttl = 3600
        env.auth.refresh_hold = 0.5  # both refreshes arrive before either is answered
        env.auth.refusal_delay = 0.5  # the loser hears "no" after the winner has saved
        other = create_app(env.settings)
        add_record_route(other)
        with serve(other) as other_base:
            second = Browser()
            second.cookies[httpx.URL(other_base).netloc.decode()] = dict(
                browser.cookies[httpx.URL(env.app_base).netloc.decode()]
            )
            urls = [
                (browser, f"{env.app_base}/l/{launch_id}/test-record"),
                (second, f"{other_base}/l/{launch_id}/test-record"),
            ]
            try:
                with ThreadPoolExecutor(2) as pool:
                    answers = list(pool.map(lambda job: job[0].get(job[1]), urls))
                env.auth.refresh_hold = env.auth.refusal_delay = 0.0
                again = [b.get(url) for b, url in urls]
            finally:
                second.close()
    assert [r.status_code for r in answers] == [200, 200], [r.text[:200] for r in answers]
    assert {r.json()["family"] for r in answers} == {"Alpha"}
    # Both instances really refreshed, and only one refresh succeeded.
    assert [r["grant_type"] for r in env.auth.token_requests] == [
        "authorization_code",
        "refresh_token",
        "refresh_token",
    ]
    assert len(env.auth.issued_access_tokens) == 2
    assert [r.status_code for r in again] == [200, 200]  # the launch was not dropped


def test_two_launches_in_one_browser_never_cross_and_other_browsers_see_neither(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    with launch_env(seeded, tmp_path) as env:
        first = ehr_launch(env, browser, PATIENT_A)
        second = ehr_launch(env, browser, PATIENT_B)
        a, b = record(env, browser, first), record(env, browser, second)
        other = Browser()
        try:
            foreign = other.get(f"{env.app_base}/l/{first}/test-record")
        finally:
            other.close()
    assert (a["patient_id"], a["family"]) == (PATIENT_A, "Alpha")
    assert (b["patient_id"], b["family"]) == (PATIENT_B, "Beta")
    assert first != second
    assert foreign.status_code == 404


def test_a_type_not_granted_is_reported_and_not_permitted(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    with launch_env(seeded, tmp_path) as env:
        env.auth.drop_types = {"Condition"}
        launch_id = ehr_launch(env, browser, PATIENT_A)
        data = record(env, browser, launch_id)
    assert data["may_read"] == {"Condition": False, "MedicationRequest": True}
    condition_sections = [s for name, s in data["sections"].items() if "condition" in name]
    assert condition_sections and set(condition_sections) == {"not-permitted"}


def test_tokens_never_reach_html_cookies_or_logs(
    seeded: FhirTestServer,
    tmp_path: Path,
    browser: Browser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with launch_env(seeded, tmp_path) as env:
        env.auth.access_ttl = 30  # also exercise a refresh
        launch_id = ehr_launch(env, browser, PATIENT_A)
        record(env, browser, launch_id)
        pick = browser.get(f"{env.app_base}/launch?iss={env.open_iss}")
        browser.post(f"{env.app_base}/l/{launch_id}/logout", {"csrf_token": _token(pick.text)})
        db = b"".join(f.read_bytes() for f in (tmp_path / "data").glob("ppact.db*"))
    assert len(env.auth.issued_access_tokens) == 2
    # Rotation removed the first refresh token from the server's live set; check every one issued.
    issued = [
        *env.auth.issued_access_tokens,
        *env.auth.issued_refresh_tokens,
        *env.auth.issued_id_tokens,
    ]
    assert len(env.auth.issued_refresh_tokens) == 2
    assert len(env.auth.issued_id_tokens) == 1
    seen = browser.all_text() + "\n".join(browser.set_cookie_headers)
    # Everything logged, except the test browser's own HTTP library (it sees the redirects).
    logs = "\n".join(
        f"{r.getMessage()} {r.__dict__}"
        for r in caplog.records
        if not (r.threadName == "MainThread" and r.name.startswith("httpcore"))
    )
    assert any(r.name.startswith("app.") for r in caplog.records)
    for secret in issued:
        assert secret not in seen
        assert secret not in logs
        assert secret.encode() not in db  # encrypted at rest
    for code in env.auth.codes:
        assert code not in logs


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_the_authorization_server_refuses_a_replayed_code(
    seeded: FhirTestServer, tmp_path: Path, browser: Browser
) -> None:
    with launch_env(seeded, tmp_path, auth_method="none") as env:
        ehr_launch(env, browser, PATIENT_A)
        (code,) = env.auth.codes
        replay = httpx.post(
            f"{env.auth.base}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": CLIENT_ID,
                "redirect_uri": f"{env.app_base}/callback",
                "code_verifier": "x" * 43,
            },
        )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert env.auth.codes[code]["used"] is True
