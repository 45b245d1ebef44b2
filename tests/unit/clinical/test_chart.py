"""Bundles, CDS prefetch and loose resources -> Chart: all read, nothing lost silently."""

import base64
import copy
import json
import time
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.clinical.chart import (
    MAX_TEXT_BYTES,
    ChartInputError,
    build_chart,
    bundle_resources,
    chart_from_bundle,
    chart_from_prefetch,
)
from app.clinical.model import (
    LOINC,
    SNOMED,
    Code,
    ConditionGroup,
    DrugClass,
    MedicationKind,
    Quantity,
)
from app.clinical.terminology import load_terminology

FIXTURES = Path(__file__).parents[2] / "fixtures"
UCUM = "http://unitsofmeasure.org"


def load(name: str) -> dict:
    return json.loads((FIXTURES / "fhir" / f"{name}.json").read_text())


def load_chart(name: str) -> dict:
    return json.loads((FIXTURES / "charts" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def terminology():
    return load_terminology()


@pytest.fixture(scope="module")
def full_chart(terminology):
    resources = [json.loads(p.read_text()) for p in sorted((FIXTURES / "fhir").glob("*.json"))]
    return build_chart(resources, terminology=terminology)


def by_ref(records, ref):
    (found,) = [r for r in records if r.ref == ref]
    return found


# --------------------------------------------------------------------------- bundles


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        pytest.param([], "not a FHIR Bundle: not a JSON object", id="list"),
        pytest.param("{}", "not a FHIR Bundle: not a JSON object", id="string"),
        pytest.param(
            {"resourceType": "Patient"}, "not a FHIR Bundle: resourceType is Patient", id="x"
        ),
        pytest.param({"entry": []}, "not a FHIR Bundle: resourceType is None", id="no-type"),
    ],
)
def test_anything_but_a_bundle_is_refused(bundle, message):
    with pytest.raises(ChartInputError, match=f"^{message}$"):
        bundle_resources(bundle)
    with pytest.raises(ChartInputError, match=f"^{message}$"):
        chart_from_bundle(bundle)


def test_searchset_resources_include_match_include_and_outcome_entries_in_order():
    resources = bundle_resources(load_chart("epic-searchset-included-medication"))
    assert [r["resourceType"] for r in resources] == [
        "Patient",
        "MedicationRequest",
        "Medication",
        "Practitioner",
        "MedicationDispense",
        "Organization",
        "MedicationRequest",
        "QuestionnaireResponse",
        "OperationOutcome",
    ]


def test_transaction_resources_get_their_id_from_a_urn_uuid_without_changing_the_input():
    bundle = load_chart("transaction-urn-uuid")
    original = copy.deepcopy(bundle)
    resources = bundle_resources(bundle)
    assert len(resources) == 5  # the request-only DELETE entry has no resource
    assert resources[0]["id"] == "0b6e7a52-8f0e-4c1e-9a59-1f2b8d9c0001"
    assert bundle == original


@pytest.mark.parametrize("bundle_type", ["collection", "batch", "document", None])
def test_other_bundle_types_are_read_by_entry_resource(bundle_type):
    bundle = {"resourceType": "Bundle", "entry": [{"resource": load("Procedure.pdmp-review")}]}
    if bundle_type:
        bundle["type"] = bundle_type
    assert [r["id"] for r in bundle_resources(bundle)] == ["pdmp-1"]


def test_malformed_bundle_entries_become_problems(terminology):
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            "junk",
            {"resource": ["not", "a", "resource"]},
            {"resource": load("Patient.mrn")},
        ],
    }
    chart = chart_from_bundle(bundle, terminology=terminology)
    assert chart.patient is not None
    assert chart.problems == (
        "Bundle entry 0 is not a JSON object; not read",
        "Bundle entry 1 has a resource that is not a JSON object",
    )
    bad_entries = {"resourceType": "Bundle", "type": "searchset", "entry": {"resource": {}}}
    chart = chart_from_bundle(bad_entries, terminology=terminology)
    assert chart.problems == ("Bundle.entry is not a list; nothing read from it",)


def test_epic_searchset_becomes_one_chart_with_included_medication_and_names(terminology):
    chart = chart_from_bundle(
        load_chart("epic-searchset-included-medication"), terminology=terminology
    )
    assert chart.patient is not None and chart.patient.mrn == "MRN-000042"
    request = by_ref(chart.medications, "MedicationRequest/eOxyER.q12h-1")
    assert request.rxnorm_codes == ("1049563",)
    assert request.classification.long_acting
    assert request.notes == (
        "appeared 2 times in the input; one copy kept",
        "3 doseAndRate entries; used the one typed 'ordered'",
    )
    dispense = by_ref(chart.medications, "MedicationDispense/disp-oxy-er-1")
    assert dispense.pharmacy == "Valley Community Pharmacy"
    assert dispense.authorizing_prescription == request.ref
    assert len(chart.medications) == 2
    assert len(chart.questionnaire_responses) == 1
    assert chart.problems == (
        "the server returned an OperationOutcome: warning: Some MedicationRequest resources "
        "were not returned because of their status",
    )


def test_transaction_with_urn_uuid_references_resolves_patient_medication_and_link(terminology):
    chart = chart_from_bundle(load_chart("transaction-urn-uuid"), terminology=terminology)
    patient = chart.patient
    assert patient is not None
    assert patient.ref == "Patient/0b6e7a52-8f0e-4c1e-9a59-1f2b8d9c0001"
    assert (patient.name, patient.mrn, patient.gender) == ("Robin Synthetic", "MRN-7", "male")
    assert patient.birth_date == date(1959, 11, 30)
    assert patient.deceased is True  # deceasedDateTime
    request, dispense = chart.medications
    assert request.kind is MedicationKind.REQUEST
    assert request.rxnorm_codes == ("1049621",)  # resolved through urn:uuid
    assert request.expected_supply_days == 30.0
    assert dispense.authorizing_prescription == request.ref
    assert dispense.days_supply == 30.0
    (condition,) = chart.conditions
    assert condition.groups >= {ConditionGroup.OUD, ConditionGroup.SUD}
    assert chart.problems == ()


# --------------------------------------------------------------------------- prefetch


def test_prefetch_reads_patient_bundles_and_names_the_failed_key(terminology):
    chart = chart_from_prefetch(load_chart("prefetch-order-sign"), terminology=terminology)
    assert chart.patient is not None and chart.patient.ref == "Patient/ePt1"
    assert [m.ref for m in chart.medications] == [
        "MedicationRequest/eOxyER.q12h-1",
        "MedicationRequest/eie-1",
    ]
    assert chart.medications[0].rxnorm_codes == ("1049563",)
    assert chart.medications[1].entered_in_error
    assert chart.problems == (
        "prefetch 'observations' returned an OperationOutcome: error: Observation search "
        "requires a category or code; warning: Results are limited to active items",
    )


def test_prefetch_outcome_entry_inside_a_bundle_and_non_object_values_are_problems(terminology):
    outcome = {"resourceType": "OperationOutcome", "issue": [{"code": "too-costly"}]}
    prefetch = {
        "meds": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": outcome, "search": {"mode": "outcome"}}],
        },
        "weird": ["a list"],
        "empty": None,
    }
    chart = chart_from_prefetch(prefetch, terminology=terminology)
    assert chart.problems == (
        "prefetch 'meds' returned an OperationOutcome: too-costly",
        "prefetch 'weird' is not a JSON object; not read",
    )
    assert chart.patient is None


def test_prefetch_that_is_not_an_object_is_refused():
    with pytest.raises(ChartInputError, match="prefetch is not a JSON object"):
        chart_from_prefetch([])  # type: ignore[arg-type]


def test_prefetch_with_no_data_at_all_is_an_empty_chart(terminology):
    chart = chart_from_prefetch({"patient": None, "medications": None}, terminology=terminology)
    assert chart.patient is None
    assert chart.medications == ()
    assert chart.problems == ()


# --------------------------------------------------------------------------- patients


def test_two_distinct_patients_are_refused(terminology):
    other = {**load("Patient.mrn"), "id": "someone-else"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": load("Patient.mrn")}, {"resource": other}],
    }
    with pytest.raises(ChartInputError, match=r"more than one Patient \(2 distinct ids\)"):
        chart_from_bundle(bundle, terminology=terminology)


def test_the_same_patient_twice_is_one_patient(terminology):
    chart = build_chart([load("Patient.mrn"), load("Patient.mrn")], terminology=terminology)
    assert chart.patient is not None and chart.patient.name == "Samantha Q Testperson"


def test_without_a_patient_resources_of_two_patients_are_refused(terminology):
    other = {**load("Procedure.pdmp-review"), "id": "p2", "subject": {"reference": "Patient/x"}}
    with pytest.raises(ChartInputError, match="resources refer to 2 different patients"):
        build_chart([load("Procedure.pdmp-review"), other], terminology=terminology)


def test_resources_of_another_patient_are_left_out_with_a_problem(full_chart):
    assert "MedicationRequest/313757847 refers to another patient; left out" in full_chart.problems
    assert all(m.ref != "MedicationRequest/313757847" for m in full_chart.medications)


def test_urn_uuid_subjects_are_never_taken_for_another_patient(terminology):
    patient = {**load("Patient.mrn")}
    procedure = {**load("Procedure.pdmp-review"), "subject": {"reference": "urn:uuid:1234"}}
    chart = build_chart([patient, procedure], terminology=terminology)
    assert len(chart.procedures) == 1
    assert chart.problems == ()


def test_patient_identifier_falls_back_to_the_first_and_name_to_text(terminology):
    patient = {
        "resourceType": "Patient",
        "id": "p",
        "identifier": [{"value": "X-1"}, {"value": "X-2"}],
        "name": [{"text": "Pat Example"}],
        "birthDate": "1970",
    }
    chart = build_chart([patient], terminology=terminology)
    assert chart.patient is not None
    assert (chart.patient.mrn, chart.patient.name) == ("X-1", "Pat Example")
    assert chart.patient.birth_date == date(1970, 1, 1)
    assert chart.patient.deceased is False
    assert chart.problems == ("Patient/p: birthDate 1970 is a partial date; read as 1970-01-01",)


def test_numeric_ids_are_read_as_text(terminology):
    patient = {"resourceType": "Patient", "id": 7}
    procedure = {**load("Procedure.pdmp-review"), "subject": {"reference": "Patient/7"}}
    chart = build_chart([patient, procedure], terminology=terminology)
    assert chart.patient is not None and chart.patient.ref == "Patient/7"
    assert len(chart.procedures) == 1


# --------------------------------------------------------------------------- whole chart


def test_every_fixture_resource_lands_in_its_record_list(full_chart):
    assert full_chart.patient is not None and full_chart.patient.ref == "Patient/ePt1"
    assert len(full_chart.medications) == 9  # 10 medication fixtures, one of another patient
    assert len(full_chart.conditions) == 1
    assert len(full_chart.observations) == 3
    assert len(full_chart.questionnaire_responses) == 1
    assert len(full_chart.procedures) == 1
    assert len(full_chart.documents) == 1
    assert len(full_chart.encounters) == 1
    assert len(full_chart.service_requests) == 1
    assert [e.ref for e in full_chart.episodes] == [
        "CarePlan/cp-ppact-1",
        "EpisodeOfCare/eoc-ppact-1",
    ]


def test_medications_are_classified_through_the_chart(full_chart):
    classes = {m.ref: m.classification.classes for m in full_chart.medications}
    assert classes["MedicationRequest/eOxyER.q12h-1"] == {DrugClass.OPIOID_ANALGESIC}
    assert classes["MedicationRequest/eie-1"] == {DrugClass.BENZODIAZEPINE}
    assert classes["MedicationStatement/stmt-gaba-1"] == {DrugClass.GABAPENTINOID}
    request = by_ref(full_chart.medications, "MedicationRequest/eOxyER.q12h-1")
    assert request.rxnorm_codes == ("1049563",)  # the Medication fixture is in the same input
    assert request.prescriber_display == "Alex Rivera, MD"


def test_condition_reads_codes_groups_statuses_and_dates(full_chart):
    (condition,) = full_chart.conditions
    assert condition.codes[0].code == "F33.1"
    assert condition.text == "Recurrent major depression"
    assert ConditionGroup.DEPRESSION in condition.groups
    assert (condition.clinical_status, condition.verification_status) == ("active", "confirmed")
    assert condition.categories == ("problem-list-item",)
    assert condition.onset == date(2019, 2, 10)  # onsetPeriod.start
    assert condition.recorded == date(2019, 2, 11)
    assert condition.abatement is None
    assert condition.is_active
    assert condition.notes == ("abatement given as text only",)


def test_condition_abatement_period_and_entered_in_error_verification(terminology):
    condition = {
        **load("Condition.depression-problem"),
        "clinicalStatus": None,
        "abatementPeriod": {"start": "2024-05-01"},
        "verificationStatus": {"text": "entered-in-error"},
    }
    del condition["abatementString"]
    (record,) = build_chart([condition], terminology=terminology).conditions
    assert record.abatement == date(2024, 5, 1)
    assert record.verification_status == "entered-in-error"
    assert record.is_active is False


def test_uds_observation_keeps_the_local_day_value_and_interpretation(full_chart):
    uds = by_ref(full_chart.observations, "Observation/uds-oxy-1")
    assert uds.effective == date(2026, 3, 1)  # 23:30 at -08:00 is still March 1st
    assert uds.categories == ("laboratory",)
    assert uds.codes == (Code(LOINC, "16250-3", "Oxycodone [Presence] in Urine"),)
    assert uds.value_codes == (Code(SNOMED, "10828004", "Positive"),)
    assert [c.code for c in uds.interpretation] == ["POS"]
    assert uds.notes == ()


def test_peg_total_is_dated_by_issued_and_lists_its_members(full_chart):
    peg = by_ref(full_chart.observations, "Observation/peg-total-1")
    assert peg.value_quantity == Quantity(6.0)
    assert peg.effective == date(2026, 8, 15)
    assert peg.has_member == ("Observation/peg-1", "Observation/peg-2")
    assert peg.notes == ("no effective date; dated by issued",)


def test_observation_components_are_read(full_chart):
    bp = by_ref(full_chart.observations, "Observation/bp-1")
    assert bp.effective == date(2026, 9, 1)  # effectivePeriod.start
    systolic, diastolic, cuff = bp.components
    assert systolic.value_quantity == Quantity(128, unit="mmHg", code="mm[Hg]", system=UCUM)
    assert [c.code for c in systolic.interpretation] == ["N"]
    assert diastolic.value_quantity is not None and diastolic.value_quantity.value == 82
    assert cuff.value_string == "large adult"


@pytest.mark.parametrize(
    ("value", "field", "expected", "notes"),
    [
        pytest.param({"valueBoolean": True}, "value_boolean", True, (), id="boolean"),
        pytest.param({"valueString": " neg "}, "value_string", "neg", (), id="string"),
        pytest.param({"valueInteger": 3}, "value_quantity", Quantity(3.0), (), id="integer"),
        pytest.param(
            {"valueRange": {"low": {"value": 1}}},
            "value_quantity",
            None,
            ("valueRange not read",),
            id="range-not-read",
        ),
    ],
)
def test_observation_value_types(terminology, value, field, expected, notes):
    resource = {
        "resourceType": "Observation",
        "id": "o",
        "status": "final",
        "effectiveDateTime": "2026-01-01",
        **value,
    }
    (record,) = build_chart([resource], terminology=terminology).observations
    assert getattr(record, field) == expected
    assert record.notes == notes


def test_observation_without_any_date_is_noted(terminology):
    (record,) = build_chart(
        [{"resourceType": "Observation", "id": "o", "status": "final"}], terminology=terminology
    ).observations
    assert record.effective is None
    assert record.notes == ("no effective date",)


def test_phq9_response_is_flattened_with_ordinals_from_either_extension(full_chart):
    (response,) = full_chart.questionnaire_responses
    assert response.questionnaire == "http://loinc.org/q/44249-1"
    assert (response.status, response.authored) == ("completed", date(2026, 8, 15))
    answers = {a.link_id: a for a in response.answers}
    items = [
        a for a in response.answers if a.link_id.startswith("/4425") or a.link_id == "/44260-8"
    ]
    assert len(items) == 9
    assert sum(a.value for a in items) == 10  # 1+2+1+3+0+1+2+0+0
    assert answers["/44259-0"].value == 1  # ordinalValue on the answer itself
    assert answers["/44250-9"].value_code == Code(LOINC, "LA6569-3", "Several days")
    assert answers["/44261-6"].value == 10  # total score, valueInteger
    assert answers["/44261-6"].codes[0].code == "44261-6"
    assert answers["/69722-7"].value is None  # coded answer without an ordinal
    assert answers["comment"].value_string == "sleep improving"  # nested under an answer
    assert "unanswered" not in answers
    assert response.notes == ()


def test_procedure_dated_by_performed_period_start(full_chart):
    (procedure,) = full_chart.procedures
    assert procedure.codes[0].code == "461621000124108"
    assert procedure.performed == date(2026, 9, 30)
    assert procedure.status == "completed"


def test_procedure_without_performed_date_is_noted(terminology):
    resource = {**load("Procedure.pdmp-review")}
    del resource["performedPeriod"]
    (record,) = build_chart([resource], terminology=terminology).procedures
    assert record.notes == ("no performed date",)


def test_treatment_agreement_document_reads_period_author_and_plain_text(full_chart):
    (document,) = full_chart.documents
    assert document.type_codes[0].code == "94136-9"
    assert document.category_codes[0].code == "clinical-note"
    assert (document.status, document.doc_status) == ("current", "final")
    assert document.date == date(2026, 1, 10)
    assert document.period_end == date(2027, 1, 10)
    assert document.author == "Alex Rivera"  # from the Practitioner resource
    assert document.content_type == "text/plain; charset=utf-8"
    assert document.content_text == "Opioid treatment agreement.\nSigned by patient and PCP.\n"
    assert document.content_url == "Binary/agree-1-pdf"


def _document_with(data: str, content_type: str = "text/plain") -> dict:
    return {
        "resourceType": "DocumentReference",
        "id": "d",
        "status": "current",
        "content": [{"attachment": {"contentType": content_type, "data": data}}],
    }


@pytest.mark.parametrize(
    ("data", "content_type", "text", "notes"),
    [
        pytest.param(
            base64.b64encode(b"x" * (MAX_TEXT_BYTES + 3)).decode(),
            "text/plain",
            None,
            ("text attachment larger than 64 KiB not read",),
            id="too-large",
        ),
        pytest.param(
            "@@@",
            "text/plain",
            None,
            ("text attachment is not valid base64; not read",),
            id="bad-base64",
        ),
        pytest.param(
            base64.b64encode("caf\xe9".encode("latin-1")).decode(),
            "text/plain; charset=ISO-8859-1",
            "caf\xe9",
            (),
            id="latin-1",
        ),
        pytest.param(
            base64.b64encode(b"ok").decode(),
            "text/plain; charset=x-unknown",
            "ok",
            ("text attachment charset x-unknown unknown; read as UTF-8",),
            id="unknown-charset",
        ),
        pytest.param(
            base64.b64encode(b"%PDF").decode(), "application/pdf", None, (), id="pdf-not-decoded"
        ),
    ],
)
def test_document_attachment_decoding(terminology, data, content_type, text, notes):
    (record,) = build_chart([_document_with(data, content_type)], terminology=terminology).documents
    assert record.content_text == text
    assert record.notes == notes


def test_encounter_reads_class_type_period_participant_and_disposition(full_chart):
    (encounter,) = full_chart.encounters
    assert (encounter.status, encounter.class_code) == ("finished", "AMB")
    assert encounter.type_codes[0].code == "99214"
    assert encounter.reason_codes[0].code == "82423001"
    assert (encounter.start, encounter.end) == (date(2026, 9, 30), date(2026, 9, 30))
    assert encounter.participant == "Alex Rivera"
    assert encounter.discharge_disposition[0].code == "home"
    assert encounter.text == "Office visit, established"


def test_encounter_with_r5_style_class_and_no_period(terminology):
    resource = {
        "resourceType": "Encounter",
        "id": "e",
        "class": [{"coding": [{"code": "VR"}]}],
        "participant": [{"individual": {"display": "Nurse Kim"}}],
    }
    (record,) = build_chart([resource], terminology=terminology).encounters
    assert (record.class_code, record.participant) == ("VR", "Nurse Kim")
    assert record.notes == ("no period",)


def test_service_request_and_episodes(full_chart):
    (request,) = full_chart.service_requests
    assert (request.status, request.intent, request.authored_on) == (
        "active",
        "order",
        date(2026, 9, 30),
    )
    assert request.category_codes[0].code == "3457005"
    assert request.text == "Behavioral health referral"
    care_plan, episode = full_chart.episodes
    assert (care_plan.text, care_plan.start, care_plan.end) == (
        "PPACT care plan",
        date(2026, 4, 1),
        None,
    )
    assert care_plan.type_codes[0].code == "ppact"
    assert (episode.text, episode.status) == ("PPACT pain program", "finished")
    assert (episode.start, episode.end) == (date(2026, 4, 1), date(2026, 7, 29))


# --------------------------------------------------------------------------- messy input


def test_unreadable_items_and_unread_types_become_problems_but_helpers_do_not(terminology):
    administration = {"resourceType": "MedicationAdministration", "status": "completed"}
    chart = build_chart(
        [
            "text",
            {"id": "no-type"},
            {**administration, "id": "a1"},
            {**administration, "id": "a2"},
            {"resourceType": "Consent", "id": "c1"},
            load("Practitioner.prescriber"),
            load("Organization.pharmacy"),
            {"resourceType": "Provenance", "id": "pv"},
        ],
        terminology=terminology,
    )
    assert chart.problems == (
        "item 0 is not a JSON object (str); not read",
        "item 1 has no resourceType; not read",
        "1 Consent resource was not read",
        "2 MedicationAdministration resources were not read",
    )


def test_resource_without_id_is_kept_with_a_made_up_ref_and_a_note(terminology):
    resource = {**load("MedicationRequest.text-only-sig")}
    del resource["id"]
    (record,) = build_chart([resource], terminology=terminology).medications
    assert record.ref == "MedicationRequest/no-id-0"
    assert record.notes[0] == "resource has no id"
    assert record.classification.is_opioid


def test_differing_duplicates_keep_the_latest_copy(terminology):
    older = {
        **load("Observation.uds-oxycodone-positive"),
        "meta": {"lastUpdated": "2026-03-02T10:00:00Z"},
    }
    newer = {**older, "status": "amended", "meta": {"lastUpdated": "2026-03-05T10:00:00Z"}}
    (record,) = build_chart([older, newer, older], terminology=terminology).observations
    assert record.status == "amended"
    assert record.notes == (
        "appeared 3 times in the input and the copies differ; kept the latest by "
        "meta.lastUpdated (else the first)",
    )


def test_nested_bundles_are_flattened(terminology):
    inner = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": load("Procedure.pdmp-review")}],
    }
    outer = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": inner}]}
    chart = build_chart([outer, load("Patient.mrn")], terminology=terminology)
    assert [p.ref for p in chart.procedures] == ["Procedure/pdmp-1"]


def test_default_terminology_is_loaded_when_none_is_given():
    chart = build_chart([load("MedicationRequest.entered-in-error")])
    assert chart.medications[0].classification.classes == {DrugClass.BENZODIAZEPINE}


def test_a_400_medication_chart_is_read_quickly(terminology):
    names = [
        "MedicationRequest.oxycodone-er-q12h",
        "MedicationRequest.oxycodone-ir-range-prn",
        "MedicationDispense.oxycodone-er",
        "MedicationRequest.text-only-sig",
        "MedicationStatement.gabapentin-reported",
    ]
    templates = [load(name) for name in names]
    resources = [load("Medication.oxycodone-er-20")]
    resources += [{**t, "id": f"{t['id']}-{i}"} for i in range(80) for t in templates]
    build_chart(resources, terminology=terminology)  # warm up
    started = time.perf_counter()
    chart = build_chart(resources, terminology=terminology)
    elapsed_s = time.perf_counter() - started
    assert len(chart.medications) == 400
    assert elapsed_s < 0.25, f"{elapsed_s * 1000:.1f} ms for 400 medications"


# --------------------------------------------------------------------------- never raises

_JSON_LEAVES = (
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats() | st.text(max_size=12)
)
_JSON = st.recursive(
    _JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_FIXTURE_RESOURCES = [json.loads(p.read_text()) for p in sorted((FIXTURES / "fhir").glob("*.json"))]


def _mutate(resource: object, path: list[int], value: object) -> object:
    """A copy of `resource` with the node reached by `path` (indices into keys/items) replaced."""
    if not path or not isinstance(resource, dict | list) or not resource:
        return value
    if isinstance(resource, dict):
        keys = sorted(resource)
        key = keys[path[0] % len(keys)]
        return {**resource, key: _mutate(resource[key], path[1:], value)}
    index = path[0] % len(resource)
    return [*resource[:index], _mutate(resource[index], path[1:], value), *resource[index + 1 :]]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(range(len(_FIXTURE_RESOURCES))),
    st.lists(st.integers(0, 50), min_size=1, max_size=6),
    _JSON,
)
def test_messy_values_anywhere_in_a_resource_never_raise(fixture_index, path, value):
    resource = _mutate(_FIXTURE_RESOURCES[fixture_index], path, value)
    snapshot = copy.deepcopy(resource)
    try:
        chart = build_chart([resource, load("Medication.oxycodone-er-20")])
    except ChartInputError:
        return  # a mutated reference may name a second patient: refused, as designed
    assert chart.problems is not None
    assert resource == snapshot  # the input is never changed


def test_observation_reference_range_high_is_kept_as_the_cutoff():
    chart = build_chart(
        [
            {
                "resourceType": "Observation",
                "id": "uds-oxy",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "16250-3"}]},
                "effectiveDateTime": "2026-10-01",
                "valueQuantity": {"value": 250, "unit": "ng/mL"},
                "referenceRange": [{"high": {"value": 100, "unit": "ng/mL"}}],
                "component": [
                    {
                        "code": {"text": "oxymorphone"},
                        "valueQuantity": {"value": 20, "unit": "ng/mL"},
                        "referenceRange": [{"high": {"value": 50, "unit": "ng/mL"}}],
                    }
                ],
            }
        ]
    )
    (obs,) = chart.observations
    assert obs.reference_high is not None and obs.reference_high.value == 100
    assert obs.components[0].reference_high is not None
    assert obs.components[0].reference_high.value == 50
