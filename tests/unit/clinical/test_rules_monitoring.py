"""*-overdue findings from the clinic policy's monitoring intervals."""

import pytest

from app.clinical.model import LOINC, SNOMED, Chart, Code, DocumentRecord, ProcedureRecord, Severity
from app.clinical.rules.monitoring import MonitoringOverdueRule
from tests.unit.clinical._rules_factory import (
    AS_OF,
    PATIENT,
    codes,
    context,
    cot,
    days_before,
    opioid,
)

ALL_OVERDUE = [
    "uds-overdue",
    "agreement-overdue",
    "pdmp-check-overdue",
    "opioid-visit-overdue",
    "peg-overdue",
    "phq9-overdue",
]
COT = cot(True, evidence=("MedicationDispense/d1",))


def _pdmp(days_ago):
    return ProcedureRecord(
        ref="Procedure/pdmp",
        codes=(Code(SNOMED, "461621000124108"),),
        status="completed",
        performed=days_before(days_ago),
    )


def test_cot_patient_with_nothing_on_record_is_overdue_for_everything():
    findings = MonitoringOverdueRule().evaluate(context(Chart(patient=PATIENT), cot_status=COT))
    assert codes(findings) == ALL_OVERDUE
    assert all(f.severity is Severity.LOW for f in findings)
    pdmp = findings[2]
    assert pdmp.text == "PDMP check not on record; the clinic policy asks for one every 90 days."
    assert pdmp.evidence == ("MedicationDispense/d1",)
    assert pdmp.data["status"] == "never"
    assert "Recommendation 9" in pdmp.citation.label
    assert findings[1].citation.label.startswith("Six Building Blocks 2")
    assert findings[0].citation.label.startswith("CDC 2022 Recommendation 10")


@pytest.mark.parametrize(
    ("days_ago", "overdue"),
    [pytest.param(90, False, id="day-90-due-today"), pytest.param(91, True, id="day-91-overdue")],
)
def test_pdmp_check_is_overdue_the_day_after_its_interval(days_ago, overdue):
    chart = Chart(patient=PATIENT, procedures=(_pdmp(days_ago),))
    findings = MonitoringOverdueRule().evaluate(context(chart, cot_status=COT))
    assert ("pdmp-check-overdue" in codes(findings)) is overdue
    if overdue:
        pdmp = next(f for f in findings if f.code == "pdmp-check-overdue")
        assert pdmp.evidence == ("Procedure/pdmp",)
        assert pdmp.data["last_date"] == days_before(91).isoformat()
        assert pdmp.data["due_date"] == days_before(1).isoformat()
        assert pdmp.text == (
            f"PDMP check overdue: last {days_before(91).isoformat()},"
            f" due {days_before(1).isoformat()}."
        )


def test_current_agreement_is_not_overdue():
    agreement = DocumentRecord(
        ref="DocumentReference/a",
        type_codes=(Code(LOINC, "94136-9"),),
        status="current",
        date=days_before(100),
    )
    chart = Chart(patient=PATIENT, documents=(agreement,))
    findings = MonitoringOverdueRule().evaluate(context(chart, cot_status=COT))
    assert "agreement-overdue" not in codes(findings)


def test_patient_not_on_cot_gets_no_monitoring_findings():
    assert MonitoringOverdueRule().evaluate(context(Chart(patient=PATIENT))) == ()


def test_non_cot_patient_with_an_opioid_being_ordered_gets_only_the_pdmp_check():
    draft = opioid("MedicationRequest/new", AS_OF, 7, status="draft")
    findings = MonitoringOverdueRule().evaluate(context(Chart(patient=PATIENT), drafts=(draft,)))
    assert codes(findings) == ["pdmp-check-overdue"]
    assert findings[0].evidence == ("MedicationRequest/new",)


def test_non_cot_patient_with_recent_pdmp_check_and_opioid_order_gets_nothing():
    draft = opioid("MedicationRequest/new", AS_OF, 7, status="draft")
    chart = Chart(patient=PATIENT, procedures=(_pdmp(10),))
    assert MonitoringOverdueRule().evaluate(context(chart, drafts=(draft,))) == ()
