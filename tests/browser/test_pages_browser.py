"""The patient pages in headless Chromium against the real app and a real FHIR server.

Issue 4 "Tests": summary and dashboard for several synthetic patients including the most complex,
key content, screenshots under test-artifacts/, the summary printed to PDF on exactly one page,
axe-core with no serious or critical violations, the CSP header, and a hostile patient name shown
as text.
"""

from __future__ import annotations

import io
import json

import httpx
import pypdf
import pytest

from app.synth.bundle import most_complex_patient_id
from app.web.writeback import IDENTIFIER_SYSTEM
from tests.browser.conftest import HOSTILE_NAME, HOSTILE_PATIENT

pytestmark = pytest.mark.browser

COMPLEX = most_complex_patient_id()
#: Most complex, high-dose ER, MOUD and messy-chart archetypes.
PATIENTS = [COMPLEX, "ppact-0002", "ppact-0006", "ppact-0013"]


@pytest.mark.parametrize("patient_id", PATIENTS)
def test_summary_and_dashboard_show_the_patient(page, app_server, artifacts, patient_id):
    launch_id = app_server.launch(patient_id)
    response = page.goto(app_server.url(launch_id, "summary"))
    assert response is not None and response.status == 200
    assert page.locator("h1").inner_text() == "PPACT one-page summary"
    assert page.locator(".patient-banner .pt-name").inner_text().startswith("Synth") is False
    for heading in (
        "Current opioid regimen",
        "Risk findings",
        "Monitoring (clinic policy)",
        "Talking points",
    ):
        assert page.get_by_role("heading", name=heading).is_visible()
    assert page.locator(".talking li").count() >= 3
    page.screenshot(path=artifacts(f"summary-{patient_id}.png"), full_page=True)

    page.goto(app_server.url(launch_id, "dashboard"))
    assert page.get_by_role("heading", name="Patient COT dashboard").is_visible()
    assert page.locator("table.sortable").count() >= 8
    page.screenshot(path=artifacts(f"dashboard-{patient_id}.png"), full_page=True)


def test_most_complex_patient_summary_holds_the_key_figures(page, app_server):
    page.goto(app_server.url(app_server.launch(COMPLEX), "summary"))
    regimen = page.locator("section.regimen")
    assert "fentanyl" in regimen.inner_text() and "oxycodone" in regimen.inner_text()
    assert page.locator("tfoot .total").inner_text() == "360.0"
    assert page.locator(".status-overdue").count() >= 2
    assert (
        "not on record"
        in page.locator(
            "section", has=page.get_by_role("heading", name="Sedatives and other CNS depressants")
        )
        .inner_text()
        .lower()
    )


@pytest.mark.parametrize("patient_id", [COMPLEX, "ppact-0002", "ppact-0013"])
def test_summary_prints_on_exactly_one_letter_page(page, app_server, artifacts, patient_id):
    launch_id = app_server.launch(patient_id)
    page.goto(app_server.url(launch_id, "summary"))
    pdf = page.pdf(format="Letter", prefer_css_page_size=True, print_background=True)
    artifacts(f"summary-{patient_id}-chromium.pdf").write_bytes(pdf)
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1
    served = page.request.get(app_server.url(launch_id, "summary.pdf"))
    assert served.status == 200
    artifacts(f"summary-{patient_id}-weasyprint.pdf").write_bytes(served.body())
    assert len(pypdf.PdfReader(io.BytesIO(served.body())).pages) == 1


@pytest.mark.parametrize("name", ["summary", "dashboard", "outreach"])
def test_pages_have_no_serious_accessibility_violations(axe_page, app_server, axe_script, name):
    page = axe_page
    page.goto(app_server.url(app_server.launch(COMPLEX), name))
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    serious = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]
    assert serious == [], json.dumps(serious, indent=1)


def test_csp_header_and_hostile_name_rendered_as_text(page, app_server, artifacts):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    response = page.goto(app_server.url(app_server.launch(HOSTILE_PATIENT), "summary"))
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors" in csp
    assert response.headers["cache-control"] == "no-store"
    assert page.locator(".patient-banner .pt-name").inner_text() == HOSTILE_NAME
    page.goto(app_server.url(app_server.launch(HOSTILE_PATIENT), "dashboard"))
    assert page.locator(".patient-banner .pt-name").inner_text() == HOSTILE_NAME
    page.screenshot(path=artifacts("summary-hostile-name.png"))
    assert dialogs == []


def test_evidence_links_open_the_dashboard_row(page, app_server):
    page.goto(app_server.url(app_server.launch(COMPLEX), "summary"))
    page.locator("tfoot .total a").click()
    page.wait_for_url("**/dashboard*#ev-*")
    target = page.url.split("#", 1)[1]
    row = page.locator(f"tr#{target}")
    assert row.is_visible()
    assert "fentanyl" in row.inner_text() or "oxycodone" in row.inner_text()


def test_copy_button_puts_the_plain_text_summary_on_the_clipboard(page, app_server):
    page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=app_server.base_url
    )
    launch_id = app_server.launch(COMPLEX)
    page.goto(app_server.url(launch_id, "summary"))
    page.get_by_role("button", name="Copy summary as text").click()
    page.locator(".copy-status", has_text="Copied.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("PPACT COT SUMMARY")
    assert "Total 360.0 MME/day" in copied


def test_dashboard_table_sorts_by_a_column(page, app_server):
    page.goto(app_server.url(app_server.launch(COMPLEX), "dashboard"))
    header = page.locator("#opioids th").first
    header.get_by_role("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    dates = page.locator("#opioids tbody tr:not(.note-text) td:first-child").all_inner_texts()
    assert dates == sorted(dates)


def test_save_to_chart_double_click_writes_one_document(page, app_server, artifacts):
    launch_id = app_server.launch(COMPLEX)
    page.goto(app_server.url(launch_id, "summary"))
    page.get_by_role("button", name="Save to chart").dblclick()
    notice = page.locator("#save")
    notice.wait_for()
    assert "chart" in notice.inner_text()
    page.screenshot(path=artifacts("summary-saved.png"))
    page.goto(app_server.url(launch_id, "summary"))
    page.get_by_role("button", name="Save to chart").click()
    assert "Already in the chart" in page.locator("#save").inner_text()
    found = httpx.get(
        f"{app_server.fhir.base_url}/DocumentReference",
        params={"patient": COMPLEX, "type": "http://loinc.org|34133-9"},
        headers=app_server.fhir.headers(),
    ).json()
    docs = [e["resource"] for e in found.get("entry", [])]
    assert len(docs) == 1
    assert docs[0]["identifier"][0]["system"] == IDENTIFIER_SYSTEM


def test_one_section_can_be_copied_as_text(page, app_server):
    page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=app_server.base_url
    )
    page.goto(app_server.url(app_server.launch(COMPLEX), "summary"))
    first_point = page.locator(".talking li").first.inner_text().replace("evidence", "").strip()
    page.get_by_role("button", name="Copy section: Talking points").click()
    page.locator(".copy-status", has_text="Copied.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.lower().startswith("talking points")
    assert first_point in copied
    assert "Risk findings".lower() not in copied.lower()


def test_sections_without_granted_scope_are_shown_as_unavailable(page, app_server):
    scope = "launch openid fhirUser patient/Patient.rs patient/Condition.rs patient/Observation.rs"
    page.goto(app_server.url(app_server.launch(COMPLEX, scope=scope), "summary"))
    regimen = page.locator("section.regimen")
    assert "Medications unavailable." in regimen.inner_text()
    assert "not granted read access to MedicationRequest" in regimen.inner_text()
    assert page.locator("img[src^='data:image/svg+xml']").count() == 0
    assert page.get_by_role("button", name="Save to chart").count() == 0
    assert page.locator(".patient-banner .pt-name").inner_text() == "Avery Synth0001"


def test_reported_regimen_shows_prescribers_and_links_the_prescription(page, app_server):
    # Three weeks on, the last fills have run out: the patient-reported statements are counted.
    launch_id = app_server.launch(COMPLEX)
    page.goto(f"{app_server.base_url}/l/{launch_id}/summary?as_of=2026-11-24")
    rows = page.locator("section.regimen tbody tr")
    fentanyl = rows.filter(has_text="fentanyl")
    oxycodone = rows.filter(has_text="oxycodone")
    assert "Quinn Testdoc, MD" in fentanyl.inner_text()
    assert "Jamie Demoson, MD" in oxycodone.inner_text()
    assert "2026-10-19" in oxycodone.inner_text()
    prescriber = oxycodone.get_by_role("link", name="Jamie Demoson, MD")
    href = prescriber.get_attribute("href", timeout=5000) or ""
    assert href.endswith("#ev-MedicationRequest-ppact-0001-mr-072")
    mme = oxycodone.locator("td.num a")
    assert "#ev-MedicationStatement-ppact-0001-ms-" in (mme.get_attribute("href") or "")
    prescriber.click()
    page.wait_for_url("**/dashboard**")
    assert page.locator("#ev-MedicationRequest-ppact-0001-mr-072").is_visible()


def test_summary_shows_referrals_and_the_earlier_unexpected_uds(page, app_server):
    page.goto(app_server.url(app_server.launch(COMPLEX), "summary"))
    treatments = page.locator(
        "section", has=page.get_by_role("heading", name="Non-opioid treatments and referrals")
    ).inner_text()
    for text in (
        "duloxetine 60 MG Delayed Release Oral Capsule",
        "Physical therapy for chronic pain",
        "CBT for chronic pain",
        "Pain psychology evaluation",
    ):
        assert text in treatments
    risks = page.locator("ol.risks").inner_text()
    assert "Urine drug screen (2026-03-03): unexpected cocaine." in risks
    assert risks.count("MME/day, at or above") == 1
    uds = page.get_by_role("link", name="Earlier: 2026-03-03 unexpected cocaine", exact=False)
    href = uds.get_attribute("href", timeout=5000) or ""
    assert href.endswith("#ev-Observation-ppact-0001-uds-013")
