"""The COT dashboard view model: sections, flags, order, and evidence anchors for the summary."""

from __future__ import annotations

import pytest

from app.clinical.dashboard import build_dashboard
from app.clinical.findings import evaluate
from app.clinical.policy import default_policy
from app.clinical.summary import build_summary
from app.clinical.views import anchor
from tests.unit.clinical._views_data import AS_OF, Status, cohort_chart

POLICY = default_policy()


def section(view, key):
    return next(s for s in view.sections if s.key == key)


@pytest.mark.parametrize("number", [1, 2, 3, 6, 13], ids=lambda n: f"patient-{n}")
def test_every_summary_link_lands_on_a_dashboard_row(number):
    chart = cohort_chart(number)
    summary = build_summary(chart, POLICY, AS_OF)
    dashboard = build_dashboard(chart, POLICY, AS_OF)
    rows = {row.anchor for s in dashboard.sections for row in s.rows}
    linked = {a for r in summary.regimen.rows for a in r.anchors}
    linked |= {a for r in summary.risks for a in r.anchors}
    linked |= {a for m in summary.monitoring for a in m.anchors}
    linked |= {a for p in summary.talking_points for a in p.anchors}
    linked |= {a for r in summary.ppact.rows for a in r.anchors}
    linked |= {a for s in summary.sedatives for a in s.anchors}
    linked |= {a for c in summary.conditions for a in c.anchors}
    assert linked - rows == set()


def test_early_refills_named_by_the_finding_are_flagged():
    chart = cohort_chart(1)
    refill = next(f for f in evaluate(chart, POLICY, AS_OF) if f.code == "early-refill")
    refs = {item["ref"] for item in refill.data["refills"]}
    view = build_dashboard(chart, POLICY, AS_OF)
    flagged = {
        row.anchor
        for row in section(view, "opioids").rows
        if any(flag.startswith("early refill") for flag in row.flags)
    }
    assert flagged == {anchor(ref) for ref in refs}


def test_progress_notes_come_newest_first_with_their_text():
    view = build_dashboard(cohort_chart(1), POLICY, AS_OF)
    notes = section(view, "notes").rows
    days = [row.day for row in notes]
    assert days == sorted(days, reverse=True)
    assert all(row.text for row in notes)


def test_each_section_says_what_data_it_used_and_whether_it_loaded():
    sources = {"observation-laboratory": Status("failed", "HTTP 503")}
    view = build_dashboard(cohort_chart(1), POLICY, AS_OF, sources=sources)
    uds = section(view, "uds")
    assert "observation-laboratory" in uds.used
    assert not uds.availability.available
    assert "HTTP 503" in uds.availability.reasons[0]
    assert section(view, "encounters").availability.complete


def test_uds_history_marks_unexpected_results():
    view = build_dashboard(cohort_chart(1), POLICY, AS_OF)
    rows = section(view, "uds").rows
    assert any("cocaine" in row.cells[3] and "unexpected" in row.flags for row in rows)


def test_findings_section_links_each_finding_to_its_records():
    chart = cohort_chart(1)
    view = build_dashboard(chart, POLICY, AS_OF)
    findings = section(view, "findings").rows
    assert len(findings) == len(evaluate(chart, POLICY, AS_OF))
    assert all(row.links for row in findings)


def test_pro_series_hold_the_scores_in_date_order():
    view = build_dashboard(cohort_chart(1), POLICY, AS_OF)
    peg = next(s for s in view.pro if s.instrument == "peg")
    days = [day for day, _ in peg.points]
    assert days == sorted(days) and len(days) >= 2
    assert view.mme[-1].day == AS_OF


def test_medication_rows_say_what_could_not_be_read():
    from app.clinical.chart import build_chart
    from tests.unit.clinical._views_data import opioid_request, patient

    order = opioid_request("mr1", "2026-10-20", sig="take as directed")
    del order["dosageInstruction"][0]["timing"]
    del order["dosageInstruction"][0]["doseAndRate"]
    chart = build_chart([patient(), order])
    row = section(build_dashboard(chart, POLICY, AS_OF), "opioids").rows[0]
    assert chart.medications[0].notes
    assert row.text is not None and row.text.startswith("Could not read: ")
    assert chart.medications[0].notes[0] in row.text
