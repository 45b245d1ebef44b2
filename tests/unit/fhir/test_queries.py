"""The searches the product sends: parameters that EHRs require, lookback from an explicit as_of."""

from __future__ import annotations

from datetime import date

import pytest

from app.fhir.queries import (
    MEDICATION_REQUEST_STATUSES,
    FhirQuery,
    lookback_start,
    patient_queries,
)


@pytest.fixture
def queries(as_of):
    return {q.id: q for q in patient_queries("p1", as_of=as_of)}


def test_default_lookback_is_730_days_before_as_of():
    # 2026-11-01 back 365 days is 2025-11-01, back 365 more is 2024-11-01 (no 29 Feb between)
    assert lookback_start(date(2026, 11, 1), 730) == date(2024, 11, 1)


def test_lookback_crossing_a_leap_day():
    # 2024-03-01 back 2 days: 2024-02-29 exists
    assert lookback_start(date(2024, 3, 1), 2) == date(2024, 2, 28)


def test_negative_lookback_is_refused():
    with pytest.raises(ValueError, match="lookback_days"):
        lookback_start(date(2026, 11, 1), -1)


def test_query_ids_are_unique_kebab_case(as_of):
    ids = [q.id for q in patient_queries("p1", as_of=as_of)]
    assert len(ids) == len(set(ids))
    assert all(i == i.lower() and " " not in i and "_" not in i for i in ids)


def test_patient_is_read_first(as_of):
    first = patient_queries("p1", as_of=as_of)[0]
    assert first == FhirQuery("patient", "Patient", "read", resource_id="p1")
    assert first.relative_url() == "Patient/p1"


def test_every_search_is_by_patient(as_of):
    for query in patient_queries("p1", as_of=as_of):
        if query.interaction == "search":
            assert ("patient", "p1") in query.params, query.id


def test_medication_request_lists_every_status_intent_and_includes_medications(queries):
    params = dict(queries["medication-request"].params)
    assert params["status"].split(",") == list(MEDICATION_REQUEST_STATUSES)
    assert set(params["status"].split(",")) == {
        "active",
        "on-hold",
        "cancelled",
        "completed",
        "entered-in-error",
        "stopped",
        "draft",
        "unknown",
    }
    assert {"order", "plan", "proposal", "original-order"} <= set(params["intent"].split(","))
    assert params["authoredon"] == "ge2024-11-01"
    assert params["_include"] == "MedicationRequest:medication"


def test_medication_request_falls_back_to_the_us_core_intents(queries):
    fallback = dict(queries["medication-request"].fallback_params)
    assert fallback["intent"] == "order,plan"
    assert fallback["authoredon"] == "ge2024-11-01"


def test_active_orders_are_searched_without_a_date_bound(queries):
    params = dict(queries["medication-request-active"].params)
    assert params["status"] == "active,on-hold"
    assert "authoredon" not in params


def test_every_observation_search_has_category_or_code(as_of):
    # Epic answers 400 to Observation?patient= alone
    observations = [
        q for q in patient_queries("p1", as_of=as_of) if q.resource_type == "Observation"
    ]
    assert len(observations) == 4
    for query in observations:
        names = {name for name, _ in query.params}
        assert names & {"category", "code"}, query.id


@pytest.mark.parametrize(
    ("query_id", "name", "value"),
    [
        pytest.param(
            "observation-laboratory",
            "category",
            "http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
            id="uds-labs",
        ),
        pytest.param(
            "observation-survey",
            "category",
            "http://terminology.hl7.org/CodeSystem/observation-category|survey",
            id="peg-phq9-gad7",
        ),
        pytest.param(
            "observation-pdmp", "code", "http://snomed.info/sct|461651000124104", id="pdmp"
        ),
        pytest.param("document-agreement", "type", "http://loinc.org|94136-9", id="agreement"),
        pytest.param("document-progress-note", "type", "http://loinc.org|11506-3", id="notes"),
        pytest.param("condition-problem-list", "category", "problem-list-item", id="problems"),
        pytest.param(
            "condition-encounter-diagnosis", "category", "encounter-diagnosis", id="diagnoses"
        ),
        pytest.param("condition-health-concern", "category", "health-concern", id="concerns"),
        pytest.param("encounter", "date", "ge2024-11-01", id="encounter-date"),
        pytest.param("medication-dispense", "whenhandedover", "ge2024-11-01", id="dispense-date"),
    ],
)
def test_search_parameters(queries, query_id, name, value):
    assert (name, value) in queries[query_id].params


def test_conditions_and_agreements_are_not_date_bounded(queries):
    for query_id in ("condition-problem-list", "document-agreement"):
        names = {name for name, _ in queries[query_id].params}
        assert not names & {"date", "onset-date", "recorded-date"}


def test_lookback_days_moves_every_date_bound(as_of):
    queries = {q.id: q for q in patient_queries("p1", as_of=as_of, lookback_days=90)}
    assert dict(queries["encounter"].params)["date"] == "ge2026-08-03"
    assert dict(queries["medication-request"].params)["authoredon"] == "ge2026-08-03"


def test_relative_url_keeps_a_prefetch_token_readable(as_of):
    queries = {q.id: q for q in patient_queries("{{context.patientId}}", as_of=as_of)}
    url = queries["observation-pdmp"].relative_url()
    assert url == (
        "Observation?patient={{context.patientId}}"
        "&code=http://snomed.info/sct|461651000124104&date=ge2024-11-01"
    )


def test_goal_search_is_by_patient_only_and_undated(queries):
    goal = queries["goal"]
    assert goal.resource_type == "Goal"
    assert goal.params == (("patient", "p1"),)
    assert goal.relative_url() == "Goal?patient=p1"


def test_pro_scores_are_also_searched_by_loinc_code(as_of):
    (query,) = [q for q in patient_queries("p1", as_of=as_of) if q.id == "observation-pro"]
    codes = dict(query.params)["code"].split(",")
    for loinc in ("91148-7", "44261-6", "70274-6", "91145-3"):  # PEG, PHQ-9, GAD-7, PEG item
        assert f"http://loinc.org|{loinc}" in codes
