"""CDC IG exclusions (age, cancer, hospice / end of life, sickle cell) and cot-excluded."""

from datetime import date

import pytest

from app.clinical.model import (
    SNOMED,
    Chart,
    Code,
    ConditionGroup,
    EncounterRecord,
    PatientInfo,
    ProcedureRecord,
    ServiceRequestRecord,
    Severity,
)
from app.clinical.policy import default_policy, parse_policy
from app.clinical.rules.base import Exclusion
from app.clinical.rules.exclusions import CotExcludedRule, find_exclusions
from app.clinical.terminology import load_terminology
from tests.unit.clinical._rules_factory import AS_OF, PATIENT, condition, context, days_before

HOSPICE_ADMISSION = Code(SNOMED, "183919006")  # hospice-procedure
PALLIATIVE_CARE = Code(SNOMED, "103735009")  # therapies-indicating-end-of-life-care
HOSPICE_DISPOSITION = Code(SNOMED, "385763009")  # hospice-disposition


def _exclusions(chart, policy=None):
    return find_exclusions(chart, policy or default_policy(), AS_OF, terminology=load_terminology())


def _codes(chart, policy=None):
    return [e.code for e in _exclusions(chart, policy)]


@pytest.mark.parametrize(
    ("birth_date", "excluded"),
    [
        pytest.param(date(2008, 11, 1), False, id="18th-birthday-on-as-of"),
        pytest.param(date(2008, 11, 2), True, id="17-until-tomorrow"),
    ],
)
def test_patient_under_policy_age_is_excluded(birth_date, excluded):
    chart = Chart(patient=PatientInfo(ref="Patient/kid", birth_date=birth_date))
    found = _exclusions(chart)
    assert bool(found) is excluded
    if excluded:
        assert found[0] == Exclusion("age", "age 17 (under 18)", ("Patient/kid",))


def test_age_exclusion_follows_policy_age():
    chart = Chart(patient=PatientInfo(ref="Patient/p", birth_date=date(2006, 1, 1)))  # 20
    assert _codes(chart, parse_policy("exclusions:\n  age_under: 21\n")) == ["age"]


def test_active_cancer_on_the_problem_list_excludes():
    chart = Chart(conditions=(condition("Condition/ca", ConditionGroup.CANCER),))
    assert _exclusions(chart) == (Exclusion("cancer", "active cancer", ("Condition/ca",)),)


def test_resolved_cancer_does_not_exclude():
    chart = Chart(
        conditions=(condition("Condition/ca", ConditionGroup.CANCER, clinical_status="resolved"),)
    )
    assert _codes(chart) == []


@pytest.mark.parametrize(
    ("days_ago", "excluded"),
    [pytest.param((10, 200), True, id="two-visits"), pytest.param((10, 10), False, id="same-day")],
)
def test_cancer_encounter_diagnoses_need_two_visit_days_in_12_months(days_ago, excluded):
    conditions = tuple(
        condition(
            f"Condition/ca{n}",
            ConditionGroup.CANCER,
            categories=("encounter-diagnosis",),
            recorded=days_before(d),
        )
        for n, d in enumerate(days_ago)
    )
    assert (_codes(Chart(conditions=conditions)) == ["cancer"]) is excluded


def test_cancer_encounter_diagnosis_older_than_12_months_does_not_count():
    conditions = (
        condition(
            "Condition/a",
            ConditionGroup.CANCER,
            categories=("encounter-diagnosis",),
            recorded=days_before(10),
        ),
        condition(
            "Condition/b",
            ConditionGroup.CANCER,
            categories=("encounter-diagnosis",),
            recorded=days_before(366),
        ),
    )
    assert _codes(Chart(conditions=conditions)) == []


def test_sickle_cell_disease_excludes():
    chart = Chart(conditions=(condition("Condition/scd", ConditionGroup.SICKLE_CELL),))
    assert _codes(chart) == ["sickle-cell"]


@pytest.mark.parametrize(
    "group", [ConditionGroup.HOSPICE, ConditionGroup.TERMINAL], ids=["hospice", "terminal"]
)
def test_hospice_finding_or_terminal_condition_excludes(group):
    chart = Chart(conditions=(condition("Condition/eol", group),))
    expected = "hospice" if group is ConditionGroup.HOSPICE else "end-of-life"
    assert _codes(chart) == [expected]


@pytest.mark.parametrize(
    ("code", "days_ago", "excluded"),
    [
        pytest.param(HOSPICE_ADMISSION, 90, True, id="hospice-day-90"),
        pytest.param(HOSPICE_ADMISSION, 91, False, id="hospice-day-91"),
        pytest.param(PALLIATIVE_CARE, 30, True, id="palliative-care"),
        pytest.param(Code(SNOMED, "73761001"), 30, False, id="colonoscopy"),
    ],
)
def test_end_of_life_procedure_in_the_last_90_days_excludes(code, days_ago, excluded):
    procedure = ProcedureRecord(
        ref="Procedure/p", codes=(code,), status="completed", performed=days_before(days_ago)
    )
    assert (_codes(Chart(procedures=(procedure,))) == ["hospice"]) is excluded


def test_undated_or_not_done_hospice_procedure_does_not_exclude():
    undated = ProcedureRecord(ref="Procedure/a", codes=(HOSPICE_ADMISSION,), status="completed")
    not_done = ProcedureRecord(
        ref="Procedure/b", codes=(HOSPICE_ADMISSION,), status="not-done", performed=days_before(5)
    )
    assert _codes(Chart(procedures=(undated, not_done))) == []


def test_active_palliative_care_order_excludes():
    order = ServiceRequestRecord(
        ref="ServiceRequest/s",
        codes=(PALLIATIVE_CARE,),
        status="active",
        authored_on=days_before(3),
    )
    assert _codes(Chart(service_requests=(order,))) == ["hospice"]


def test_discharge_to_hospice_excludes():
    stay = EncounterRecord(
        ref="Encounter/e",
        class_code="IMP",
        start=days_before(12),
        end=days_before(8),
        discharge_disposition=(HOSPICE_DISPOSITION,),
    )
    found = _exclusions(Chart(encounters=(stay,)))
    assert found == (
        Exclusion("hospice", "hospice, palliative or end-of-life care", ("Encounter/e",)),
    )


@pytest.mark.parametrize(
    ("switch", "chart"),
    [
        pytest.param(
            "cancer",
            Chart(conditions=(condition("Condition/c", ConditionGroup.CANCER),)),
            id="cancer",
        ),
        pytest.param(
            "hospice",
            Chart(conditions=(condition("Condition/c", ConditionGroup.HOSPICE),)),
            id="hospice",
        ),
        pytest.param(
            "sickle_cell",
            Chart(conditions=(condition("Condition/c", ConditionGroup.SICKLE_CELL),)),
            id="sickle-cell",
        ),
    ],
)
def test_each_exclusion_can_be_switched_off_in_the_policy(switch, chart):
    assert _codes(chart) != []
    assert _codes(chart, parse_policy(f"exclusions:\n  {switch}: false\n")) == []


def test_cot_excluded_names_every_exclusion_with_evidence():
    exclusions = (
        Exclusion("cancer", "active cancer", ("Condition/ca",)),
        Exclusion("sickle-cell", "sickle cell disease", ("Condition/scd",)),
    )
    (finding,) = CotExcludedRule().evaluate(context(Chart(patient=PATIENT), exclusions=exclusions))
    assert finding.code == "cot-excluded"
    assert finding.severity is Severity.INFO
    assert finding.text == (
        "COT safety rules are not applied because of: active cancer; sickle cell disease."
    )
    assert finding.evidence == ("Condition/ca", "Condition/scd")
    assert finding.data["exclusions"] == ["cancer", "sickle-cell"]


def test_no_exclusion_gives_no_cot_excluded_finding():
    assert CotExcludedRule().evaluate(context()) == ()
