"""The patient's goals in the PPACT episode: set at intake, and how they stood at discharge.

PPACT gives the PCP "a brief one-page summary of the intake and discharge assessment"
(product.md); issue 4 asks for the goals beside PEG, PHQ-9 and GAD-7 with the change and its
direction, and for the outreach call to name them. Goals are FHIR R4 Goal resources
(https://hl7.org/fhir/R4/goal.html; US Core Goal): the description is what the patient wants to
do, `achievementStatus` (value set goal-achievement) how far they got, `statusDate` when that
was judged.

A Goal resource holds its latest state only. So the intake state is the goal as set (its start
date and target); the discharge state is the achievement status when it was dated at the
episode end (from `pro.EPISODE_WINDOW_DAYS` before the end onwards) and not after `as_of`. A
status dated earlier was not reassessed at discharge and is shown as the current status with
direction "unknown", never read as the discharge result.

Goals of the episode: started from `EPISODE_WINDOW_DAYS` before the episode start up to its end
(or `as_of` while ongoing), or listed by the episode's CarePlan.goal. Without a PPACT episode the
patient's active goals are shown with their current status. Entered-in-error goals are left out.

Direction: achieved, sustaining, improving -> "better"; worsening, not-achieved,
not-attainable -> "worse"; no-change, no-progress -> "unchanged"; anything else (in-progress,
no status, not assessed at discharge) -> "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from app.clinical.model import Chart, EpisodeRecord, GoalRecord
from app.clinical.pro import EPISODE_WINDOW_DAYS, ppact_episode

__all__ = ["DIRECTIONS", "GoalProgress", "episode_goals", "goal_progress", "status_label"]

#: Achievement status code -> direction of the change since intake.
DIRECTIONS: dict[str, str] = {
    "achieved": "better",
    "sustaining": "better",
    "improving": "better",
    "worsening": "worse",
    "not-achieved": "worse",
    "not-attainable": "worse",
    "no-change": "unchanged",
    "no-progress": "unchanged",
}
#: Lifecycle statuses of goals still being pursued (shown when there is no PPACT episode).
OPEN_LIFECYCLE = frozenset({"proposed", "planned", "accepted", "active", "on-hold"})


@dataclass(frozen=True, slots=True)
class GoalProgress:
    """One goal: as set at intake, and its state at discharge.

    Args:
        ref: "Goal/id".
        description: what the patient wants to do ("Walk 20 minutes a day").
        start: Goal.startDate.
        target_due: the earliest target due date.
        lifecycle_status: Goal.lifecycleStatus.
        status: current achievement status, readable ("not achieved"), else the lifecycle.
        status_date: when `status` was judged.
        discharge: `status` when it was judged at the episode end, else None.
        direction: "better" | "worse" | "unchanged" | "unknown".
    """

    ref: str
    description: str
    start: date | None
    target_due: date | None
    lifecycle_status: str | None
    status: str | None
    status_date: date | None
    discharge: str | None
    direction: str


def status_label(goal: GoalRecord) -> str | None:
    """The achievement status as words ("not achieved"), else its display, else lifecycle."""
    if goal.achievement_status:
        return goal.achievement_status.replace("-", " ")
    return goal.achievement_display or goal.lifecycle_status


def episode_goals(
    chart: Chart, episode: EpisodeRecord | None, *, as_of: date
) -> tuple[GoalRecord, ...]:
    """The goals of `episode` (see the module docstring), or the open goals without one."""
    usable = [
        g
        for g in chart.goals
        if g.lifecycle_status != "entered-in-error" and (g.start is None or g.start <= as_of)
    ]
    if episode is None or episode.start is None:
        chosen = [g for g in usable if (g.lifecycle_status or "active") in OPEN_LIFECYCLE]
    else:
        first = episode.start - timedelta(days=EPISODE_WINDOW_DAYS)
        last = min(episode.end or as_of, as_of)
        linked = set(episode.goal_refs)
        chosen = [
            g
            for g in usable
            if g.ref in linked or (g.start is not None and first <= g.start <= last)
        ]
    return tuple(sorted(chosen, key=lambda g: (g.start or date.min, g.description or "", g.ref)))


def goal_progress(
    chart: Chart, *, as_of: date, episode: EpisodeRecord | None = None
) -> tuple[GoalProgress, ...]:
    """Intake vs discharge of each goal of the PPACT episode (default: `pro.ppact_episode`).

    Args:
        chart: the patient's records.
        as_of: the day of the view; a status dated later is not known yet.
        episode: the program episode; None picks the latest PPACT episode.
    """
    episode = episode if episode is not None else ppact_episode(chart)
    end = episode.end if episode is not None else None
    rows = []
    for goal in episode_goals(chart, episode, as_of=as_of):
        dated = goal.status_date
        known = dated is None or dated <= as_of
        status = status_label(goal) if known else goal.lifecycle_status
        at_discharge = (
            end is not None
            and end <= as_of
            and dated is not None
            and known
            and dated >= end - timedelta(days=EPISODE_WINDOW_DAYS)
            and goal.achievement_status is not None
        )
        code = goal.achievement_status if at_discharge else None
        rows.append(
            GoalProgress(
                ref=goal.ref,
                description=goal.description or "goal without description",
                start=goal.start,
                target_due=goal.target_due,
                lifecycle_status=goal.lifecycle_status,
                status=status,
                status_date=dated if known else None,
                discharge=status if at_discharge else None,
                direction=DIRECTIONS.get(code or "", "unknown"),
            )
        )
    return tuple(rows)
