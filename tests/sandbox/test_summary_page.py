"""The summary page through an open-server SMART launch, against each target FHIR server.

What a clinic user does on a server without authorization: open ``/launch?iss=<server>``, choose
the patient in the picker, read the summary. Runs on every `fhir_target` (the local server in
`make test`, PPACT_SANDBOX_FHIR under `-m sandbox`) with the app on a real uvicorn server. A
target that needs a token (the local one) is reached through the test SMART server's open FHIR
proxy, the same data without authorization. The page must show the total the generated Bundle
gives, and its text version must equal the one for the same patient on the local server.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.clinical.chart import chart_from_bundle
from app.clinical.policy import default_policy
from app.clinical.summary import build_summary
from app.main import create_app
from app.settings import Settings
from tests.sandbox.conftest import AS_OF, LoadedRun, Target
from tests.sandbox.test_fhir_paths import unprefixed
from tests.support.browser import Browser
from tests.support.servers import serve
from tests.support.smart_server import SmartServerState, build_smart_server

pytestmark = pytest.mark.integration

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextlib.contextmanager
def open_iss(target: Target) -> Iterator[str]:
    """The target itself when it is open; else the test SMART server's open proxy to it."""
    if target.token is None:
        yield target.base_url
        return
    state = SmartServerState(fhir_upstream=target.base_url, fhir_token=target.token)
    with serve(build_smart_server(state)) as auth_base:
        state.base = auth_base
        yield f"{auth_base}/open/fhir"


def launch_and_read(run: LoadedRun, patient_id: str, tmp_path: Path) -> tuple[str, str]:
    """Open-server launch, pick the patient, GET the summary page and its text version."""
    browser = Browser()
    with open_iss(run.target) as iss:
        settings = Settings(
            data_dir=tmp_path / run.target.name / "data",
            keys_dir=tmp_path / run.target.name / "keys",
            issuers=[{"iss": iss, "open": True}],
        )
        try:
            with serve(create_app(settings)) as base:
                pick = browser.get(f"{base}/launch?iss={iss}")
                assert pick.status_code == 200, pick.text
                assert pick.request.url.path.endswith("/pick")
                launch = str(pick.request.url).removesuffix("/pick")
                token = CSRF.search(pick.text)
                assert token, "the picker has a CSRF token"
                chosen = browser.post(
                    f"{launch}/pick",
                    {"patient": run.server_id(patient_id), "csrf_token": token.group(1)},
                    follow=False,
                )
                assert chosen.status_code == 303, chosen.text
                assert chosen.headers["location"].endswith("/summary")
                page = browser.get(f"{launch}/summary?as_of={AS_OF.isoformat()}")
                text = browser.get(f"{launch}/summary.txt?as_of={AS_OF.isoformat()}")
        finally:
            browser.close()
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert text.status_code == 200, text.text
    return page.text, text.text


@pytest.mark.parametrize("patient_id", ["ppact-0001", "ppact-0013"])
def test_open_launch_shows_the_summary_page_of_the_target_server(
    loaded: LoadedRun, local_run: LoadedRun, tmp_path: Path, patient_id: str
) -> None:
    html, text = launch_and_read(loaded, patient_id, tmp_path / "target")
    original = loaded.originals[patient_id]
    patient = next(e["resource"] for e in original["entry"] if e["resource"]["id"] == patient_id)
    expected = build_summary(chart_from_bundle(original), default_policy(), AS_OF)
    assert patient["name"][0]["family"] in html
    total_cell = re.search(r'class="num total">(.*?)</td>', html, re.S)
    assert total_cell, "the summary page shows a total MME/day cell"
    assert expected.regimen.total_text in total_cell.group(1)
    assert "Data that could not be read" not in html
    _, local_text = launch_and_read(local_run, patient_id, tmp_path / "local")
    assert unprefixed(text, loaded.prefix) == unprefixed(local_text, local_run.prefix)
