"""Summary blocks after review: prescribers of reported regimens, folded risks, UDS history,
referrals and non-opioid treatments (issue 4)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.clinical.chart import build_chart
from app.clinical.model import Citation, Finding, Severity
from app.clinical.policy import default_policy
from app.clinical.summary import build_summary
from app.clinical.summary_sections import MAX_RISKS, risks
from app.clinical.views import anchor
from tests.unit.clinical._views_data import AS_OF, cohort_chart, opioid_request, patient

POLICY = default_policy()
#: Three weeks after the cohort's anchor: the last opioid fills have run out and the
#: patient-reported MedicationStatements are the records counted (the demo a few weeks on).
LATER = AS_OF + timedelta(days=23)
CITE = Citation("CDC 2022", "https://www.cdc.gov/mmwr/volumes/71/rr/rr7103a1.htm")


def _complex_rows(as_of):
    view = build_summary(cohort_chart(1), POLICY, as_of)
    return {
        "fentanyl" if "fentanyl" in row.drug else row.drug.split()[0]: row
        for row in view.regimen.rows
    }


def test_reported_regimen_rows_show_the_prescriber_of_the_active_order():
    rows = _complex_rows(LATER)
    fentanyl, oxycodone = rows["fentanyl"], rows["oxycodone"]
    assert fentanyl.prescriber == "Quinn Testdoc, MD"
    assert oxycodone.prescriber == "Jamie Demoson, MD"
    # The MME link stays on the counted statement; the prescription is evidence too.
    assert fentanyl.anchors[0].startswith("ev-MedicationStatement-ppact-0001-ms-")
    assert fentanyl.anchors[1:] == (anchor("MedicationRequest/ppact-0001-mr-027"),)
    assert oxycodone.anchors[1:] == (anchor("MedicationRequest/ppact-0001-mr-072"),)
    assert fentanyl.prescriber_anchors == (anchor("MedicationRequest/ppact-0001-mr-027"),)
    assert fentanyl.last_fill is not None and fentanyl.last_fill.isoformat() == "2026-10-11"
    assert oxycodone.last_fill is not None and oxycodone.last_fill.isoformat() == "2026-10-19"
    assert oxycodone.fill_anchors == (anchor("MedicationDispense/ppact-0001-md-072"),)


def test_dispensed_regimen_rows_keep_the_prescriber_of_their_prescription():
    rows = _complex_rows(AS_OF)
    assert rows["fentanyl"].prescriber == "Quinn Testdoc, MD"
    assert rows["fentanyl"].anchors == (anchor("MedicationDispense/ppact-0001-md-027"),)
    assert rows["fentanyl"].prescriber_anchors == (anchor("MedicationRequest/ppact-0001-mr-027"),)


def _statement(sid: str, code: str, display: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": sid,
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "effectivePeriod": {"start": "2026-06-01"},
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": code,
                    "display": display,
                }
            ]
        },
        "dosage": [
            {
                "text": "1 tablet every 6 hours",
                "timing": {"repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
            }
        ],
    }


def test_prescriber_falls_back_to_an_order_for_the_same_ingredient():
    # Reported oxycodone 30 mg; the only order is oxycodone 5 mg (another RxCUI), now expired.
    order = opioid_request("mr1", "2026-06-01")
    order["requester"] = {"display": "Dr Order"}
    statement = _statement("ms1", "1049618", "oxycodone hydrochloride 30 MG Oral Tablet")
    view = build_summary(build_chart([patient(), order, statement]), POLICY, AS_OF)
    (row,) = view.regimen.rows
    assert row.anchors == (anchor("MedicationStatement/ms1"), anchor("MedicationRequest/mr1"))
    assert row.prescriber == "Dr Order"


def test_no_prescriber_is_invented_without_an_active_order():
    order = opioid_request("mr1", "2026-06-01")
    order["status"] = "completed"
    statement = _statement("ms1", "1049618", "oxycodone hydrochloride 30 MG Oral Tablet")
    view = build_summary(build_chart([patient(), order, statement]), POLICY, AS_OF)
    (row,) = view.regimen.rows
    assert row.prescriber is None and row.prescriber_anchors == ()
    assert row.anchors == (anchor("MedicationStatement/ms1"),)


def _finding(code: str, severity: Severity, text: str, ref: str, **data: object) -> Finding:
    return Finding(code, severity, text, CITE, (ref,), dict(data))


def _overlap(code: str, subclass: str, ref: str, start: str, end: str) -> Finding:
    text = f"Opioid and {subclass} supplies overlap."
    return _finding(
        code, Severity.MODERATE, text, ref, subclass=subclass, overlap_start=start, overlap_end=end
    )


def test_same_topic_findings_fold_before_the_page_cut():
    high, moderate = Severity.HIGH, Severity.MODERATE
    mme = "Total is 120.0 MME/day, at or above the clinic threshold of {} MME/day."
    triple = "Opioid, benzodiazepine and muscle relaxant supplies overlap since 2026-08-03."
    findings = (
        _finding("mme-at-or-above-threshold", high, mme.format(90), "A/1", threshold_mme=90),
        _finding("triple-threat", high, triple, "A/2"),
        _finding("mme-at-or-above-threshold", moderate, mme.format(50), "A/3", threshold_mme=50),
        _overlap("opioid-benzo-coprescribing", "benzodiazepine", "A/4", "2026-08-03", "2026-11-01"),
        _overlap(
            "opioid-cns-depressant-coprescribing",
            "gabapentinoid",
            "A/5",
            "2026-07-01",
            "2026-11-01",
        ),
        _overlap(
            "opioid-cns-depressant-coprescribing", "z-drug", "A/6", "2026-09-01", "2026-10-01"
        ),
        _finding("multiple-opioid-prescribers", moderate, "Opioids from 3 prescribers.", "A/7"),
        _finding("multiple-pharmacies", moderate, "Opioids dispensed by 3 pharmacies.", "A/8"),
        _finding("uds-unexpected", moderate, "Urine drug screen: unexpected cocaine.", "A/9"),
    )
    rows = risks(findings, AS_OF)
    assert [r.code for r in rows] == [
        "mme-at-or-above-threshold",
        "triple-threat",
        "opioid-benzo-coprescribing",
        "multiple-opioid-prescribers",
        "uds-unexpected",
    ]
    mme, _, sedatives, sources, _ = rows
    assert "threshold of 90 MME/day" in mme.text and mme.severity == "high"
    assert mme.anchors == (anchor("A/1"), anchor("A/3"))
    assert sedatives.text == (
        "Opioid supplies overlap with benzodiazepine, gabapentinoid, z-drug"
        " since 2026-07-01 (current)."
    )
    assert sedatives.anchors == tuple(anchor(f"A/{n}") for n in (4, 5, 6))
    assert "3 prescribers" in sources.text and "3 pharmacies" in sources.text


def test_complex_patient_shows_the_unexpected_uds_among_its_risks():
    view = build_summary(cohort_chart(1), POLICY, AS_OF)
    texts = [r.text for r in view.risks]
    assert "Urine drug screen (2026-03-03): unexpected cocaine." in texts
    assert sum("MME/day, at or above" in t for t in texts) == 1
    assert len(view.risks) == MAX_RISKS


def test_uds_row_names_an_earlier_unexpected_result_with_its_evidence():
    view = build_summary(cohort_chart(1), POLICY, AS_OF)
    uds = next(m for m in view.monitoring if m.key == "uds")
    assert uds.detail == "Last result: as expected. Earlier: 2026-03-03 unexpected cocaine."
    assert uds.detail_anchors == (anchor("Observation/ppact-0001-uds-013"),)


def test_complex_patient_shows_referrals_and_a_non_opioid_drug():
    view = build_summary(cohort_chart(1), POLICY, AS_OF)
    shown = {(t.kind, t.text) for t in view.treatments}
    assert shown == {
        ("medication", "duloxetine 60 MG Delayed Release Oral Capsule"),
        ("referral", "Physical therapy for chronic pain"),
        ("referral", "CBT for chronic pain"),
        ("referral", "Pain psychology evaluation"),
    }
    assert all(t.anchors and t.day is not None for t in view.treatments)
