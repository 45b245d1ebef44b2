"""PDF, save to chart (CSRF, scopes, idempotency) and the EHR style sheet."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re

import httpx
import pypdf
import pytest
import respx

from app.web.csrf import token_for
from app.web.smart_style import css_from_style
from app.web.writeback import IDENTIFIER_SYSTEM, SUMMARY_NOTE_LOINC
from tests.unit.web.conftest import AS_OF, FULL_SCOPE, ISS

Q = f"?as_of={AS_OF.isoformat()}"


def csrf(client) -> str:
    sessions = client.app.state.smart.sessions
    return token_for(sessions, sessions.session_id_from(client.cookies))


def test_summary_pdf_is_exactly_one_letter_page(client, launch):
    response = client.get(f"/l/{launch()}/summary.pdf{Q}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)  # US Letter
    text = reader.pages[0].extract_text()
    assert "Avery Synth0001" in text and "360.0" in text


def test_save_needs_the_csrf_token(client, launch):
    response = client.post(f"/l/{launch()}/save-to-chart{Q}", follow_redirects=False)
    assert response.status_code == 403


def test_save_is_refused_without_the_write_scope(client, launch):
    launch_id = launch(scope=FULL_SCOPE.replace(" patient/DocumentReference.c", ""))
    response = client.post(
        f"/l/{launch_id}/save-to-chart{Q}",
        data={"csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "not granted permission to write" in response.text


class FakeEhr:
    """DocumentReference search and transaction on the EHR, recording what was written."""

    def __init__(self) -> None:
        self.stored: list[dict] = []

    def search(self, request: httpx.Request) -> httpx.Response:
        wanted = request.url.params.get("identifier", "")
        hits = [
            d for d in self.stored
            if any(f"{i['system']}|{i['value']}" == wanted for i in d["identifier"])
        ]  # fmt: skip
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": d, "search": {"mode": "match"}} for d in hits],
        }
        return httpx.Response(200, json=bundle)

    def transaction(self, request: httpx.Request) -> httpx.Response:
        bundle = json.loads(request.content)
        resource = dict(bundle["entry"][0]["resource"], id=f"doc{len(self.stored) + 1}")
        self.stored.append(resource)
        entry = {
            "response": {
                "status": "201 Created",
                "location": f"DocumentReference/{resource['id']}/_history/1",
            }
        }
        return httpx.Response(
            200, json={"resourceType": "Bundle", "type": "transaction-response", "entry": [entry]}
        )


@pytest.fixture
def ehr():
    fake = FakeEhr()
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{ISS}/DocumentReference").mock(side_effect=fake.search)
        mock.post(ISS).mock(side_effect=fake.transaction)
        yield fake


def test_save_to_chart_writes_one_document_even_on_double_click(client, launch, ehr):
    launch_id = launch()
    token = csrf(client)
    first = client.post(
        f"/l/{launch_id}/save-to-chart{Q}", data={"csrf_token": token}, follow_redirects=False
    )
    second = client.post(
        f"/l/{launch_id}/save-to-chart{Q}", data={"csrf_token": token}, follow_redirects=False
    )
    assert first.status_code == second.status_code == 303
    assert "saved=created" in first.headers["location"]
    assert "saved=exists" in second.headers["location"]
    assert len(ehr.stored) == 1
    doc = ehr.stored[0]
    assert doc["subject"] == {"reference": "Patient/ppact-0001"}
    assert doc["type"]["coding"][0]["code"] == SUMMARY_NOTE_LOINC
    assert doc["identifier"][0]["system"] == IDENTIFIER_SYSTEM
    assert doc["author"] == [{"reference": "Practitioner/ppact-prac-01"}]
    attachment = doc["content"][0]["attachment"]
    assert attachment["contentType"] == "application/pdf"
    pdf = base64.b64decode(attachment["data"])
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1
    assert attachment["size"] == len(pdf)


def test_save_result_is_shown_on_the_summary(client, launch, ehr):
    launch_id = launch()
    response = client.post(
        f"/l/{launch_id}/save-to-chart{Q}", data={"csrf_token": csrf(client)}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "Saved to the chart as a document." in response.text
    again = client.post(
        f"/l/{launch_id}/save-to-chart{Q}", data={"csrf_token": csrf(client)}, follow_redirects=True
    )
    assert "Already in the chart" in again.text
    audit = client.app.state.audit.entries(patient="ppact-0001")
    assert [e.detail for e in audit if e.event == "save-summary"] == ["exists", "created"]


def test_a_refused_write_says_nothing_was_saved(client, launch):
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{ISS}/DocumentReference").mock(
            return_value=httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset"})
        )
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "forbidden", "diagnostics": "write refused"}],
        }
        mock.post(ISS).mock(return_value=httpx.Response(403, json=outcome))
        response = client.post(
            f"/l/{launch()}/save-to-chart{Q}",
            data={"csrf_token": csrf(client)},
            follow_redirects=False,
        )
    assert response.status_code == 502
    assert "Nothing was saved" in response.text


def test_smart_style_is_served_as_css_custom_properties(client, launch):
    style_url = f"{ISS}/smart-style.json"
    launch_id = launch(smart_style_url=style_url)
    with respx.mock(assert_all_called=True) as mock:
        mock.get(style_url).mock(
            return_value=httpx.Response(
                200,
                json={
                    "color_background": "#edeae3",
                    "color_text": "#222",
                    "font_family_body": "Georgia, serif",
                },
            )
        )
        summary = client.get(f"/l/{launch_id}/summary{Q}").text
        css = client.get(f"/l/{launch_id}/style.css").text
    assert f'href="https://testserver/l/{launch_id}/style.css"' in summary
    assert "--ppact-bg: #edeae3;" in css
    assert "--ppact-font-body: Georgia, serif;" in css


def test_smart_style_from_another_origin_is_not_fetched(client, launch):
    launch_id = launch(smart_style_url="https://evil.example.net/style.json")
    with respx.mock(assert_all_called=False) as mock:
        evil = mock.get("https://evil.example.net/style.json")
        css = client.get(f"/l/{launch_id}/style.css").text
    assert css == ""
    assert not evil.called


def test_style_values_that_could_break_out_are_dropped():
    css = css_from_style(
        {
            "color_background": "red;} body{display:none",
            "color_text": "#123456",
            "font_family_body": "x</style><script>",
            "dim_border_radius": 4,
        }
    )
    assert "display" not in css and "script" not in css
    assert "--ppact-text: #123456;" in css
    assert "--ppact-radius: 4px;" in css
    assert re.fullmatch(r":root \{\n(  --ppact-[a-z-]+: [^;{}]+;\n)+\}\n", css)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_concurrent_saves_of_one_summary_write_one_document(ehr):
    from app.fhir.client import FhirClient
    from app.web.writeback import save_summary

    class SlowEhrClient(FhirClient):
        async def search(self, resource_type, params):
            found = await super().search(resource_type, params)
            await asyncio.sleep(0.02)  # a real EHR is slow: concurrent clicks interleave here
            return found

    async with SlowEhrClient(ISS) as fhir:
        results = await asyncio.gather(
            *(
                save_summary(
                    fhir,
                    patient_id="p1",
                    as_of=AS_OF,
                    text="same text",
                    pdf=b"%PDF-1.4",
                    author=None,
                )
                for _ in range(3)
            )
        )
    assert sorted(r.outcome for r in results) == ["created", "exists", "exists"]
    assert len(ehr.stored) == 1
    assert ehr.stored[0]["identifier"][0]["value"].startswith("sha256-")


def test_summary_pdf_on_a4_is_one_a4_page(client, launch):
    client.app.state.settings = client.app.state.settings.model_copy(update={"paper_size": "a4"})
    response = client.get(f"/l/{launch()}/summary.pdf{Q}")
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4
