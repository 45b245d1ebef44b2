"""Regimen builders: doses per day, sigs, dosage styles, fills and order status."""

import itertools
import random
from datetime import date

import pytest

from app.synth.archetypes import build_plan
from app.synth.cohort import WINDOW_DAYS, DoseStep, Regimen
from app.synth.medications import (
    Fill,
    dosage,
    medication_dispense,
    medication_request,
    regimen_fills,
    request_status,
    sig_text,
)

START = date(2024, 11, 1)


@pytest.mark.parametrize(
    ("step", "units_per_day"),
    [
        pytest.param(
            DoseStep("oxy-ir-30", 0, 30, 1, 1, 6, "h"), 4.0, id="one-tablet-every-6-hours"
        ),
        pytest.param(DoseStep("fent-75", 0, 30, 1, 1, 72, "h"), 1 / 3, id="patch-every-72-hours"),
        pytest.param(DoseStep("bup-patch-10", 0, 28, 1, 1, 1, "wk"), 1 / 7, id="weekly-patch"),
        pytest.param(DoseStep("gabapentin-300", 0, 30, 3, 3, 1, "d"), 9.0, id="three-caps-tid"),
        pytest.param(DoseStep("oxy-er-30", 0, 30, 1, 1, 12, "h"), 2.0, id="er-every-12-hours"),
    ],
)
def test_units_per_day_follow_the_timing(step, units_per_day):
    assert step.units_per_day == pytest.approx(units_per_day)


@pytest.mark.parametrize(
    ("step", "text"),
    [
        pytest.param(
            DoseStep("oxy-ir-15", 0, 30, 1, 1, 6, "h", as_needed=True),
            "Take 1 tablet by mouth every 6 hours as needed for pain",
            id="prn-tablet",
        ),
        pytest.param(
            DoseStep("fent-50", 0, 30, 1, 1, 72, "h"),
            "Apply 1 patch to skin every 72 hours",
            id="fentanyl-patch",
        ),
        pytest.param(
            DoseStep("bup-patch-5", 0, 28, 1, 1, 1, "wk"),
            "Apply 1 patch to skin once weekly",
            id="butrans-patch",
        ),
        pytest.param(
            DoseStep("bup-nx-8", 0, 30, 1, 2, 1, "d"),
            "Dissolve 1 film under the tongue 2 times daily",
            id="suboxone-film",
        ),
        pytest.param(
            DoseStep("tram-er-100", 0, 30, 2, 1, 1, "d"),
            "Take 2 tablets by mouth once daily",
            id="two-tablets-daily",
        ),
    ],
)
def test_sig_text_reads_like_a_prescription(step, text):
    assert sig_text(step) == text


def test_structured_dosage_has_timing_route_and_dose_quantity():
    step = DoseStep("oxy-ir-30", 0, 30, 1, 1, 6, "h")
    result = dosage(step)
    assert result["timing"] == {"repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}}
    assert result["route"]["coding"][0]["code"] == "26643006"
    assert result["doseAndRate"] == [
        {
            "doseQuantity": {
                "value": 1,
                "unit": "tablet",
                "system": "http://unitsofmeasure.org",
                "code": "{tbl}",
            }
        }
    ]
    assert "asNeededBoolean" not in result


def test_text_only_sig_has_no_structured_timing_or_dose():
    result = dosage(
        DoseStep("hc-apap-10", 0, 30, 1, 1, 6, "h", as_needed=True), style="text-only-sig"
    )
    assert result == {"sequence": 1, "text": "take 1 tablet po every 6 hours as needed for pain"}


def test_prn_order_with_max_dose_per_period_caps_the_day():
    step = DoseStep("oxy-ir-15", 0, 30, 1, 1, 6, "h", as_needed=True)
    result = dosage(step, prn_max_dose=True)
    assert result["asNeededBoolean"] is True
    assert result["maxDosePerPeriod"]["numerator"]["value"] == 4
    assert result["maxDosePerPeriod"]["denominator"] == {
        "value": 1,
        "unit": "day",
        "system": "http://unitsofmeasure.org",
        "code": "d",
    }


def test_scheduled_order_gets_no_max_dose_even_when_asked():
    assert "maxDosePerPeriod" not in dosage(
        DoseStep("oxy-er-30", 0, 30, 1, 1, 12, "h"), prn_max_dose=True
    )


def test_dose_range_style_writes_low_and_high():
    step = DoseStep("hc-apap-10", 0, 30, 1, 1, 6, "h", as_needed=True)
    result = dosage(step, style="dose-range")
    dose_range = result["doseAndRate"][0]["doseRange"]
    assert (dose_range["low"]["value"], dose_range["high"]["value"]) == (1, 2)
    assert result["text"].startswith("Take 1-2 tablets")


def test_epic_style_dose_uses_orderable_drug_form_units():
    result = dosage(DoseStep("oxy-ir-5", 0, 30, 1, 3, 1, "d"), style="orderable-drug-form")
    assert result["doseAndRate"][0]["doseQuantity"] == {
        "value": 1,
        "unit": "Tablet",
        "system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
        "code": "TAB",
    }


def test_request_quantity_covers_the_supply_days():
    # oxycodone 30 mg every 6 h for 15 days = 4 x 15 = 60 tablets.
    step = DoseStep("oxy-ir-30", 180, 730, 1, 1, 6, "h", fill_days=15)
    fill = Fill(200, step, prescriber="ppact-prac-01", pharmacy="ppact-pharm-01", dispense_day=201)
    request = medication_request("p-mr-001", "p", fill, START, status="completed")
    assert request["dispenseRequest"]["quantity"]["value"] == 60
    assert request["dispenseRequest"]["expectedSupplyDuration"]["value"] == 15
    assert request["authoredOn"].startswith("2025-05-20")  # 2024-11-01 + 200 days
    dispense = medication_dispense("p-md-001", "p", "p-mr-001", fill, START)
    assert dispense["quantity"]["value"] == 60
    assert dispense["whenHandedOver"].startswith("2025-05-21")
    assert dispense["authorizingPrescription"] == [{"reference": "MedicationRequest/p-mr-001"}]


def test_contained_medication_style_points_at_med1():
    step = DoseStep("hc-apap-10", 0, 30, 1, 4, 1, "d")
    fill = Fill(0, step, "ppact-prac-01", "ppact-pharm-01", 0, style="contained-medication")
    request = medication_request("p-mr-001", "p", fill, START, status="completed")
    assert request["medicationReference"]["reference"] == "#med1"
    assert request["contained"][0]["id"] == "med1"
    assert request["contained"][0]["code"]["coding"][0]["code"] == "856999"
    assert "medicationCodeableConcept" not in request


def test_fills_without_early_refills_follow_the_supply_period():
    regimen = Regimen("x", (DoseStep("oxy-ir-5", 0, 120, 1, 3, 1, "d"),), ("a",), ("b",))
    fills = regimen_fills(regimen, random.Random(1))
    gaps = [b.day - a.day for a, b in itertools.pairwise(fills)]
    assert fills[0].day == 0
    assert all(30 <= gap <= 33 for gap in gaps)
    assert len(fills) == 4


def test_early_refill_rate_one_refills_every_fill_5_to_10_days_early():
    regimen = Regimen(
        "x", (DoseStep("oxy-ir-5", 0, 200, 1, 3, 1, "d"),), ("a",), ("b",), early_refill_rate=1.0
    )
    fills = regimen_fills(regimen, random.Random(2))
    gaps = [b.day - a.day for a, b in itertools.pairwise(fills)]
    assert gaps and all(20 <= gap <= 25 for gap in gaps)


@pytest.mark.parametrize("seed", range(12))
def test_ongoing_regimen_always_has_supply_on_the_anchor_date(seed):
    regimen = Regimen("x", (DoseStep("oxy-ir-5", 0, WINDOW_DAYS, 1, 3, 1, "d"),), ("a",), ("b",))
    last = regimen_fills(regimen, random.Random(seed))[-1]
    assert last.day < WINDOW_DAYS <= last.day + last.step.fill_days - 1


def test_prescribers_rotate_across_fills():
    regimen = Regimen("x", (DoseStep("oxy-ir-5", 0, 200, 1, 3, 1, "d"),), ("a", "b", "c"), ("p",))
    fills = regimen_fills(regimen, random.Random(3))
    assert [f.prescriber for f in fills[:4]] == ["a", "b", "c", "a"]


def test_fill_past_the_anchor_has_no_dispense_yet():
    regimen = Regimen("x", (DoseStep("oxy-ir-5", 728, 760, 1, 3, 1, "d"),), ("a",), ("b",))
    (fill,) = regimen_fills(regimen, random.Random(4))
    assert fill.day == 728
    assert fill.dispense_day is None or fill.dispense_day < WINDOW_DAYS


@pytest.mark.parametrize(
    ("day", "fill_days", "is_last", "status"),
    [
        pytest.param(710, 30, True, "active", id="last-fill-reaching-anchor"),
        pytest.param(690, 30, True, "completed", id="last-fill-used-up-before-anchor"),
        pytest.param(710, 30, False, "completed", id="not-the-last-fill"),
    ],
)
def test_request_status_is_active_only_for_the_current_fill(day, fill_days, is_last, status):
    step = DoseStep("oxy-ir-5", 0, 730, 1, 3, 1, "d", fill_days=fill_days)
    fill = Fill(day=day, step=step, prescriber="a", pharmacy="b", dispense_day=day)
    assert request_status(fill, is_last=is_last) == status


def test_plans_are_deterministic_per_seed_and_patient():
    anchor = date(2026, 11, 1)
    assert build_plan(5, seed=7, anchor=anchor) == build_plan(5, seed=7, anchor=anchor)
    assert build_plan(2, seed=7, anchor=anchor) != build_plan(2, seed=9, anchor=anchor)
