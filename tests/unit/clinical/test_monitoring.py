"""Monitoring items and their due status under the clinic policy.

as_of is 2026-11-01 and due_soon_days is 30 unless stated: due before 2026-11-01 is overdue,
due 2026-11-01 .. 2026-12-01 is due soon, due after 2026-12-01 is done.
"""

from datetime import date, timedelta

import pytest

from app.clinical.model import (
    LOINC,
    SNOMED,
    Chart,
    Code,
    DocumentRecord,
    EncounterRecord,
    ObservationRecord,
    ProcedureRecord,
    Quantity,
)
from app.clinical.monitoring import DueStatus, due_status, monitoring_status
from app.clinical.policy import ClinicPolicy, default_policy
from app.clinical.uds import V3_INTERPRETATION

AS_OF = date(2026, 11, 1)
CPT = "http://www.ama-assn.org/go/cpt"


def items(chart, policy=None):
    return {i.key: i for i in monitoring_status(chart, policy or default_policy(), AS_OF)}


def uds(ident, day, status="final"):
    return ObservationRecord(
        ref=f"Observation/{ident}",
        codes=(Code(LOINC, "14316-4"),),
        status=status,
        effective=day,
        interpretation=(Code(V3_INTERPRETATION, "NEG"),),
    )


def agreement(ident, day, *, period_end=None, status="current"):
    return DocumentRecord(
        ref=f"DocumentReference/{ident}",
        type_codes=(Code(LOINC, "94136-9"),),
        status=status,
        date=day,
        period_end=period_end,
    )


def visit(ident, day, *, class_code="AMB", status="finished", type_codes=()):
    return EncounterRecord(
        ref=f"Encounter/{ident}",
        status=status,
        class_code=class_code,
        start=day,
        type_codes=type_codes,
    )


def score(ident, code, day, value):
    return ObservationRecord(
        ref=f"Observation/{ident}",
        codes=(Code(LOINC, code),),
        status="final",
        effective=day,
        value_quantity=Quantity(value),
    )


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        pytest.param(AS_OF - timedelta(days=1), DueStatus.OVERDUE, id="due-yesterday-overdue"),
        pytest.param(AS_OF, DueStatus.DUE_SOON, id="due-on-as-of-due-soon"),
        pytest.param(AS_OF + timedelta(days=30), DueStatus.DUE_SOON, id="due-in-30-days-due-soon"),
        pytest.param(AS_OF + timedelta(days=31), DueStatus.DONE, id="due-in-31-days-done"),
    ],
)
def test_due_status_boundaries(due, expected):
    assert due_status(due, AS_OF, 30) is expected


def test_empty_chart_has_every_item_never_done():
    result = monitoring_status(Chart(), default_policy(), AS_OF)
    assert [i.key for i in result] == ["uds", "agreement", "pdmp", "opioid-visit", "peg", "phq9"]
    assert all(i.status is DueStatus.NEVER for i in result)
    assert all(i.due_date is None and i.last_date is None and i.evidence == () for i in result)
    assert result[0].detail == "No Urine drug screen on record."
    assert [i.interval_days for i in result] == [365, 365, 90, 90, 182, 182]


@pytest.mark.parametrize(
    ("last", "expected_due", "status"),
    [
        pytest.param(date(2025, 10, 31), date(2026, 10, 31), DueStatus.OVERDUE, id="overdue"),
        pytest.param(date(2025, 11, 1), date(2026, 11, 1), DueStatus.DUE_SOON, id="due-on-as-of"),
        pytest.param(date(2025, 12, 1), date(2026, 12, 1), DueStatus.DUE_SOON, id="last-due-soon"),
        pytest.param(date(2025, 12, 2), date(2026, 12, 2), DueStatus.DONE, id="done"),
    ],
)
def test_uds_due_one_year_after_the_last_result(last, expected_due, status):
    item = items(Chart(observations=(uds("u", last),)))["uds"]
    assert (item.last_date, item.due_date, item.status) == (last, expected_due, status)
    assert item.evidence == ("Observation/u",)


def test_uds_uses_the_latest_result_and_ignores_later_and_non_final_ones():
    chart = Chart(
        observations=(
            uds("old", date(2025, 1, 1)),
            uds("last", date(2026, 6, 1)),
            uds("prelim", date(2026, 9, 1), status="preliminary"),
            uds("future", date(2026, 11, 2)),
        )
    )
    item = items(chart)["uds"]
    assert item.last_date == date(2026, 6, 1)
    assert item.evidence == ("Observation/last",)
    assert item.status is DueStatus.DONE


def test_a_uds_order_without_result_does_not_count():
    chart = Chart(observations=(uds("cancelled", date(2026, 6, 1), status="cancelled"),))
    assert items(chart)["uds"].status is DueStatus.NEVER


def test_agreement_expires_at_its_period_end_when_given():
    chart = Chart(documents=(agreement("a", date(2026, 1, 10), period_end=date(2026, 10, 31)),))
    item = items(chart)["agreement"]
    assert item.due_date == date(2026, 10, 31)
    assert item.status is DueStatus.OVERDUE
    assert item.detail == "Last 2026-01-10; the agreement ends 2026-10-31."


def test_agreement_without_period_end_lasts_the_policy_interval():
    chart = Chart(documents=(agreement("a", date(2026, 1, 10)),))
    item = items(chart)["agreement"]
    assert item.due_date == date(2027, 1, 10)  # 2026-01-10 + 365 days
    assert item.status is DueStatus.DONE


def test_superseded_or_other_documents_are_not_agreements():
    note = DocumentRecord(
        ref="DocumentReference/n",
        type_codes=(Code(LOINC, "11506-3"),),
        status="current",
        date=date(2026, 10, 1),
    )
    old = agreement("old", date(2026, 10, 1), status="superseded")
    assert items(Chart(documents=(note, old)))["agreement"].status is DueStatus.NEVER


def test_pdmp_check_from_completed_procedure_or_finding_observation():
    procedure = ProcedureRecord(
        ref="Procedure/p",
        codes=(Code(SNOMED, "461621000124108"),),
        status="completed",
        performed=date(2026, 8, 1),
    )
    finding = ObservationRecord(
        ref="Observation/f",
        codes=(Code(SNOMED, "461651000124104"),),
        status="final",
        effective=date(2026, 9, 1),
    )
    item = items(Chart(procedures=(procedure,)))["pdmp"]
    assert (item.due_date, item.status) == (date(2026, 10, 30), DueStatus.OVERDUE)  # + 90 days
    item = items(Chart(procedures=(procedure,), observations=(finding,)))["pdmp"]
    assert (item.last_date, item.evidence) == (date(2026, 9, 1), ("Observation/f",))
    assert (item.due_date, item.status) == (date(2026, 11, 30), DueStatus.DUE_SOON)


def test_pdmp_procedure_not_completed_does_not_count():
    planned = ProcedureRecord(
        ref="Procedure/p",
        codes=(Code(SNOMED, "461621000124108"),),
        status="not-done",
        performed=date(2026, 10, 1),
    )
    assert items(Chart(procedures=(planned,)))["pdmp"].status is DueStatus.NEVER


@pytest.mark.parametrize(
    ("encounter", "counts"),
    [
        pytest.param(visit("v", date(2026, 10, 1)), True, id="finished-ambulatory"),
        pytest.param(visit("v", date(2026, 10, 1), class_code="VR"), True, id="virtual"),
        pytest.param(
            visit("v", date(2026, 10, 1), class_code=None, type_codes=(Code(CPT, "99213"),)),
            True,
            id="office-visit-code-without-class",
        ),
        pytest.param(visit("v", date(2026, 10, 1), class_code="EMER"), False, id="emergency"),
        pytest.param(visit("v", date(2026, 10, 1), class_code="IMP"), False, id="inpatient"),
        pytest.param(visit("v", date(2026, 10, 1), status="planned"), False, id="planned"),
        pytest.param(visit("v", date(2026, 10, 1), class_code="HH"), False, id="home-health"),
    ],
)
def test_what_counts_as_an_opioid_visit(encounter, counts):
    item = items(Chart(encounters=(encounter,)))["opioid-visit"]
    assert (item.status is not DueStatus.NEVER) is counts


def test_visit_due_90_days_after_the_last_one():
    item = items(Chart(encounters=(visit("v", date(2026, 8, 3)),)))["opioid-visit"]
    assert item.due_date == date(2026, 11, 1)
    assert item.status is DueStatus.DUE_SOON  # due exactly on as_of


def test_peg_and_phq9_from_scores():
    chart = Chart(
        observations=(
            score("peg", "91148-7", date(2026, 5, 1), 6),
            score("phq", "44261-6", date(2026, 4, 1), 12),
            score("phq-bad", "44261-6", date(2026, 10, 1), 40),  # out of range: not a PHQ-9
        )
    )
    result = items(chart)
    assert (result["peg"].due_date, result["peg"].status) == (date(2026, 10, 30), DueStatus.OVERDUE)
    assert result["phq9"].last_date == date(2026, 4, 1)
    assert result["phq9"].due_date == date(2026, 9, 30)  # 2026-04-01 + 182 days


def test_policy_intervals_and_due_soon_window_are_used():
    policy = ClinicPolicy.model_validate({"monitoring": {"uds_days": 180, "due_soon_days": 0}})
    # 2026-05-05 + 180 days = 2026-11-01: due on as_of, and due soon even with a 0-day window.
    item = items(Chart(observations=(uds("u", date(2026, 5, 5)),)), policy)["uds"]
    assert (item.due_date, item.status, item.interval_days) == (AS_OF, DueStatus.DUE_SOON, 180)
    item = items(Chart(observations=(uds("u", date(2026, 5, 6)),)), policy)["uds"]
    assert item.status is DueStatus.DONE
