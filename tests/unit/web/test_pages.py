"""The summary, dashboard and outreach pages: content, headers, audit, degraded data, escaping."""

from __future__ import annotations

import logging
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from app.fhir.errors import FhirTimeout
from app.fhir.load import SectionStatus
from app.storage.audit import AuditLog
from tests.unit.web.conftest import AS_OF, synthetic

Q = f"?as_of={AS_OF.isoformat()}"
MED_SECTIONS = (
    "medication-request",
    "medication-request-active",
    "medication-dispense",
    "medication-statement",
)


def test_summary_shows_the_regimen_total_and_talking_points(client, launch):
    launch_id = launch()
    response = client.get(f"/l/{launch_id}/summary{Q}")
    assert response.status_code == 200
    html = response.text
    assert "Avery Synth0001" in html
    assert "TEST000001" in html
    assert "Current opioid regimen" in html
    assert ">360.0<" in html
    assert "Talking points" in html
    assert "Treatment agreement" in html and "overdue" in html
    assert "PPACT intake vs discharge" in html


def test_patient_pages_are_not_cached_and_carry_the_csp(client, launch):
    launch_id = launch()
    for page in ("summary", "dashboard", "outreach", "summary.txt"):
        response = client.get(f"/l/{launch_id}/{page}{Q}")
        assert response.status_code == 200, page
        assert response.headers["cache-control"] == "no-store", page
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_pages_hold_no_inline_script_or_style(client, launch):
    launch_id = launch()
    for page in ("summary", "dashboard", "outreach"):
        html = client.get(f"/l/{launch_id}/{page}{Q}").text
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], page
        assert " style=" not in html and "<style" not in html, page
        assert " on" + "click=" not in html


def test_every_page_view_is_audited_with_user_and_patient(client, launch):
    launch_id = launch()
    for page in ("summary", "dashboard", "outreach"):
        client.get(f"/l/{launch_id}/{page}{Q}")
    audit: AuditLog = client.app.state.audit
    entries = audit.entries(patient="ppact-0001")
    events = [e.event for e in entries]
    assert {"view-summary", "view-dashboard", "view-outreach"} <= set(events)
    assert all(e.user == "Practitioner/ppact-prac-01" and e.launch == launch_id for e in entries)


def test_the_record_is_loaded_once_for_several_pages(client, launch, loader):
    launch_id = launch()
    for page in ("summary", "dashboard", "outreach", "summary.txt"):
        client.get(f"/l/{launch_id}/{page}{Q}")
    assert loader.calls == 1


def test_every_evidence_link_on_the_summary_lands_on_a_dashboard_row(client, launch):
    launch_id = launch()
    summary = client.get(f"/l/{launch_id}/summary{Q}").text
    dashboard = client.get(f"/l/{launch_id}/dashboard{Q}").text
    targets = set(re.findall(r'href="[^"#]*/dashboard[^"#]*#([^"]+)"', summary))
    ids = set(re.findall(r'id="([^"]+)"', dashboard))
    assert len(targets) > 10
    assert targets - ids == set()


def test_dashboard_tables_are_sortable_and_mark_early_refills(client, launch):
    html = client.get(f"/l/{launch()}/dashboard{Q}").text
    assert html.count('class="sortable"') >= 8
    assert "early refill (" in html
    assert "Progress notes (newest first)" in html
    assert "Data used:" in html


def test_hostile_patient_name_is_rendered_as_text(client, launch, loader):
    resources = synthetic(1)
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    patient["name"] = [{"text": "<script>alert(1)</script>"}]
    loader.resources = resources
    launch_id = launch()
    for page in ("summary", "dashboard", "outreach"):
        html = client.get(f"/l/{launch_id}/{page}{Q}").text
        assert "<script>alert(1)</script>" not in html, page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, page


def test_failed_medication_searches_show_unavailable_not_no_opioids(client, launch, loader):
    loader.sections = {
        name: SectionStatus("failed", "FHIR server timed out", 0) for name in MED_SECTIONS
    }
    loader.resources = [r for r in synthetic(1) if not r["resourceType"].startswith("Medication")]
    html = client.get(f"/l/{launch()}/summary{Q}").text
    assert "Medications unavailable." in html
    assert "FHIR server timed out" in html
    assert "No current opioid on record" not in html
    assert ">Total MME/day<" not in html
    assert "data:image/svg+xml" not in html  # no MME trend drawn from missing data
    assert "MME trend unavailable" in html


def test_sections_outside_the_granted_scopes_are_marked_not_permitted(client, launch):
    launch_id = launch(scope="launch openid fhirUser patient/Patient.rs patient/Condition.rs")
    html = client.get(f"/l/{launch_id}/summary{Q}").text
    assert "Medications unavailable." in html
    assert "not granted read access to MedicationRequest" in html
    assert "Avery Synth0001" in html
    assert "Save to chart" not in html


def test_an_ehr_failure_gives_an_error_page_not_a_stack_trace(client, launch, loader):
    loader.error = FhirTimeout("No answer in time on Patient read")
    response = client.get(f"/l/{launch()}/summary{Q}")
    assert response.status_code == 502
    assert "The EHR did not answer" in response.text
    assert "Traceback" not in response.text
    assert response.headers["cache-control"] == "no-store"


def test_launch_without_patient_asks_to_pick_one(client, launch):
    response = client.get(f"/l/{launch(patient_id=None)}/summary")
    assert response.status_code == 400
    assert "Pick a patient" in response.text


def test_bad_as_of_date_is_refused_with_a_sentence(client, launch):
    response = client.get(f"/l/{launch()}/summary?as_of=11/01/2026")
    assert response.status_code == 400
    assert "2026-11-01" in response.text


def test_as_of_defaults_to_today_in_the_clinic_time_zone(client, launch, loader, monkeypatch):
    seen: list[date] = []

    async def record(client, patient_id, *, as_of, **_):
        seen.append(as_of)
        return await type(loader).__call__(loader, client, patient_id, as_of=as_of)

    monkeypatch.setattr("app.web.pages.load_patient_record", record)
    client.get(f"/l/{launch()}/summary")
    from datetime import datetime
    from zoneinfo import ZoneInfo

    assert seen == [datetime.now(ZoneInfo(client.app.state.settings.timezone)).date()]


def test_another_browser_cannot_open_the_launch(client, launch):
    launch_id = launch()
    client.cookies.clear()
    response = client.get(f"/l/{launch_id}/summary{Q}")
    assert response.status_code in {401, 404}
    assert "Avery" not in response.text


def test_banner_is_left_to_the_ehr_when_it_says_so(client, launch):
    shown = client.get(f"/l/{launch()}/summary{Q}").text
    hidden = client.get(f"/l/{launch(need_patient_banner=False)}/summary{Q}").text
    assert 'class="patient-banner"' in shown
    assert 'class="patient-banner"' not in hidden


def test_summary_text_is_plain_and_complete(client, launch):
    response = client.get(f"/l/{launch()}/summary.txt{Q}")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for heading in ("CURRENT OPIOID REGIMEN", "RISK FINDINGS", "MONITORING", "TALKING POINTS"):
        assert heading in text
    assert "Total 360.0 MME/day" in text
    assert "<" not in text


def test_outreach_script_is_editable_and_copyable(client, launch):
    html = client.get(f"/l/{launch()}/outreach{Q}").text
    assert '<textarea id="script"' in html
    assert 'data-copy-target="script"' in html
    assert "Hello Avery" in html
    assert "PPACT (Pain Program for Active Coping and Training)" in html


def test_charts_have_a_text_alternative_and_a_data_table(client, launch):
    html = client.get(f"/l/{launch()}/summary{Q}").text
    assert 'src="data:image/svg+xml;base64,' in html
    alt = re.search(r'<img src="data:image/svg\+xml;base64,[^"]+" alt="([^"]+)"', html)
    assert alt is not None and "MME/day" in alt.group(1) and "thresholds" in alt.group(1)
    assert "<caption>Total MME/day, last 24 months</caption>" in html


def test_logs_carry_no_patient_identifiers(client, launch, caplog):
    caplog.set_level(logging.DEBUG)
    launch_id = launch()
    for page in ("summary", "dashboard", "outreach", "summary.txt"):
        client.get(f"/l/{launch_id}/{page}{Q}")
    for secret in ("Avery", "Synth0001", "TEST000001", "ppact-0001", "1968-08-11"):
        assert secret not in caplog.text


def test_dashboard_lists_cds_alerts_snoozed_for_the_patient(client, launch):
    from datetime import UTC, datetime

    from app.storage.feedback import FeedbackRecord, IssuedCard

    store = client.app.state.feedback_store
    now = datetime.now(UTC)
    card = IssuedCard(
        "card-1", "opioid-order-sign", "early-refill", "ppact-0001", "hook-1", "warning", now
    )
    store.record_cards([card])
    store.record_feedback(
        FeedbackRecord(
            "card-1", "opioid-order-sign", "overridden", now, reason_code="patient-aware"
        ),
        snooze_days=30,
    )
    html = client.get(f"/l/{launch()}/dashboard{Q}").text
    assert "Snoozed alerts" in html
    assert "<strong>early-refill</strong> snoozed until" in html


@pytest.mark.parametrize("as_of", ["9999-12-31", "0001-01-01", "1950-01-01"])
def test_as_of_far_from_today_is_refused_not_a_server_error(client, launch, as_of):
    response = client.get(f"/l/{launch()}/summary?as_of={as_of}")
    assert response.status_code == 400
    assert "as_of must be between" in response.text
    assert response.headers["cache-control"] == "no-store"


def test_unexpected_failure_gives_the_error_page_not_a_stack_trace(client, launch, loader):
    loader.error = RuntimeError("a bug somewhere below the page")
    launch_id = launch()
    quiet = TestClient(client.app, base_url="https://testserver", raise_server_exceptions=False)
    quiet.cookies = client.cookies
    response = quiet.get(f"/l/{launch_id}/summary{Q}")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "Traceback" not in response.text and "RuntimeError" not in response.text
    assert response.headers["cache-control"] == "no-store"


def test_page_load_uses_the_configured_deadline(client, launch, loader):
    client.get(f"/l/{launch()}/summary{Q}")
    assert loader.kwargs["deadline_seconds"] == 10.0


def test_token_refused_after_refresh_asks_to_launch_again(client, launch, loader):
    from app.fhir.errors import NotAuthorized

    loader.error = NotAuthorized(401, "token expired")
    response = client.get(f"/l/{launch()}/summary{Q}")
    assert response.status_code == 401
    assert "The EHR did not answer" not in response.text
    assert "launch" in response.text.lower()
