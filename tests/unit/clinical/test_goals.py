"""Goals: FHIR R4 Goal -> GoalRecord, the PPACT goals intake vs discharge, and the summary rows."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from app.clinical.chart import build_chart
from app.clinical.dashboard import build_dashboard
from app.clinical.goals import episode_goals, goal_progress
from app.clinical.model import SNOMED, Code, EpisodeRecord, GoalRecord
from app.clinical.policy import default_policy
from app.clinical.summary import build_summary
from tests.unit.clinical._views_data import AS_OF, Status, cohort_chart, patient

POLICY = default_policy()
ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"


def goal(gid: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "Goal",
        "id": gid,
        "lifecycleStatus": "active",
        "description": {"text": f"Goal {gid}"},
        "subject": {"reference": "Patient/p1"},
    }
    base.update(fields)
    return base


def achievement(code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": ACHIEVEMENT, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def episode(start: str, end: str | None = None, gid: str = "e1") -> dict[str, Any]:
    period = {"start": start, **({"end": end} if end else {})}
    return {
        "resourceType": "EpisodeOfCare",
        "id": gid,
        "status": "finished" if end else "active",
        "type": [{"text": "PPACT"}],
        "patient": {"reference": "Patient/p1"},
        "period": period,
    }


# --------------------------------------------------------------------------- reader


def test_goal_is_read_with_description_statuses_dates_categories_and_notes():
    resource = goal(
        "g1",
        lifecycleStatus="completed",
        achievementStatus=achievement("achieved", "Achieved"),
        description={
            "coding": [{"system": SNOMED, "code": "229065009", "display": "Exercise therapy"}],
            "text": "Walk 20 minutes a day",
        },
        category=[{"coding": [{"system": "x", "code": "physiotherapy"}]}],
        startDate="2026-03-02",
        target=[{"dueDate": "2026-07-01"}, {"dueDate": "2026-06-01"}],
        statusDate="2026-07-01",
        note=[{"text": "Graded walking plan."}, {"authorString": "no text"}],
    )
    (record,) = build_chart([patient(), resource]).goals
    assert record == GoalRecord(
        ref="Goal/g1",
        description="Walk 20 minutes a day",
        description_codes=(Code(SNOMED, "229065009", "Exercise therapy"),),
        lifecycle_status="completed",
        achievement_status="achieved",
        achievement_display="Achieved",
        start=date(2026, 3, 2),
        target_due=date(2026, 6, 1),
        status_date=date(2026, 7, 1),
        categories=("physiotherapy",),
        annotations=("Graded walking plan.",),
        notes=(),
    )


def test_goal_due_duration_counts_from_the_start_date():
    resource = goal(
        "g1", startDate="2026-03-01", target=[{"dueDuration": {"value": 4, "code": "wk"}}]
    )
    (record,) = build_chart([resource]).goals
    assert record.target_due == date(2026, 3, 29)


@pytest.mark.parametrize(
    ("fields", "note"),
    [
        pytest.param({"description": {}}, "no description text", id="no-description"),
        pytest.param({"startDate": "2026-13-01"}, "startDate 2026-13-01", id="bad-start"),
        pytest.param(
            {"startCodeableConcept": {"text": "at intake"}},
            "start given as a code",
            id="coded-start",
        ),
        pytest.param(
            {"target": [{"dueDuration": {"value": 4, "code": "wk"}}]},
            "dueDuration without a startDate",
            id="duration-without-start",
        ),
        pytest.param(
            {"startDate": "2026-03-01", "target": [{"dueDuration": {"value": 4, "code": "kg"}}]},
            "not a unit of time",
            id="duration-not-time",
        ),
    ],
)
def test_messy_goal_is_kept_with_a_note(fields, note):
    (record,) = build_chart([goal("g1", **fields)]).goals
    assert any(note in n for n in record.notes), record.notes
    assert record.ref == "Goal/g1"


def test_goal_of_another_patient_is_left_out():
    other = goal("g2", subject={"reference": "Patient/p2"})
    chart = build_chart([patient(), goal("g1"), other])
    assert [g.ref for g in chart.goals] == ["Goal/g1"]
    assert "Goal/g2 refers to another patient; left out" in chart.problems


def test_care_plan_goal_links_are_read():
    care_plan = {
        "resourceType": "CarePlan",
        "id": "cp1",
        "status": "active",
        "intent": "plan",
        "title": "PPACT care plan",
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2026-03-01"},
        "goal": [{"reference": "Goal/g1"}, {"reference": "https://ehr.example/fhir/Goal/g2"}],
    }
    (record,) = build_chart([care_plan]).episodes
    assert record.goal_refs == ("Goal/g1", "Goal/g2")


# --------------------------------------------------------------------------- intake vs discharge


@pytest.mark.parametrize(
    ("code", "direction"),
    [
        pytest.param("achieved", "better", id="achieved"),
        pytest.param("improving", "better", id="improving"),
        pytest.param("sustaining", "better", id="sustaining"),
        pytest.param("worsening", "worse", id="worsening"),
        pytest.param("not-achieved", "worse", id="not-achieved"),
        pytest.param("not-attainable", "worse", id="not-attainable"),
        pytest.param("no-change", "unchanged", id="no-change"),
        pytest.param("in-progress", "unknown", id="in-progress"),
    ],
)
def test_discharge_status_gives_the_direction(code, direction):
    chart = build_chart(
        [
            episode("2026-03-01", "2026-07-01"),
            goal("g1", startDate="2026-03-01", achievementStatus=achievement(code),
                 statusDate="2026-07-01"),
        ]
    )  # fmt: skip
    (row,) = goal_progress(chart, as_of=AS_OF)
    assert row.discharge == code.replace("-", " ")
    assert row.direction == direction


def test_status_not_reassessed_at_discharge_is_not_read_as_the_result():
    chart = build_chart(
        [
            episode("2026-03-01", "2026-07-01"),
            goal("g1", startDate="2026-03-01", achievementStatus=achievement("achieved"),
                 statusDate="2026-04-01"),
        ]
    )  # fmt: skip
    (row,) = goal_progress(chart, as_of=AS_OF)
    assert row.discharge is None
    assert row.status == "achieved"
    assert row.direction == "unknown"


def test_status_dated_after_as_of_is_not_known_yet():
    chart = build_chart(
        [
            episode("2026-03-01", "2026-07-01"),
            goal("g1", startDate="2026-03-01", achievementStatus=achievement("achieved"),
                 statusDate="2026-07-01"),
        ]
    )  # fmt: skip
    (row,) = goal_progress(chart, as_of=date(2026, 6, 1))
    assert row.discharge is None and row.status_date is None
    assert row.direction == "unknown"


def test_ongoing_program_has_no_discharge_state():
    chart = build_chart(
        [
            episode("2026-09-01"),
            goal("g1", startDate="2026-09-01", achievementStatus=achievement("improving"),
                 statusDate="2026-10-15"),
        ]
    )  # fmt: skip
    (row,) = goal_progress(chart, as_of=AS_OF)
    assert row.discharge is None
    assert row.status == "improving"
    assert row.direction == "unknown"


def test_episode_goals_are_those_started_in_the_window_or_linked():
    chart = build_chart(
        [
            episode("2026-03-01", "2026-07-01"),
            goal("early", startDate="2026-02-10"),  # within 30 days before the start
            goal("inside", startDate="2026-05-01"),
            goal("before", startDate="2025-06-01"),
            goal("after", startDate="2026-08-01"),
            goal("error", startDate="2026-03-01", lifecycleStatus="entered-in-error"),
        ]
    )
    found = [g.ref for g in goal_progress(chart, as_of=AS_OF)]
    assert found == ["Goal/early", "Goal/inside"]
    linked = EpisodeRecord(
        ref="CarePlan/cp", text="PPACT", start=date(2026, 3, 1), end=date(2026, 7, 1),
        goal_refs=("Goal/before",),
    )  # fmt: skip
    refs = [g.ref for g in episode_goals(chart, linked, as_of=AS_OF)]
    assert refs == ["Goal/before", "Goal/early", "Goal/inside"]


def test_without_a_ppact_episode_open_goals_are_shown_with_their_status():
    chart = build_chart(
        [
            goal("open", startDate="2026-05-01", achievementStatus=achievement("improving")),
            goal("done", startDate="2025-05-01", lifecycleStatus="completed"),
        ]
    )
    (row,) = goal_progress(chart, as_of=AS_OF)
    assert row.ref == "Goal/open"
    assert row.status == "improving" and row.direction == "unknown"


# --------------------------------------------------------------------------- summary view model


def test_summary_shows_the_complex_patients_goals_with_change_and_direction():
    view = build_summary(cohort_chart(1), POLICY, AS_OF)
    goals = view.ppact.goals
    assert len(goals) == 3
    assert {g.direction for g in goals} == {"better", "worse"}
    assert sorted(g.discharge or "" for g in goals) == ["achieved", "improving", "not achieved"]
    assert view.ppact.start is not None and view.ppact.end is not None
    for g in goals:
        assert g.intake_text == f"set {view.ppact.start.isoformat()}"
        assert g.discharge_text == f"{g.discharge} ({view.ppact.end.isoformat()})"
        assert g.anchors and g.anchors[0].startswith("ev-Goal-ppact-0001-goal-")


def test_summary_without_goals_says_none_recorded():
    view = build_summary(
        build_chart([patient(), episode("2026-03-01", "2026-07-01")]), POLICY, AS_OF
    )
    assert view.ppact.enrolled
    assert view.ppact.goals == ()
    assert view.availability["goals"].available


def test_summary_marks_goals_unavailable_when_the_search_failed():
    view = build_summary(
        cohort_chart(1), POLICY, AS_OF, sources={"goal": Status("failed", "timed out")}
    )
    goals = view.availability["goals"]
    assert not goals.available
    assert goals.reasons == ("goal could not be loaded: timed out",)


def test_summary_of_an_ongoing_program_says_so():
    chart = build_chart(
        [patient(), episode("2026-09-01"),
         goal("g1", startDate="2026-09-01", achievementStatus=achievement("in-progress"),
              statusDate="2026-09-01")]
    )  # fmt: skip
    (row,) = build_summary(chart, POLICY, AS_OF).ppact.goals
    assert row.intake_text == "set 2026-09-01"
    assert row.discharge_text == "program ongoing; now in progress"
    assert row.direction == "unknown"


def test_dashboard_lists_every_goal_with_its_ppact_direction():
    view = build_dashboard(cohort_chart(1), POLICY, AS_OF)
    (section,) = [s for s in view.sections if s.key == "goals"]
    assert len(section.rows) == 3
    programs = sorted(row.cells[-1] for row in section.rows)
    assert programs == ["PPACT: better", "PPACT: better", "PPACT: worse"]
    assert all(row.anchor.startswith("ev-Goal-") for row in section.rows)
    assert all(row.text for row in section.rows)  # the clinician's note on each goal
