"""MedicationRequest / MedicationDispense / MedicationStatement JSON -> MedicationRecord."""

import copy
import json
from datetime import date
from pathlib import Path

import pytest

from app.clinical.medications import medication_record
from app.clinical.model import (
    ICD10CM,
    RXNORM,
    ClassSource,
    Code,
    DrugClass,
    MedicationKind,
    Quantity,
)
from app.clinical.terminology import load_terminology

FHIR_DIR = Path(__file__).parents[2] / "fixtures" / "fhir"
FORM = "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm"
UCUM = "http://unitsofmeasure.org"


def load(name: str) -> dict:
    return json.loads((FHIR_DIR / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def terminology():
    return load_terminology()


@pytest.fixture(scope="module")
def included():
    medication = load("Medication.oxycodone-er-20")
    return {"Medication/eMedOxyER20": medication}


def read(resource, terminology, **kwargs):
    return medication_record(resource, terminology=terminology, **kwargs)


def tablets(value: float) -> Quantity:
    return Quantity(value, unit="tablet", code="TAB", system=FORM)


def tablets_json(value: float) -> dict:
    return {"value": value, "unit": "tablet", "system": FORM, "code": "TAB"}


# --------------------------------------------------------------------------- requests


def test_epic_request_resolves_the_included_medication_and_reads_every_field(terminology, included):
    record = read(
        load("MedicationRequest.oxycodone-er-q12h"), terminology, medications_by_ref=included
    )
    assert record.ref == "MedicationRequest/eOxyER.q12h-1"
    assert record.kind is MedicationKind.REQUEST
    assert record.rxnorm_codes == ("1049563",)
    assert record.text == "oxyCODONE (OXYCONTIN) 20 mg 12 hr tablet"
    assert record.classification.classes == {DrugClass.OPIOID_ANALGESIC}
    assert record.classification.long_acting is True
    assert record.classification.source is ClassSource.CODE_LIST
    assert (record.status, record.intent, record.categories) == ("active", "order", ("community",))
    assert record.authored_on == date(2026, 10, 1)
    assert (record.validity_start, record.validity_end) == (date(2026, 10, 1), date(2026, 12, 30))
    assert record.prescriber == "Practitioner/ePrac1"
    assert record.prescriber_display == "Alex Rivera, MD"
    assert record.dispense_quantity == tablets(60)
    assert record.expected_supply_days == 30.0
    assert record.repeats_allowed == 0
    assert record.reason_codes == (Code(ICD10CM, "G89.4", "Chronic pain syndrome"),)
    assert record.reported is False
    assert record.sig_text == "Take 1 tablet by mouth every 12 hours.; Do not crush or chew."
    (dosage,) = record.dosages
    assert dosage.dose == tablets(1)  # the "ordered" entry, not the "calculated" 20 mg
    assert (dosage.frequency, dosage.period, dosage.period_unit) == (1.0, 12.0, "h")
    assert dosage.timing_code == "every 12 hours"
    assert dosage.bounds_start == date(2026, 10, 1)
    assert dosage.as_needed is False
    assert record.notes == ("3 doseAndRate entries; used the one typed 'ordered'",)


@pytest.mark.parametrize(
    "reference",
    [
        pytest.param("https://ehr.example.org/api/FHIR/R4/Medication/eMedOxyER20", id="absolute"),
        pytest.param("Medication/eMedOxyER20/_history/2", id="versioned"),
    ],
)
def test_request_resolves_absolute_and_versioned_medication_references(
    terminology, included, reference
):
    resource = load("MedicationRequest.oxycodone-er-q12h")
    resource["medicationReference"]["reference"] = reference
    record = read(resource, terminology, medications_by_ref=included)
    assert record.rxnorm_codes == ("1049563",)
    assert not any("could not be resolved" in note for note in record.notes)


def test_epic_request_without_its_medication_is_unresolved_but_classified_by_display(terminology):
    record = read(load("MedicationRequest.oxycodone-er-q12h"), terminology)
    assert record.codes == ()
    assert record.text == "oxyCODONE (OXYCONTIN) 20 mg 12 hr tablet"
    assert record.classification.is_opioid
    assert record.classification.source is ClassSource.NAME
    assert "medication reference Medication/eMedOxyER20 could not be resolved" in record.notes


def test_cerner_request_reads_the_contained_medication_and_contained_prescriber(terminology):
    record = read(load("MedicationRequest.hydrocodone-apap-contained"), terminology)
    assert record.rxnorm_codes == ("856999",)
    assert record.text == "hydrocodone-acetaminophen 10 mg-325 mg oral tablet"
    assert record.classification.classes == {DrugClass.OPIOID_ANALGESIC}
    assert record.classification.ingredients == ("hydrocodone",)
    assert record.prescriber == "#prac-c1"
    assert record.prescriber_display == "Jordan Lee"
    assert record.expected_supply_days == 30.0  # 1 mo
    assert record.repeats_allowed == 2
    assert record.dispense_quantity == Quantity(120, unit="tab", code="{tbl}", system=UCUM)
    (dosage,) = record.dosages
    assert dosage.dose == Quantity(1, unit="tab", code="{tbl}", system=UCUM)
    assert dosage.timing_code == "Q6H"
    assert (dosage.frequency, dosage.period, dosage.period_unit) == (1.0, 6.0, "h")
    assert dosage.as_needed is True
    assert dosage.max_dose_per_period == Quantity(4, unit="tab", code="{tbl}", system=UCUM)
    assert dosage.max_dose_period_days == 1.0
    assert record.sig_text == "1 tab Oral every 6 hr as needed pain, max 4 tab/day"
    assert record.notes == ()


def test_unresolvable_reference_keeps_the_display_and_says_so(terminology):
    record = read(load("MedicationRequest.unresolved-reference"), terminology)
    assert record.codes == ()
    assert record.text == "morphine sulfate 15 MG Extended Release Oral Tablet"
    assert record.classification.is_opioid
    assert record.classification.long_acting is True
    assert record.notes == (
        "medication reference Medication/missing-99 could not be resolved",
        "medication not coded; classified from its name",
    )
    assert record.dosages[0].timing_code == "BID"


def test_reference_to_a_missing_contained_medication_is_unresolved(terminology):
    resource = load("MedicationRequest.hydrocodone-apap-contained")
    resource["medicationReference"] = {"reference": "#no-such"}
    record = read(resource, terminology)
    assert record.codes == ()
    assert record.classification.is_known is False
    assert "medication reference #no-such could not be resolved" in record.notes


def test_text_only_sig_is_kept_with_a_note_and_no_dose(terminology):
    record = read(load("MedicationRequest.text-only-sig"), terminology)
    (dosage,) = record.dosages
    assert dosage.dose is None and dosage.frequency is None
    assert record.sig_text == "take 1-2 tabs by mouth every 4-6 hours as needed for pain"
    assert record.dispense_quantity == Quantity(40, unit="tablet(s)")
    assert record.notes == (
        "dose not coded; sig text: take 1-2 tabs by mouth every 4-6 hours as needed for pain",
    )


def test_entered_in_error_request_is_kept_with_its_status_and_a_note(terminology):
    record = read(load("MedicationRequest.entered-in-error"), terminology)
    assert record.entered_in_error
    assert record.classification.classes == {DrugClass.BENZODIAZEPINE}
    assert record.notes == ("entered in error; not counted",)


def test_partial_and_unreadable_dates_and_unknown_supply_unit_are_noted(terminology):
    record = read(load("MedicationRequest.partial-date"), terminology)
    assert record.authored_on == date(2026, 3, 1)
    assert record.validity_start == date(2026, 3, 1)
    assert record.validity_end is None
    assert record.expected_supply_days is None
    assert record.rxnorm_codes == ("1049221",)  # written with the RxNorm OID
    assert record.classification.source is ClassSource.CODE_LIST
    assert record.notes == (
        "authoredOn 2026-03 is a partial date; read as 2026-03-01",
        "validityPeriod.start 2026-03 is a partial date; read as 2026-03-01",
        "validityPeriod.end 03/31/2026 is not a date",
        "expectedSupplyDuration unit fortnights is not a unit of time; not converted to days",
    )


def test_dose_range_prn_with_when_time_of_day_and_max_dose(terminology):
    record = read(load("MedicationRequest.oxycodone-ir-range-prn"), terminology)
    (dosage,) = record.dosages
    assert dosage.sequence == 1
    assert dosage.dose is None
    assert (dosage.dose_low, dosage.dose_high) == (tablets(1), tablets(2))
    assert (dosage.frequency, dosage.frequency_max) == (1.0, 1.0)
    assert (dosage.period, dosage.period_max, dosage.period_unit) == (4.0, 6.0, "h")
    assert dosage.when_count == 2  # MORN, EVE, MORN
    assert dosage.time_of_day_count == 2
    assert dosage.as_needed is True  # asNeededCodeableConcept
    assert dosage.max_dose_per_period == tablets(8)
    assert dosage.max_dose_period_days == 1.0  # 24 h
    assert (dosage.bounds_start, dosage.bounds_end) == (date(2026, 10, 5), date(2026, 11, 4))
    assert record.notes == ()


def test_request_without_authored_on_or_status_or_dosage_says_so(terminology):
    resource = load("MedicationRequest.text-only-sig")
    for key in ("authoredOn", "status", "dosageInstruction"):
        del resource[key]
    record = read(resource, terminology)
    assert record.authored_on is None
    assert record.notes == ("no status", "no dosage instructions", "no authoredOn date")


def test_several_untyped_dose_entries_use_the_first_with_a_note(terminology):
    resource = load("MedicationRequest.unresolved-reference")
    resource["dosageInstruction"][0]["doseAndRate"] = [
        {"doseQuantity": tablets_json(2)},
        {"doseQuantity": tablets_json(1)},
    ]
    record = read(resource, terminology)
    assert record.dosages[0].dose == tablets(2)
    assert "2 doseAndRate entries; used the first" in record.notes


def test_ordered_dose_entry_is_found_by_text_too(terminology):
    resource = load("MedicationRequest.unresolved-reference")
    resource["dosageInstruction"][0]["doseAndRate"] = [
        {"type": {"text": "calculated"}, "doseQuantity": {"value": 15, "unit": "mg"}},
        {"type": {"text": "Ordered"}, "doseQuantity": tablets_json(1)},
    ]
    record = read(resource, terminology)
    assert record.dosages[0].dose == tablets(1)


def test_stu3_style_dose_quantity_on_the_dosage_is_read(terminology):
    resource = load("MedicationRequest.unresolved-reference")
    resource["dosageInstruction"] = [
        {"doseQuantity": tablets_json(1), "timing": {"repeat": {"frequency": 2, "period": 1}}}
    ]
    record = read(resource, terminology)
    assert record.dosages[0].dose == tablets(1)
    assert record.dosages[0].frequency == 2.0


def test_dose_without_timing_and_junk_dosage_entries_are_noted(terminology):
    resource = load("MedicationRequest.unresolved-reference")
    resource["dosageInstruction"] = [
        "1 tab bid",
        {"doseAndRate": [{"doseQuantity": tablets_json(1)}]},
    ]
    record = read(resource, terminology)
    assert len(record.dosages) == 1
    assert "dosage entry 1 tab bid is not a JSON object" in record.notes
    assert "dosage has no timing" in record.notes


def test_dosage_with_neither_dose_nor_text_is_noted(terminology):
    resource = load("MedicationRequest.unresolved-reference")
    resource["dosageInstruction"] = [{"timing": {"code": {"text": "BID"}}}]
    record = read(resource, terminology)
    assert "dosage has no dose" in record.notes


def test_request_with_no_medication_at_all_is_unknown_with_a_note(terminology):
    resource = load("MedicationRequest.text-only-sig")
    resource["medicationCodeableConcept"] = "Percocet"  # not a CodeableConcept
    record = read(resource, terminology)
    assert record.classification.is_known is False
    assert record.notes[0] == (
        "no medication given (neither medicationCodeableConcept nor reference)"
    )


def test_local_codes_without_rxnorm_are_noted(terminology):
    resource = load("MedicationRequest.text-only-sig")
    resource["medicationCodeableConcept"] = {
        "coding": [{"system": "urn:oid:1.2.840.114350.1.13.0.1.7.2.698288", "code": "22113"}],
        "text": "OXYCODONE-ACETAMINOPHEN 5-325 MG PO TABS",
    }
    record = read(resource, terminology)
    assert record.classification.is_opioid
    assert (
        "no RxNorm code (codes given: urn:oid:1.2.840.114350.1.13.0.1.7.2.698288|22113)"
        in record.notes
    )


def test_rxnorm_code_outside_the_lists_classified_by_name_is_noted(terminology):
    resource = load("MedicationRequest.text-only-sig")
    resource["medicationCodeableConcept"] = {
        "coding": [{"system": RXNORM, "code": "99999999"}],
        "text": "oxycodone 5 mg tablet",
    }
    record = read(resource, terminology)
    assert record.classification.source is ClassSource.NAME
    assert "classified from its name, not its RxNorm code 99999999" in record.notes


def test_referenced_medication_without_code_is_noted(terminology, included):
    resource = load("MedicationRequest.oxycodone-er-q12h")
    medication = copy.deepcopy(included["Medication/eMedOxyER20"])
    del medication["code"]
    record = read(resource, terminology, medications_by_ref={"Medication/eMedOxyER20": medication})
    assert record.codes == ()
    assert record.text == "oxyCODONE (OXYCONTIN) 20 mg 12 hr tablet"  # the reference display
    assert "referenced Medication Medication/eMedOxyER20 has no code" in record.notes


def test_requester_without_display_is_named_from_the_supplied_practitioner(terminology):
    resource = load("MedicationRequest.oxycodone-er-q12h")
    resource["requester"] = {"reference": "https://ehr.example.org/fhir/Practitioner/ePrac1"}
    record = read(resource, terminology, names_by_ref={"Practitioner/ePrac1": "Alex Rivera"})
    assert (record.prescriber, record.prescriber_display) == ("Practitioner/ePrac1", "Alex Rivera")


@pytest.mark.parametrize(
    ("field", "value", "reported"),
    [
        pytest.param("reportedBoolean", True, True, id="reported-boolean"),
        pytest.param("reportedReference", {"reference": "Patient/ePt1"}, True, id="reference"),
        pytest.param("reportedBoolean", "yes", False, id="not-a-boolean"),
    ],
)
def test_patient_reported_requests_are_flagged(terminology, field, value, reported):
    resource = load("MedicationRequest.text-only-sig")
    resource[field] = value
    assert read(resource, terminology).reported is reported


def test_a_non_medication_resource_is_a_caller_error(terminology):
    with pytest.raises(ValueError, match="not a medication resource: Observation"):
        read({"resourceType": "Observation", "id": "x"}, terminology)


def test_refills_of_one_drug_are_classified_once_with_a_shared_cache(terminology):
    calls = []

    class Counting:
        def classify_medication(self, codes, text=None):
            calls.append(codes)
            return terminology.classify_medication(codes, text)

    cache: dict = {}
    resource = load("MedicationRequest.entered-in-error")
    first = read(resource, Counting(), classification_cache=cache)
    second = read(resource, Counting(), classification_cache=cache)
    assert len(calls) == 1
    assert first.classification == second.classification


# --------------------------------------------------------------------------- dispenses


def test_dispense_reads_dates_supply_pharmacy_and_prescription_link(terminology):
    record = read(
        load("MedicationDispense.oxycodone-er"),
        terminology,
        names_by_ref={"Organization/pharm-1": "Valley Community Pharmacy"},
    )
    assert record.kind is MedicationKind.DISPENSE
    assert record.handed_over == date(2026, 10, 2)  # whenHandedOver, not whenPrepared
    assert record.days_supply == 30.0
    assert record.dispense_quantity == Quantity(60, unit="TAB", code="TAB", system=FORM)
    assert record.pharmacy == "Valley Community Pharmacy"
    assert record.authorizing_prescription == "MedicationRequest/eOxyER.q12h-1"
    assert record.dosages[0].timing_code == "Q12H"
    assert record.notes == ()


def test_dispense_pharmacy_falls_back_to_the_reference_without_a_name(terminology):
    record = read(load("MedicationDispense.oxycodone-er"), terminology)
    assert record.pharmacy == "Organization/pharm-1"


def test_dispense_dated_by_when_prepared_uses_location_and_converts_weeks(terminology):
    record = read(load("MedicationDispense.when-prepared-only"), terminology)
    assert record.handed_over == date(2026, 9, 28)
    assert record.days_supply == 14.0
    assert record.pharmacy == "Main Street Pharmacy"
    assert record.authorizing_prescription is None
    assert record.notes == ("no dosage instructions", "no whenHandedOver; dated by whenPrepared")


def test_dispense_without_any_date_or_with_unitless_days_supply(terminology):
    resource = load("MedicationDispense.when-prepared-only")
    del resource["whenPrepared"]
    resource["daysSupply"] = {"value": 10}
    record = read(resource, terminology)
    assert record.handed_over is None
    assert record.days_supply == 10.0  # daysSupply is days by definition
    assert "no dispense date (whenHandedOver, whenPrepared)" in record.notes


def test_dispense_with_several_prescriptions_links_the_first_and_reads_urn_uuid(terminology):
    resource = load("MedicationDispense.oxycodone-er")
    resource["authorizingPrescription"] = [
        {"reference": "urn:uuid:6f1c2a3e-0000-4000-8000-000000000001"},
        {"reference": "MedicationRequest/other"},
    ]
    record = read(resource, terminology)
    assert record.authorizing_prescription == (
        "MedicationRequest/6f1c2a3e-0000-4000-8000-000000000001"
    )
    assert "2 authorizing prescriptions; linked to the first" in record.notes


# --------------------------------------------------------------------------- statements


def test_statement_reads_effective_period_dosage_and_patient_source(terminology):
    record = read(load("MedicationStatement.gabapentin-reported"), terminology)
    assert record.kind is MedicationKind.STATEMENT
    assert (record.effective_start, record.effective_end) == (date(2026, 6, 1), date(2026, 12, 1))
    assert record.reported is True
    assert record.classification.classes == {DrugClass.GABAPENTINOID}
    (dosage,) = record.dosages
    assert dosage.dose == Quantity(300, unit="mg", code="mg", system=UCUM)
    assert dosage.timing_code == "TID"
    assert record.sig_text == "300 mg three times daily"


def test_statement_with_effective_date_time_and_clinician_source(terminology):
    resource = load("MedicationStatement.gabapentin-reported")
    del resource["effectivePeriod"]
    resource["effectiveDateTime"] = "2026-05-31T22:00:00-10:00"
    resource["informationSource"] = {"reference": "Practitioner/ePrac1"}
    record = read(resource, terminology)
    assert (record.effective_start, record.effective_end) == (date(2026, 5, 31), None)
    assert record.reported is False


def test_statement_without_effective_date_is_noted(terminology):
    resource = load("MedicationStatement.gabapentin-reported")
    del resource["effectivePeriod"]
    record = read(resource, terminology)
    assert "no effective date" in record.notes
