"""The one-page summary view model: what each section shows for given charts and findings."""

from __future__ import annotations

import pytest

from app.clinical.chart import build_chart
from app.clinical.findings import evaluate
from app.clinical.mme import total_mme
from app.clinical.policy import default_policy
from app.clinical.summary import MAX_RISKS, build_summary
from app.clinical.talking import MAX_POINTS, MIN_POINTS
from app.clinical.views import anchor, availability
from app.synth.bundle import most_complex_patient_id
from tests.unit.clinical._views_data import (
    AS_OF,
    Status,
    cohort_chart,
    fixture,
    naloxone_request,
    opioid_request,
    patient,
)

POLICY = default_policy()
MED_SOURCES = (
    "medication-request",
    "medication-request-active",
    "medication-dispense",
    "medication-statement",
    "medication-reference",
)


def complex_view():
    assert most_complex_patient_id() == "ppact-0001"
    return build_summary(cohort_chart(1), POLICY, AS_OF)


def test_regimen_lists_current_opioids_with_the_core_total():
    chart = cohort_chart(1)
    view = build_summary(chart, POLICY, AS_OF)
    expected = total_mme(chart.medications, as_of=AS_OF, edition=POLICY.mme.edition)
    assert view.regimen.total_mme == expected.total_mme
    assert [r.anchors for r in view.regimen.rows] == [
        (anchor(line.ref),) for line in expected.lines
    ]
    assert view.regimen.complete
    fentanyl = next(r for r in view.regimen.rows if "fentanyl" in r.drug)
    assert fentanyl.long_acting
    assert fentanyl.sig and "72 hours" in fentanyl.sig
    assert fentanyl.prescriber
    assert fentanyl.last_fill is not None and fentanyl.last_fill <= AS_OF


def test_risks_are_in_priority_order_and_one_row_per_topic():
    view = complex_view()
    order = {"high": 0, "moderate": 1, "low": 2, "info": 3}
    ranks = [order[r.severity] for r in view.risks]
    assert ranks == sorted(ranks)
    codes = [r.code for r in view.risks]
    assert len(codes) == len(set(codes))
    # Triple threat stays; the per-class co-prescribing findings fold into one row.
    assert "triple-threat" in codes
    per_class = {"opioid-benzo-coprescribing", "opioid-cns-depressant-coprescribing"}
    assert len(per_class & set(codes)) == 1
    assert "cot" not in codes
    assert len(view.risks) <= MAX_RISKS
    assert view.more_risks > 0
    assert all(r.anchors for r in view.risks)


def test_sedatives_show_each_class_with_overlap_dates():
    view = complex_view()
    classes = {s.drug_class for s in view.sedatives}
    assert {"benzodiazepine", "gabapentinoid", "z-drug", "muscle-relaxant"} <= classes
    benzo = next(s for s in view.sedatives if s.drug_class == "benzodiazepine")
    assert benzo.overlap_end is None  # still overlapping at as-of
    assert benzo.overlap_start <= AS_OF
    assert any("alprazolam" in d for d in benzo.drugs)


def test_monitoring_shows_overdue_items_and_the_last_uds_result():
    view = complex_view()
    by_key = {m.key: m for m in view.monitoring}
    assert list(by_key) == ["uds", "agreement", "pdmp", "opioid-visit", "peg", "phq9"]
    assert by_key["agreement"].status == "overdue"
    assert by_key["pdmp"].status == "overdue"
    assert by_key["uds"].detail is not None and by_key["uds"].detail.startswith("Last result:")
    assert by_key["uds"].anchors


def test_ppact_intake_and_discharge_with_direction():
    view = complex_view()
    assert view.ppact.enrolled
    assert view.ppact.start is not None and view.ppact.end is not None
    rows = {r.instrument: r for r in view.ppact.rows}
    assert set(rows) == {"peg", "phq9", "gad7"}
    for row in rows.values():
        assert row.intake is not None and row.discharge is not None
        assert row.change == pytest.approx(row.discharge - row.intake)
        assert row.direction == (
            "better" if row.change < 0 else "worse" if row.change > 0 else "unchanged"
        )
        assert row.anchors


def test_talking_points_are_three_to_five_and_link_to_evidence():
    view = complex_view()
    assert MIN_POINTS <= len(view.talking_points) <= MAX_POINTS
    assert all(point.anchors for point in view.talking_points)
    assert view.talking_points[0].codes == ("mme-at-or-above-threshold",)
    assert any("naloxone" in p.text.lower() for p in view.talking_points)


def test_talking_points_are_filled_to_three_when_findings_give_fewer():
    chart = build_chart([patient(), opioid_request("mr1", "2026-10-20")])
    findings = evaluate(chart, POLICY, AS_OF)
    view = build_summary(chart, POLICY, AS_OF)
    assert len(view.talking_points) >= MIN_POINTS
    assert len(findings) < MIN_POINTS


def test_naloxone_on_record_is_shown_with_its_date():
    chart = build_chart(
        [patient(), opioid_request("mr1", "2026-10-20"), naloxone_request("nx1", "2026-09-01")]
    )
    view = build_summary(chart, POLICY, AS_OF)
    assert view.naloxone.on_record
    assert (
        view.naloxone.last_date is not None and view.naloxone.last_date.isoformat() == "2026-09-01"
    )
    assert view.naloxone.anchors == (anchor("MedicationRequest/nx1"),)


def test_unreadable_dose_makes_the_total_incomplete_never_zero():
    order = opioid_request("mr1", "2026-10-20", sig="take as directed")
    del order["dosageInstruction"][0]["timing"]
    del order["dosageInstruction"][0]["doseAndRate"]
    del order["dispenseRequest"]["quantity"]  # nothing to estimate the daily dose from
    order["medicationCodeableConcept"]["coding"][0].update(
        code="1049221", display="acetaminophen 325 MG / oxycodone hydrochloride 5 MG Oral Tablet"
    )
    chart = build_chart([patient(), order, opioid_request("mr2", "2026-10-25")])
    view = build_summary(chart, POLICY, AS_OF)
    unknown = next(r for r in view.regimen.rows if r.anchors == (anchor("MedicationRequest/mr1"),))
    assert unknown.mme_text == "unknown"
    assert unknown.mme_per_day is None and not unknown.complete
    assert not view.regimen.complete
    assert view.regimen.reasons
    assert view.regimen.total_mme == pytest.approx(30.0)  # the readable order only


def test_failed_medication_sections_make_the_block_unavailable_not_empty():
    sources = {name: Status("failed", "timeout") for name in MED_SOURCES}
    view = build_summary(build_chart([patient()]), POLICY, AS_OF, sources=sources)
    meds = view.availability["medications"]
    assert not meds.available
    assert any("timeout" in reason for reason in meds.reasons)
    assert "Medications" in view.completeness and "unavailable" in view.completeness


def test_one_failed_section_of_several_is_partial():
    state = availability("medications", {"medication-dispense": Status("not-permitted", "403")})
    assert state.state == "partial"
    assert state.available and not state.complete
    assert "not permitted" in state.reasons[0]


def test_monitoring_status_is_unknown_when_its_data_failed():
    sources = {"observation-laboratory": Status("failed", "server error")}
    view = build_summary(cohort_chart(1), POLICY, AS_OF, sources=sources)
    uds = next(m for m in view.monitoring if m.key == "uds")
    assert uds.status == "unknown"


def test_no_ppact_episode_shows_latest_scores():
    peg = fixture("Observation.peg-total")
    peg["subject"] = {"reference": "Patient/p1"}
    chart = build_chart([patient(), peg])
    view = build_summary(chart, POLICY, AS_OF)
    assert not view.ppact.enrolled
    assert [r.instrument for r in view.ppact.rows] == ["peg"]
    assert view.ppact.rows[0].intake is None and view.ppact.rows[0].discharge is not None


def test_patient_header_has_age_on_the_as_of_date():
    view = build_summary(build_chart([patient("Ann Example")]), POLICY, AS_OF)
    assert view.patient is not None
    assert view.patient.name == "Ann Example"
    assert view.patient.age == 56
    assert view.patient.sex == "female"


def test_mme_trend_covers_two_years_weekly_and_ends_on_as_of():
    view = complex_view()
    assert view.trend[-1].day == AS_OF
    assert (view.trend[-1].day - view.trend[0].day).days <= 730
    assert all((b.day - a.day).days == 7 for a, b in zip(view.trend, view.trend[1:], strict=False))
    assert view.trend[-1].mme == view.regimen.total_mme
