"""The PPACT goals of a synthetic patient: set at intake, judged at discharge (FHIR R4 Goal).

PPACT asks each patient at intake what they want to be able to do that pain gets in the way
of; the PCP's one-page summary compares intake and discharge, goals included (issue 4). Shapes
follow FHIR R4 Goal (http://hl7.org/fhir/R4/goal.html) and US Core Goal: `lifecycleStatus`,
`description.text`, `subject`, `startDate`, `target.dueDate`; `achievementStatus` from
http://terminology.hl7.org/CodeSystem/goal-achievement and `statusDate` when it was judged.

Choices are drawn from their own stream (`random.Random("ppact-synth-goals-{seed}-{number}")`),
so adding goals leaves every other resource of the patient byte-identical.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from app.synth.resources import Resource, coding, ref, resource

GOAL_CATEGORY = "http://terminology.hl7.org/CodeSystem/goal-category"
GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
#: Days from intake to the target date (the program runs about four months).
TARGET_DAYS = 120

ACHIEVEMENT_DISPLAY = {
    "in-progress": "In Progress",
    "improving": "Improving",
    "worsening": "Worsening",
    "achieved": "Achieved",
    "not-achieved": "Not Achieved",
}


@dataclass(frozen=True, slots=True)
class GoalIdea:
    text: str
    category: str  # goal-category code: behavioral | physiotherapy
    note: str


GOAL_IDEAS: tuple[GoalIdea, ...] = (
    GoalIdea("Walk 20 minutes a day", "physiotherapy", "Graded walking plan from 5 minutes."),
    GoalIdea("Return to part-time work", "behavioral", "Discussed a phased return with employer."),
    GoalIdea(
        "Reduce pain interference with sleep",
        "behavioral",
        "Sleep routine and relaxation practice.",
    ),
    GoalIdea("Garden for an hour on weekends", "physiotherapy", "Pacing: 15 minutes, then rest."),
    GoalIdea("Use a pain coping skill every day", "behavioral", "Breathing and reframing skills."),
    GoalIdea("Play with grandchildren without a flare", "physiotherapy", "Activity pacing plan."),
)
_CATEGORY_DISPLAY = {"behavioral": "Behavioral", "physiotherapy": "Physiotherapy"}
#: Discharge statuses drawn for a program that went well, and for one that did not.
_BETTER = ("achieved", "achieved", "improving", "improving", "not-achieved")
_WORSE = ("not-achieved", "worsening", "not-achieved", "improving")
#: The most complex patient shows one of each, so the summary has every direction.
COMPLEX_STATUSES = ("achieved", "improving", "not-achieved")


def goals_rng(seed: int, number: int) -> random.Random:
    """The goal stream of patient `number`."""
    return random.Random(f"ppact-synth-goals-{seed}-{number}")  # noqa: S311 - test data


def ppact_goals(
    ids: list[str],
    patient_id: str,
    *,
    rng: random.Random,
    intake: date,
    discharge: date | None,
    worse: bool,
    statuses: tuple[str, ...] | None = None,
) -> list[Resource]:
    """One Goal per id, set at `intake`; judged at `discharge` when the program has ended.

    Args:
        ids: resource ids, one per goal (2 or 3).
        patient_id: the Patient id.
        rng: the patient's goal stream.
        intake: program start: startDate (and statusDate while the program runs).
        discharge: program end, or None while ongoing (status in-progress).
        worse: the program went badly for this patient (PROs worse): statuses lean negative.
        statuses: fixed discharge statuses, one per goal (else drawn).
    """
    ideas = rng.sample(GOAL_IDEAS, len(ids))
    out = []
    for index, (resource_id, idea) in enumerate(zip(ids, ideas, strict=True)):
        if discharge is None:
            status, lifecycle, judged = "in-progress", "active", intake
        else:
            status = statuses[index] if statuses else rng.choice(_WORSE if worse else _BETTER)
            lifecycle = "completed" if status in {"achieved", "not-achieved"} else "active"
            judged = discharge
        out.append(
            resource(
                "Goal",
                resource_id,
                lifecycleStatus=lifecycle,
                achievementStatus={
                    "coding": [coding(GOAL_ACHIEVEMENT, status, ACHIEVEMENT_DISPLAY[status])]
                },
                category=[
                    {
                        "coding": [
                            coding(GOAL_CATEGORY, idea.category, _CATEGORY_DISPLAY[idea.category])
                        ]
                    }
                ],
                description={"text": idea.text},
                subject=ref("Patient", patient_id),
                startDate=intake.isoformat(),
                target=[{"dueDate": (intake + timedelta(days=TARGET_DAYS)).isoformat()}],
                statusDate=judged.isoformat(),
                expressedBy=ref("Patient", patient_id),
                note=[{"text": idea.note}],
            )
        )
    return out
