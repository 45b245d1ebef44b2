"""Who the COT rules do not apply to, and the `cot-excluded` finding that says so.

Follows the CDC Opioid Prescribing Support IG "CDC 2022 Guideline General Inclusion Criteria"
(OpioidCDSRoutines.cql "Is Opioid Review Useful?") and its "End of Life Assessment": age under
18, sickle cell disease, active cancer treatment, conditions likely terminal, hospice or
palliative care and therapies indicating end of life. Each check can be switched off in the
clinic policy (`exclusions`). Evidence that only says "maybe" (an undated hospice procedure) does
not exclude: a wrong exclusion silences safety alerts.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from app.clinical.citations import OPIOID_IG_INCLUSION
from app.clinical.model import Chart, ConditionGroup, Finding, Severity
from app.clinical.rules.base import Exclusion, Rule, RuleContext, years_between

if TYPE_CHECKING:
    from app.clinical.policy import ClinicPolicy
    from app.clinical.terminology import Terminology

#: IG "Palliative Care Lookback Period" and "therapies indicating end of life in past 90 days".
END_OF_LIFE_LOOKBACK_DAYS = 90
#: IG "Encounter Period": two encounters with a cancer diagnosis within 12 months.
CANCER_LOOKBACK_DAYS = 365
CANCER_ENCOUNTERS_NEEDED = 2
ENCOUNTER_DIAGNOSIS = "encounter-diagnosis"
_DONE_STATUSES = frozenset({"entered-in-error", "not-done"})
_ORDER_STATUSES = frozenset({"active", "completed"})
_EOL_PROCEDURE_GROUPS = frozenset({"hospice", "end-of-life"})


def find_exclusions(
    chart: Chart, policy: ClinicPolicy, as_of: date, *, terminology: Terminology
) -> tuple[Exclusion, ...]:
    """Every exclusion that applies at `as_of`, in a fixed order.

    Args:
        chart: the patient's record.
        policy: its `exclusions` section switches each check on or off.
        as_of: date ages and lookbacks are computed at.
        terminology: classifies procedure codes and encounter dispositions.

    Returns:
        Exclusions with their evidence; empty when the COT rules apply.
    """
    settings = policy.exclusions
    found: list[Exclusion] = []
    patient = chart.patient
    age_under = settings.age_under
    if age_under and patient is not None and patient.birth_date is not None:
        age = years_between(patient.birth_date, as_of)
        if age < age_under:
            found.append(Exclusion("age", f"age {age} (under {age_under})", (patient.ref,)))
    if settings.cancer:
        found.extend(_cancer(chart, as_of))
    if settings.hospice:
        found.extend(_end_of_life(chart, as_of, terminology))
    if settings.sickle_cell:
        refs = _active_refs(chart, ConditionGroup.SICKLE_CELL)
        if refs:
            found.append(Exclusion("sickle-cell", "sickle cell disease", refs))
    return tuple(found)


def _active_refs(chart: Chart, group: ConditionGroup) -> tuple[str, ...]:
    return tuple(c.ref for c in chart.conditions if group in c.groups and c.is_active)


def _cancer(chart: Chart, as_of: date) -> tuple[Exclusion, ...]:
    """Active cancer on the problem list, or encounter diagnoses on 2+ days in 12 months."""
    since = as_of - timedelta(days=CANCER_LOOKBACK_DAYS)
    listed: list[str] = []
    encounter_days: dict[date, str] = {}
    for condition in chart.conditions:
        if ConditionGroup.CANCER not in condition.groups or not condition.is_active:
            continue
        if ENCOUNTER_DIAGNOSIS in condition.categories:
            day = condition.recorded or condition.onset
            if day is not None and since <= day <= as_of:
                encounter_days.setdefault(day, condition.ref)
        else:
            listed.append(condition.ref)
    if listed:
        return (Exclusion("cancer", "active cancer", tuple(listed)),)
    if len(encounter_days) >= CANCER_ENCOUNTERS_NEEDED:
        refs = tuple(encounter_days[d] for d in sorted(encounter_days))
        return (Exclusion("cancer", "cancer diagnosed at 2 or more visits in 12 months", refs),)
    return ()


def _end_of_life(chart: Chart, as_of: date, terminology: Terminology) -> tuple[Exclusion, ...]:
    """Hospice / palliative findings, likely terminal conditions, end-of-life therapies."""
    found: list[Exclusion] = []
    since = as_of - timedelta(days=END_OF_LIFE_LOOKBACK_DAYS)
    hospice = list(_active_refs(chart, ConditionGroup.HOSPICE))
    for procedure in chart.procedures:
        if procedure.status in _DONE_STATUSES or procedure.performed is None:
            continue
        if since <= procedure.performed <= as_of and (
            terminology.procedure_groups(procedure.codes) & _EOL_PROCEDURE_GROUPS
        ):
            hospice.append(procedure.ref)
    for request in chart.service_requests:
        if request.status not in _ORDER_STATUSES or request.authored_on is None:
            continue
        if since <= request.authored_on <= as_of and (
            terminology.procedure_groups(request.codes) & _EOL_PROCEDURE_GROUPS
        ):
            hospice.append(request.ref)
    for encounter in chart.encounters:
        day = encounter.end or encounter.start
        if day is None or not since <= day <= as_of or not encounter.discharge_disposition:
            continue
        if terminology.is_hospice_disposition(encounter.discharge_disposition):
            hospice.append(encounter.ref)
    if hospice:
        found.append(
            Exclusion("hospice", "hospice, palliative or end-of-life care", tuple(hospice))
        )
    terminal = _active_refs(chart, ConditionGroup.TERMINAL)
    if terminal:
        found.append(Exclusion("end-of-life", "condition likely terminal", terminal))
    return tuple(found)


class CotExcludedRule(Rule):
    """Say, once, why the COT rules are silent for this patient."""

    id = "cot-excluded"
    title = "Outside the CDC guideline's scope"
    citation = OPIOID_IG_INCLUSION
    codes = ("cot-excluded",)
    suppressed_when_excluded = False

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        if not ctx.exclusions:
            return ()
        labels = "; ".join(e.label for e in ctx.exclusions)
        evidence = [ref for e in ctx.exclusions for ref in e.evidence]
        return (
            self.finding(
                "cot-excluded",
                Severity.INFO,
                f"COT safety rules are not applied because of: {labels}.",
                evidence,
                {
                    "exclusions": [e.code for e in ctx.exclusions],
                    "labels": [e.label for e in ctx.exclusions],
                },
            ),
        )
