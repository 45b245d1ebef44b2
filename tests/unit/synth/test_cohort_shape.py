"""Cohort content: archetypes, the most complex patient, exclusions, monitoring, messiness."""

import base64
import itertools
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from app.synth.cohort import Archetype, archetype_for

ANCHOR = date(2026, 11, 1)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
MED_TYPES = {"MedicationRequest", "MedicationDispense", "MedicationStatement"}


def _of(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    ]


def _codes(concept: dict[str, Any] | None, system: str) -> set[str]:
    return {c["code"] for c in (concept or {}).get("coding", []) if c.get("system") == system}


def _category_codes(item: dict[str, Any]) -> set[str]:
    return {c["code"] for cat in item.get("category", []) for c in cat.get("coding", [])}


def _rxnorm(item: dict[str, Any]) -> set[str]:
    return _codes(item.get("medicationCodeableConcept"), RXNORM)


def _day(value: str) -> date:
    return date.fromisoformat(value[:10])


def _patients_of(archetype: Archetype, bundles_by_patient) -> list[dict[str, Any]]:
    return [
        bundle
        for number, bundle in enumerate(bundles_by_patient.values(), start=1)
        if archetype_for(number) is archetype
    ]


# --------------------------------------------------------------------------- archetypes


def test_fifty_patients_cover_every_archetype():
    assert {archetype_for(n) for n in range(1, 51)} == set(Archetype)


def test_patient_one_is_the_complex_patient_and_only_patient_fifteen_is_a_minor():
    archetypes = [archetype_for(n) for n in range(1, 51)]
    assert archetypes[0] is Archetype.COMPLEX
    assert archetypes.count(Archetype.COMPLEX) == 1
    assert [n for n, a in enumerate(archetypes, start=1) if a is Archetype.MINOR] == [15]


def test_exactly_one_patient_is_under_18_and_several_are_65_or_older(cohort):
    ages = []
    for bundle in cohort:
        born = date.fromisoformat(_of(bundle, "Patient")[0]["birthDate"])
        years = ANCHOR.year - born.year - ((ANCHOR.month, ANCHOR.day) < (born.month, born.day))
        ages.append(years)
    assert sum(age < 18 for age in ages) == 1
    assert sum(age >= 65 for age in ages) >= 5


def test_names_are_obviously_synthetic(cohort):
    for number, bundle in enumerate(cohort, start=1):
        name = _of(bundle, "Patient")[0]["name"][0]
        assert name["family"] == f"Synth{number:04d}"


# --------------------------------------------------------------------------- most complex


@pytest.fixture(scope="module")
def complex_bundle(bundles_by_patient) -> dict[str, Any]:
    return bundles_by_patient["ppact-0001"]


def test_most_complex_patient_has_at_least_300_medication_resources(complex_bundle):
    counts = Counter(e["resource"]["resourceType"] for e in complex_bundle["entry"])
    assert sum(counts[t] for t in MED_TYPES) >= 300
    assert counts["MedicationStatement"] > 0


def test_most_complex_patient_is_on_fentanyl_plus_oxycodone_at_about_360_mme(complex_bundle):
    active = [r for r in _of(complex_bundle, "MedicationRequest") if r["status"] == "active"]
    codes = set().union(*(_rxnorm(r) for r in active))
    assert {"197696", "1049618"} <= codes  # fentanyl 75 mcg/h patch, oxycodone 30 mg tablet
    # By hand, CDC 2022 factors: fentanyl patch 75 mcg/h x 2.4 = 180; oxycodone 30 mg
    # every 6 h = 120 mg/day x 1.5 = 180; total 360 MME/day.
    fentanyl = next(r for r in active if "197696" in _rxnorm(r))
    oxycodone = next(r for r in active if "1049618" in _rxnorm(r))
    assert fentanyl["dosageInstruction"][0]["timing"]["repeat"] == {
        "frequency": 1,
        "period": 72,
        "periodUnit": "h",
    }
    repeat = oxycodone["dosageInstruction"][0]["timing"]["repeat"]
    dose = oxycodone["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"]
    daily_oxycodone_mg = 30 * dose * repeat["frequency"] * 24 / repeat["period"]
    assert 75 * 2.4 + daily_oxycodone_mg * 1.5 == 360


def test_most_complex_patient_has_benzo_gabapentinoid_and_carisoprodol(complex_bundle):
    active = [r for r in _of(complex_bundle, "MedicationRequest") if r["status"] == "active"]
    codes = set().union(*(_rxnorm(r) for r in active))
    assert "197321" in codes  # alprazolam 1 mg
    assert "310431" in codes  # gabapentin 300 mg
    assert "197446" in codes  # carisoprodol 350 mg
    assert "854873" in codes  # zolpidem 10 mg


def test_most_complex_patient_has_many_early_oxycodone_refills(complex_bundle):
    dispenses = sorted(
        (
            r
            for r in _of(complex_bundle, "MedicationDispense")
            if _rxnorm(r) & {"1049611", "1049618"}
        ),
        key=lambda r: r["whenHandedOver"],
    )
    early = 0
    for previous, current in itertools.pairwise(dispenses):
        runs_out = _day(previous["whenHandedOver"]) + timedelta(
            days=previous["daysSupply"]["value"]
        )
        if _day(current["whenHandedOver"]) < runs_out - timedelta(days=3):
            early += 1
    assert early >= 5


def test_most_complex_patient_has_4_prescribers_and_3_pharmacies_in_180_days(complex_bundle):
    since = (ANCHOR - timedelta(days=180)).isoformat()
    prescribers = {
        r["requester"]["reference"]
        for r in _of(complex_bundle, "MedicationRequest")
        if r["authoredOn"] >= since
    }
    pharmacies = {
        r["performer"][0]["actor"]["reference"]
        for r in _of(complex_bundle, "MedicationDispense")
        if r["whenHandedOver"] >= since
    }
    assert len(prescribers) == 4
    assert len(pharmacies) == 3


def test_most_complex_patient_has_no_naloxone(complex_bundle):
    codes = set().union(*(_rxnorm(r) for r in _of(complex_bundle, "MedicationRequest")))
    assert not codes & {"1725059", "1725064"}


def test_most_complex_patient_has_a_ppact_episode_with_intake_and_discharge_pros(complex_bundle):
    (episode,) = _of(complex_bundle, "EpisodeOfCare")
    assert episode["type"] == [{"text": "PPACT"}]
    assert episode["status"] == "finished"
    start, end = episode["period"]["start"], episode["period"]["end"]
    by_day: dict[str, set[str]] = {}
    for obs in _of(complex_bundle, "Observation"):
        by_day.setdefault(obs["effectiveDateTime"][:10], set()).update(_codes(obs["code"], LOINC))
    for day in (start, end):
        assert {"91148-7", "44261-6", "70274-6"} <= by_day[day], day
    periodic_peg = [
        d for d, codes in by_day.items() if "91148-7" in codes and d not in (start, end)
    ]
    assert len(periodic_peg) >= 3


def test_ppact_weekly_progress_notes_fall_inside_the_episode(complex_bundle):
    (episode,) = _of(complex_bundle, "EpisodeOfCare")
    start = date.fromisoformat(episode["period"]["start"])
    end = date.fromisoformat(episode["period"]["end"])
    notes = [
        d for d in _of(complex_bundle, "DocumentReference") if "11506-3" in _codes(d["type"], LOINC)
    ]
    # Episode of 120 days: a note every 7 days from day 7 to day 119 -> 17 notes.
    assert (end - start).days == 120
    assert len(notes) == 17
    for note in notes:
        assert start < _day(note["date"]) <= end
        attachment = note["content"][0]["attachment"]
        assert attachment["contentType"] == "text/plain"
        assert "progress note" in base64.b64decode(attachment["data"]).decode("utf-8")


# --------------------------------------------------------------------------- other archetypes


def test_cancer_and_hospice_patients_carry_their_exclusions(bundles_by_patient):
    cancers = _patients_of(Archetype.CANCER, bundles_by_patient)
    hospices = _patients_of(Archetype.HOSPICE, bundles_by_patient)
    assert cancers and hospices
    for bundle in cancers:
        icd = set().union(*(_codes(c["code"], ICD10) for c in _of(bundle, "Condition")))
        assert "C34.90" in icd
    for bundle in hospices:
        procedures = set().union(*(_codes(p["code"], SNOMED) for p in _of(bundle, "Procedure")))
        assert "305336008" in procedures  # admission to hospice
        dispositions = [
            e["hospitalization"]["dischargeDisposition"]
            for e in _of(bundle, "Encounter")
            if "hospitalization" in e
        ]
        assert any("385763009" in _codes(d, SNOMED) for d in dispositions)


def test_moud_patients_have_suboxone_oud_and_buprenorphine_positive_screens(bundles_by_patient):
    moud = _patients_of(Archetype.MOUD, bundles_by_patient)
    assert moud
    for bundle in moud:
        codes = set().union(*(_rxnorm(r) for r in _of(bundle, "MedicationRequest")))
        assert "1010606" in codes
        icd = set().union(*(_codes(c["code"], ICD10) for c in _of(bundle, "Condition")))
        assert "F11.20" in icd
        bup_screens = [
            o for o in _of(bundle, "Observation") if "93494-3" in _codes(o["code"], LOINC)
        ]
        assert any("10828004" in _codes(o["valueCodeableConcept"], SNOMED) for o in bup_screens)


def test_short_course_patients_never_reach_60_days_supplied(bundles_by_patient):
    for bundle in _patients_of(Archetype.SHORT_COURSE, bundles_by_patient):
        supplied = sum(
            r["dispenseRequest"]["expectedSupplyDuration"]["value"]
            for r in _of(bundle, "MedicationRequest")
        )
        assert 0 < supplied < 60


def test_every_required_opioid_family_appears_in_the_cohort(cohort):
    codes: set[str] = set()
    for bundle in cohort:
        for item in _of(bundle, "MedicationRequest"):
            codes |= _rxnorm(item)
    families = {
        "oxycodone IR": {"1049621", "1049683", "1049611", "1049618"},
        "oxycodone ER": {"1049502", "1049543", "1049574", "1049593"},
        "hydrocodone/APAP": {"857002", "857005", "856999"},
        "morphine ER": {"891878", "891885", "891890"},
        "hydromorphone": {"897696", "897702"},
        "fentanyl patch": {"577057", "245134", "245135", "197696", "245136"},
        "methadone": {"864718", "864706"},
        "tramadol": {"835603", "833709"},
        "tapentadol": {"825411", "1148797"},
        "Butrans": {"904882", "904874", "904878"},
        "Suboxone": {"1010606", "1010603"},
        "benzodiazepine": {"308048", "197321", "197901", "197527", "197528", "197591"},
        "gabapentinoid": {"310431", "483450", "483440"},
        "z-drug": {"854873"},
        "carisoprodol": {"197446"},
        "naloxone": {"1725059", "1725064"},
    }
    missing = [name for name, family in families.items() if not codes & family]
    assert missing == []


def test_some_but_not_all_patients_have_naloxone(cohort):
    with_naloxone = [
        b
        for b in cohort
        if any(_rxnorm(r) & {"1725059", "1725064"} for r in _of(b, "MedicationRequest"))
    ]
    assert 5 <= len(with_naloxone) < len(cohort)


# --------------------------------------------------------------------------- order shapes


def test_structured_orders_carry_timing_dose_quantity_supply_and_requester(cohort):
    for bundle in cohort[:14]:
        for item in _of(bundle, "MedicationRequest"):
            assert item["requester"]["reference"].startswith("Practitioner/")
            dosage = item["dosageInstruction"][0]
            if "timing" not in dosage:
                continue  # text-only sig or rescue naloxone
            assert dosage["doseAndRate"]
            request = item["dispenseRequest"]
            assert request["quantity"]["value"] > 0
            assert request["expectedSupplyDuration"]["code"] == "d"


def test_fentanyl_fill_quantity_is_ten_patches_for_thirty_days(complex_bundle):
    first = next(r for r in _of(complex_bundle, "MedicationRequest") if "245134" in _rxnorm(r))
    assert first["dispenseRequest"]["quantity"]["value"] == 10  # one patch every 72 h
    assert first["dispenseRequest"]["expectedSupplyDuration"]["value"] == 30


def test_dispenses_match_their_authorizing_prescription(cohort):
    for bundle in cohort[:14]:
        requests = {r["id"]: r for r in _of(bundle, "MedicationRequest")}
        for item in _of(bundle, "MedicationDispense"):
            request = requests[item["authorizingPrescription"][0]["reference"].split("/")[1]]
            assert (
                item["daysSupply"]["value"]
                == (request["dispenseRequest"]["expectedSupplyDuration"]["value"])
            )
            assert item["quantity"]["value"] == request["dispenseRequest"]["quantity"]["value"]
            assert item["performer"][0]["actor"]["reference"].startswith("Organization/")
            assert item["whenHandedOver"] >= request["authoredOn"][:10]


# --------------------------------------------------------------------------- messiness


def test_the_messy_chart_shows_every_kind_of_messiness(bundles_by_patient):
    (bundle, *_) = _patients_of(Archetype.MESSY, bundles_by_patient)
    requests = _of(bundle, "MedicationRequest")
    dosages = [r["dosageInstruction"][0] for r in requests]
    statuses = Counter(r["status"] for r in requests)
    assert any(set(d) == {"sequence", "text"} for d in dosages), "text-only sig"
    assert any(r.get("medicationReference", {}).get("reference") == "#med1" for r in requests)
    assert any(
        r.get("medicationReference", {}).get("reference", "").startswith("Medication/")
        for r in requests
    )
    assert _of(bundle, "Medication")
    unknown = [r for r in requests if "9999991" in _rxnorm(r)]
    assert unknown and unknown[0]["status"] == "active"
    assert "display" not in unknown[0]["medicationCodeableConcept"]["coding"][0]
    assert statuses["entered-in-error"] == 1
    assert statuses["cancelled"] == 1
    assert any("maxDosePerPeriod" in d and d.get("asNeededBoolean") for d in dosages)
    assert any("doseRange" in d.get("doseAndRate", [{}])[0] for d in dosages)
    assert any(
        d.get("doseAndRate", [{}])[0].get("doseQuantity", {}).get("system")
        == "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm"
        for d in dosages
    )
    onsets = {len(c["onsetDateTime"]) for c in _of(bundle, "Condition")}
    assert {4, 7} <= onsets  # "YYYY" and "YYYY-MM"
    starts = {len(s["effectivePeriod"]["start"]) for s in _of(bundle, "MedicationStatement")}
    assert 4 in starts


def test_messiness_stays_a_minority(cohort):
    def is_messy(bundle: dict[str, Any]) -> bool:
        for item in _of(bundle, "MedicationRequest"):
            dosage = item["dosageInstruction"][0]
            if item["status"] in {"entered-in-error", "cancelled"} or "medicationReference" in item:
                return True
            if "timing" not in dosage and "asNeededBoolean" not in dosage:
                return True
        return False

    messy = sum(is_messy(b) for b in cohort)
    assert 3 <= messy < len(cohort) // 2


# --------------------------------------------------------------------------- monitoring


def test_uds_observations_follow_the_lab_contract(cohort):
    positive, negative = "10828004", "260385009"
    seen = 0
    for bundle in cohort:
        for obs in _of(bundle, "Observation"):
            if "laboratory" not in _category_codes(obs):
                continue
            seen += 1
            assert _codes(obs["code"], LOINC)
            parts = obs.get("component") or [obs]
            for part in parts:
                value = _codes(part["valueCodeableConcept"], SNOMED)
                flags = {c["code"] for c in part["interpretation"][0]["coding"]}
                assert value in ({positive}, {negative})
                assert flags == ({"POS", "A"} if value == {positive} else {"NEG", "N"})
    assert seen > 100


def test_complex_patient_has_an_unexpected_cannabinoid_on_the_panel(complex_bundle):
    panels = [
        o for o in _of(complex_bundle, "Observation") if "65750-2" in _codes(o["code"], LOINC)
    ]
    cannabinoid = [
        c
        for panel in panels
        for c in panel["component"]
        if "18282-4" in _codes(c["code"], LOINC)
        and "10828004" in _codes(c["valueCodeableConcept"], SNOMED)
    ]
    assert len(panels) >= 4
    assert len(cannabinoid) == 1


def test_stable_monitored_patients_are_up_to_date_on_monitoring(bundles_by_patient):
    stable = _patients_of(Archetype.STABLE_MONITORED, bundles_by_patient)
    assert len(stable) >= 3
    for bundle in stable:
        pdmp = [
            _day(p["performedDateTime"])
            for p in _of(bundle, "Procedure")
            if "461621000124108" in _codes(p["code"], SNOMED)
        ]
        assert ANCHOR - max(pdmp) <= timedelta(days=95)
        agreements = [
            d for d in _of(bundle, "DocumentReference") if "94136-9" in _codes(d["type"], LOINC)
        ]
        current = [a for a in agreements if a["status"] == "current"]
        assert len(current) == 1
        assert current[0]["context"]["period"]["end"] > ANCHOR.isoformat()
        uds_days = [
            _day(o["effectiveDateTime"])
            for o in _of(bundle, "Observation")
            if "laboratory" in _category_codes(o)
        ]
        assert ANCHOR - max(uds_days) <= timedelta(days=365)


def test_patients_on_ongoing_therapy_have_an_active_order_at_the_anchor(bundles_by_patient):
    for archetype in (Archetype.STABLE_MONITORED, Archetype.HIGH_DOSE_ER, Archetype.MOUD):
        for bundle in _patients_of(archetype, bundles_by_patient):
            active = [r for r in _of(bundle, "MedicationRequest") if r["status"] == "active"]
            assert active, archetype


def test_peg_total_is_the_mean_of_its_three_items(cohort):
    checked = 0
    for bundle in cohort:
        for obs in _of(bundle, "Observation"):
            if "91148-7" not in _codes(obs["code"], LOINC):
                continue
            items = {
                next(iter(_codes(c["code"], LOINC))): c["valueQuantity"]["value"]
                for c in obs["component"]
            }
            assert set(items) == {"91145-3", "91146-1", "91147-9"}
            assert obs["valueQuantity"]["value"] == round(sum(items.values()) / 3, 1)
            checked += 1
    assert checked > 20


def test_phq9_panels_point_at_their_total(cohort):
    for bundle in cohort:
        observations = {o["id"]: o for o in _of(bundle, "Observation")}
        for obs in observations.values():
            if "44249-1" in _codes(obs["code"], LOINC):
                member = observations[obs["hasMember"][0]["reference"].split("/")[1]]
                assert "44261-6" in _codes(member["code"], LOINC)
                assert 0 <= member["valueQuantity"]["value"] <= 27


def test_telehealth_and_office_visits_both_occur(complex_bundle):
    classes = Counter(e["class"]["code"] for e in _of(complex_bundle, "Encounter"))
    assert classes["AMB"] > 0
    assert classes["VR"] > 0


def test_times_parse_as_aware_datetimes(complex_bundle):
    for item in _of(complex_bundle, "MedicationDispense")[:20]:
        assert datetime.fromisoformat(item["whenHandedOver"]).utcoffset() == timedelta(hours=-7)
