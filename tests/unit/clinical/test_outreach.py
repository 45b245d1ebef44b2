"""The outreach call script: filled from the summary, blanks where the chart says nothing."""

from __future__ import annotations

from app.clinical.chart import build_chart
from app.clinical.outreach import BLANK, PROGRAM, build_outreach
from app.clinical.policy import default_policy
from app.clinical.summary import build_summary
from tests.unit.clinical._views_data import AS_OF, Status, cohort_chart, opioid_request, patient

POLICY = default_policy()


def test_script_names_the_patient_program_start_and_regimen():
    summary = build_summary(cohort_chart(1), POLICY, AS_OF)
    view = build_outreach(summary, caller="Dr Quinn Testdoc")
    assert summary.patient is not None and summary.patient.name
    first_name = summary.patient.name.split()[0]
    assert view.script.startswith(f"Hello {first_name}, this is Dr Quinn Testdoc")
    assert PROGRAM in view.script
    assert summary.ppact.start is not None
    assert f"which started on {summary.ppact.start.isoformat()}" in view.script
    for row in summary.regimen.rows:
        assert row.drug in view.script
    assert f"{summary.regimen.total_text} MME/day" in view.script
    assert view.regimen and len(view.regimen) == len(summary.regimen.rows)


def test_unknown_caller_and_goals_are_blanks_to_fill_in():
    summary = build_summary(
        build_chart([patient("Ann Example"), opioid_request("mr1", "2026-10-20")]), POLICY, AS_OF
    )
    view = build_outreach(summary)
    assert f"this is {BLANK}" in view.script
    assert f"Goals: {BLANK}" in view.script
    assert view.goals == ()
    assert view.program_start is None
    assert "which starts on" not in view.script


def test_unavailable_medications_are_not_read_out_as_no_opioids():
    sources = {
        name: Status("failed", "timeout")
        for name in (
            "medication-request",
            "medication-request-active",
            "medication-dispense",
            "medication-statement",
        )
    }
    summary = build_summary(build_chart([patient()]), POLICY, AS_OF, sources=sources)
    view = build_outreach(summary)
    assert "could not be loaded" in view.script
    assert "no current opioid" not in view.script
    assert view.total_mme_text.startswith("unknown")


def test_patient_without_opioids_is_asked_to_confirm():
    summary = build_summary(build_chart([patient()]), POLICY, AS_OF)
    view = build_outreach(summary)
    assert "no current opioid found; confirm with the patient" in view.script


def test_script_is_filled_with_the_patients_goals():
    summary = build_summary(cohort_chart(1), POLICY, AS_OF)
    view = build_outreach(summary)
    descriptions = tuple(g.description for g in summary.ppact.goals)
    assert len(descriptions) == 3
    assert view.goals == descriptions
    assert f"The goals on record are: {'; '.join(descriptions)}." in view.script
    assert f"Goals: {BLANK}" not in view.script


def test_goals_that_could_not_be_loaded_are_not_read_out_as_none():
    sources = {"goal": Status("not-permitted", "no Goal scope")}
    summary = build_summary(cohort_chart(1), POLICY, AS_OF, sources=sources)
    view = build_outreach(summary)
    assert "goals could not be loaded from the chart" in view.script
    assert "The goals on record" not in view.script
    assert view.goals == ()
