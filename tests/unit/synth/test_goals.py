"""PPACT goals in the synthetic cohort: set at intake, judged at discharge, valid R4, stable."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from app.synth import generate_cohort

ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
ANCHOR = date(2026, 11, 1)


def _of(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    ]


def _status(goal: dict[str, Any]) -> str:
    (coding,) = goal["achievementStatus"]["coding"]
    assert coding["system"] == ACHIEVEMENT
    return str(coding["code"])


def test_every_ppact_episode_has_two_or_three_goals_set_at_intake(cohort):
    with_episode = 0
    for bundle in cohort:
        episodes = _of(bundle, "EpisodeOfCare")
        goals = _of(bundle, "Goal")
        if not episodes:
            assert goals == []
            continue
        with_episode += 1
        (episode,) = episodes
        assert 2 <= len(goals) <= 3
        for goal in goals:
            assert goal["description"]["text"]
            assert goal["startDate"] == episode["period"]["start"]
            assert goal["subject"] == {"reference": episode["patient"]["reference"]}
            due = date.fromisoformat(goal["target"][0]["dueDate"])
            assert due == date.fromisoformat(goal["startDate"]) + timedelta(days=120)
        assert len({g["description"]["text"] for g in goals}) == len(goals)
    assert with_episode >= 4


def test_finished_episodes_judge_each_goal_at_discharge(cohort):
    seen: set[str] = set()
    for bundle in cohort:
        for episode in _of(bundle, "EpisodeOfCare"):
            end = episode["period"].get("end")
            for goal in _of(bundle, "Goal"):
                status = _status(goal)
                seen.add(status)
                if end is None:
                    assert status == "in-progress"
                    assert goal["lifecycleStatus"] == "active"
                    assert goal["statusDate"] == episode["period"]["start"]
                else:
                    assert status in {"achieved", "improving", "worsening", "not-achieved"}
                    assert goal["statusDate"] == end
                    assert goal["statusDate"] < ANCHOR.isoformat()
    assert {"achieved", "improving", "not-achieved", "in-progress"} <= seen


def test_most_complex_patient_has_one_goal_of_each_outcome(bundles_by_patient):
    goals = _of(bundles_by_patient["ppact-0001"], "Goal")
    assert sorted(_status(g) for g in goals) == ["achieved", "improving", "not-achieved"]
    assert [g["id"] for g in goals] == [f"ppact-0001-goal-00{n}" for n in (1, 2, 3)]


def test_goals_validate_as_fhir_r4b(cohort):
    model = get_fhir_model_class("Goal")
    checked = 0
    for bundle in cohort:
        for goal in _of(bundle, "Goal"):
            model.model_validate(goal)
            checked += 1
    assert checked >= 8


def test_goals_are_deterministic_and_leave_the_rest_of_the_chart_alone(cohort):
    again = generate_cohort(patients=3, seed=7, anchor=ANCHOR)
    assert _of(again[0], "Goal") == _of(cohort[0], "Goal")
    # Medication history of the most complex patient is unchanged by the goals (the
    # non-opioid order of `treatments.py` comes last and is counted apart).
    counts = {
        kind: len([r for r in _of(cohort[0], kind) if "duloxetine" not in json.dumps(r)])
        for kind in ("MedicationRequest", "MedicationDispense", "MedicationStatement")
    }
    assert counts == {
        "MedicationRequest": 165,
        "MedicationDispense": 164,
        "MedicationStatement": 52,
    }
