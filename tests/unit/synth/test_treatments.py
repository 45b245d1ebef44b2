"""Referrals and non-opioid analgesics in the synthetic cohort: present, valid R4, stable."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from app.synth import generate_cohort, timeline
from app.synth.codes import SNOMED
from app.synth.treatments import REFERRALS

ANCHOR = date(2026, 11, 1)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NON_OPIOID_RXCUIS = {"596930", "198013"}  # duloxetine 60 mg, naproxen 500 mg


def _of(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    ]


def _non_opioid_orders(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r
        for r in _of(bundle, "MedicationRequest")
        if {c["code"] for c in r.get("medicationCodeableConcept", {}).get("coding", [])}
        & NON_OPIOID_RXCUIS
    ]


def test_most_complex_patient_has_pt_cbt_and_pain_psychology_referrals(cohort):
    referrals = _of(cohort[0], "ServiceRequest")
    texts = sorted(r["code"]["text"] for r in referrals)
    assert texts == [
        "CBT for chronic pain",
        "Pain psychology evaluation",
        "Physical therapy for chronic pain",
    ]
    for r in referrals:
        assert r["intent"] == "order"
        assert r["status"] in {"active", "completed"}
        assert r["subject"] == {"reference": "Patient/ppact-0001"}
        assert r["authoredOn"][:10] < ANCHOR.isoformat()
        (coding,) = r["code"]["coding"]
        assert coding["system"] == SNOMED
        assert coding["code"] in {item.code for item in REFERRALS.values()}
    assert {r["status"] for r in referrals} == {"active", "completed"}


def test_most_complex_patient_has_an_active_duloxetine_order(cohort):
    (order,) = _non_opioid_orders(cohort[0])
    assert order["status"] == "active"
    assert order["medicationCodeableConcept"]["coding"][0]["code"] == "596930"
    assert order["dosageInstruction"][0]["timing"]["repeat"]["frequency"] == 1


def test_several_other_patients_have_referrals_and_non_opioid_drugs(cohort):
    with_referral = [b for b in cohort[1:] if _of(b, "ServiceRequest")]
    with_drug = [b for b in cohort[1:] if _non_opioid_orders(b)]
    assert len(with_referral) >= 3
    assert len(with_drug) >= 3


def test_referrals_and_orders_validate_as_fhir_r4b(cohort):
    checked = 0
    for bundle in cohort:
        for item in _of(bundle, "ServiceRequest") + _non_opioid_orders(bundle):
            get_fhir_model_class(item["resourceType"]).model_validate(item)
            checked += 1
    assert checked >= 10


def test_treatments_are_deterministic_and_leave_the_rest_of_the_chart_alone(
    cohort, monkeypatch: pytest.MonkeyPatch
):
    again = generate_cohort(patients=4, seed=7, anchor=ANCHOR)
    assert again == cohort[:4]
    monkeypatch.setattr(timeline, "treatment_resources", lambda *args, **kwargs: [])
    without = generate_cohort(patients=4, seed=7, anchor=ANCHOR)
    for full, bare in zip(cohort[:4], without, strict=True):
        added = {id(r) for r in _of(full, "ServiceRequest") + _non_opioid_orders(full)}
        kept = [e for e in full["entry"] if id(e["resource"]) not in added]
        assert kept == bare["entry"]
