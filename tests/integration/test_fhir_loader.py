"""The FHIR client and loader against a real FHIR R4 server (SEKMET) on 127.0.0.1.

A small hand-made chart is written with one transaction Bundle of PUTs; then the loader reads
it back with every section complete, and the server features the loader relies on (paging,
`_include`, status / intent / category / date filters, batch reads) are checked one by one.
"""

from __future__ import annotations

from datetime import date

import pytest

from app.fhir.client import FhirClient
from app.fhir.errors import NotAuthorized, NotFound
from app.fhir.load import MEDICATION_REFERENCE_SECTION, load_patient_record

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

AS_OF = date(2026, 11, 1)  # lookback 730 days: from 2024-11-01
PATIENT = "ppact-int-1"
OTHER = "ppact-int-2"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"


def subject(patient=PATIENT):
    return {"reference": f"Patient/{patient}"}


def coded(system, code, display=None):
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def request(rid, *, status, authored, medication, patient=PATIENT, intent="order"):
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": intent,
        "subject": subject(patient),
        "authoredOn": authored,
        **medication,
        "dosageInstruction": [{"text": "1 tablet every 12 hours"}],
        "dispenseRequest": {
            "quantity": {"value": 60, "unit": "tablet"},
            "expectedSupplyDuration": {"value": 30, "unit": "days"},
        },
    }


def chart():
    oxy_er = {"medicationReference": {"reference": "Medication/oxy-er-15"}}
    return [
        {"resourceType": "Patient", "id": PATIENT, "birthDate": "1961-04-02", "gender": "female"},
        {"resourceType": "Patient", "id": OTHER, "birthDate": "1970-01-01"},
        {
            "resourceType": "Medication",
            "id": "oxy-er-15",
            "code": coded(RXNORM, "1049621", "oxycodone HCl 15 MG 12HR ER Oral Tablet"),
        },
        {
            "resourceType": "Medication",
            "id": "morphine-er-15",
            "code": coded(RXNORM, "891881", "morphine sulfate 15 MG ER Oral Tablet"),
        },
        request("mr-oxy-1", status="completed", authored="2026-08-01", medication=oxy_er),
        request("mr-oxy-2", status="active", authored="2026-09-01", medication=oxy_er),
        request(
            "mr-hydrocodone",
            status="stopped",
            authored="2026-03-15",
            medication={
                "medicationCodeableConcept": coded(
                    RXNORM, "856999", "hydrocodone 10 MG / APAP 325 MG Oral Tablet"
                )
            },
        ),
        {
            **request(
                "mr-contained",
                status="completed",
                authored="2026-06-01",
                medication={"medicationReference": {"reference": "#alp"}},
            ),
            "contained": [
                {"resourceType": "Medication", "id": "alp", "code": coded(RXNORM, "308048")}
            ],
        },
        # active order written before the lookback window: found by the undated active search
        request(
            "mr-old-active",
            status="active",
            authored="2023-05-01",
            medication={"medicationCodeableConcept": coded(RXNORM, "197696")},
        ),
        # completed before the lookback window: outside both MedicationRequest searches
        request(
            "mr-old-completed",
            status="completed",
            authored="2023-05-01",
            medication={"medicationCodeableConcept": coded(RXNORM, "197696")},
        ),
        request(
            "mr-proposal",
            status="draft",
            authored="2026-10-20",
            medication=oxy_er,
            intent="proposal",
        ),
        request(
            "mr-other", status="active", authored="2026-09-01", medication=oxy_er, patient=OTHER
        ),
        {
            "resourceType": "MedicationDispense",
            "id": "md-morphine",
            "status": "completed",
            "subject": subject(),
            "medicationReference": {"reference": "Medication/morphine-er-15"},
            "quantity": {"value": 60},
            "daysSupply": {"value": 30, "unit": "days"},
            "whenHandedOver": "2026-09-02",
        },
        {
            "resourceType": "MedicationDispense",
            "id": "md-old",
            "status": "completed",
            "subject": subject(),
            "medicationCodeableConcept": coded(RXNORM, "197696"),
            "whenHandedOver": "2022-01-05",
        },
        {
            "resourceType": "Condition",
            "id": "cond-back-pain",
            "subject": subject(),
            "category": [coded(CONDITION_CATEGORY, "problem-list-item")],
            "code": coded(SNOMED, "279039007", "Low back pain"),
            "clinicalStatus": coded(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active"
            ),
        },
        {
            "resourceType": "Condition",
            "id": "cond-depression",
            "subject": subject(),
            "category": [coded(CONDITION_CATEGORY, "encounter-diagnosis")],
            "code": coded("http://hl7.org/fhir/sid/icd-10-cm", "F32.9"),
        },
        {
            "resourceType": "Observation",
            "id": "obs-peg",
            "status": "final",
            "subject": subject(),
            "category": [coded(OBS_CATEGORY, "survey")],
            "code": coded(LOINC, "91148-7"),
            "effectiveDateTime": "2026-09-01",
            "valueQuantity": {"value": 6.3},
        },
        {
            "resourceType": "Observation",
            "id": "obs-uds",
            "status": "final",
            "subject": subject(),
            "category": [coded(OBS_CATEGORY, "laboratory")],
            "code": coded(LOINC, "19295-5", "Opiates [Presence] in Urine by Screen method"),
            "effectiveDateTime": "2026-07-10",
            "valueCodeableConcept": coded(SNOMED, "10828004", "Positive"),
        },
        {
            "resourceType": "Observation",
            "id": "obs-uds-old",
            "status": "final",
            "subject": subject(),
            "category": [coded(OBS_CATEGORY, "laboratory")],
            "code": coded(LOINC, "19295-5"),
            "effectiveDateTime": "2021-07-10",
        },
        {
            "resourceType": "Observation",
            "id": "obs-pdmp",
            "status": "final",
            "subject": subject(),
            "category": [coded(OBS_CATEGORY, "exam")],
            "code": coded(SNOMED, "461651000124104", "PDMP data reviewed"),
            "effectiveDateTime": "2026-09-01",
        },
        {
            "resourceType": "Procedure",
            "id": "proc-pdmp",
            "status": "completed",
            "subject": subject(),
            "code": coded(SNOMED, "461621000124108"),
            "performedDateTime": "2026-09-01",
        },
        {
            "resourceType": "DocumentReference",
            "id": "doc-agreement",
            "status": "current",
            "subject": subject(),
            "type": coded(LOINC, "94136-9"),
            "date": "2022-03-01T10:00:00Z",  # older than the lookback: still found
            "content": [{"attachment": {"contentType": "text/plain", "data": "YWdyZWVk"}}],
        },
        {
            "resourceType": "Encounter",
            "id": "enc-1",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": subject(),
            "period": {"start": "2026-09-01T09:00:00Z", "end": "2026-09-01T09:30:00Z"},
        },
        {
            "resourceType": "QuestionnaireResponse",
            "id": "qr-mine",
            "status": "completed",
            "subject": subject(),
            "authored": "2026-09-01",
        },
        {
            "resourceType": "QuestionnaireResponse",
            "id": "qr-other",
            "status": "completed",
            "subject": subject(OTHER),
            "authored": "2026-09-01",
        },
        # fails fhir.resources validation (status is not a code): stored and loaded as is
        {
            "resourceType": "Observation",
            "id": "obs-odd",
            "status": 7,
            "subject": subject(),
            "category": [coded(OBS_CATEGORY, "survey")],
            "code": coded(LOINC, "44261-6"),
            "effectiveDateTime": "2026-09-02",
        },
    ]


EXPECTED = {
    ("Patient", PATIENT),
    ("MedicationRequest", "mr-oxy-1"),
    ("MedicationRequest", "mr-oxy-2"),
    ("MedicationRequest", "mr-hydrocodone"),
    ("MedicationRequest", "mr-contained"),
    ("MedicationRequest", "mr-old-active"),
    ("MedicationRequest", "mr-proposal"),
    ("Medication", "oxy-er-15"),
    ("MedicationDispense", "md-morphine"),
    ("Medication", "morphine-er-15"),
    ("Condition", "cond-back-pain"),
    ("Condition", "cond-depression"),
    ("Observation", "obs-peg"),
    ("Observation", "obs-uds"),
    ("Observation", "obs-pdmp"),
    ("Observation", "obs-odd"),
    ("Procedure", "proc-pdmp"),
    ("DocumentReference", "doc-agreement"),
    ("Encounter", "enc-1"),
    ("QuestionnaireResponse", "qr-mine"),
}


@pytest.fixture(scope="module")
def loaded_server(fhir_server):
    reply = fhir_server.transaction(chart())
    assert reply["type"] == "transaction-response"
    assert {e["response"]["status"][:3] for e in reply["entry"]} <= {"200", "201"}
    return fhir_server


def client_for(server, token=None):
    async def access_token():
        return token or server.token

    return FhirClient(server.base_url, access_token=access_token, timeout_seconds=10)


async def test_load_patient_record_returns_the_chart_with_sections_complete(loaded_server):
    async with client_for(loaded_server) as client:
        record = await load_patient_record(client, PATIENT, as_of=AS_OF)
    keys = [(r["resourceType"], r["id"]) for r in record.resources]
    assert set(keys) == EXPECTED
    assert len(keys) == len(set(keys))
    assert {k: s.state for k, s in record.sections.items() if s.state != "complete"} == {}
    assert record.sections[MEDICATION_REFERENCE_SECTION].count == 1  # morphine, by batch read
    # SEKMET has no QuestionnaireResponse search parameters: it answers with every patient's
    # QuestionnaireResponses, and the loader keeps only this patient's.
    qr = record.sections["questionnaire-response"]
    assert qr.count == 1
    assert "ignored search parameters: patient" in qr.reason
    [odd] = [r for r in record.resources if r["id"] == "obs-odd"]
    assert odd["status"] == 7


async def test_search_follows_the_servers_paging_links(loaded_server):
    params = [("patient", PATIENT), ("_count", "2")]
    async with client_for(loaded_server) as client:
        result = await client.search_detailed("MedicationRequest", params)
    assert result.pages == 4  # 7 MedicationRequests, 2 per page
    assert result.truncated is None
    assert len({r["id"] for r in result.matches}) == 7


async def test_include_brings_the_referenced_medication_once(loaded_server):
    params = [("patient", PATIENT), ("_include", "MedicationRequest:medication"), ("_count", "2")]
    async with client_for(loaded_server) as client:
        result = await client.search_detailed("MedicationRequest", params)
    assert [r["id"] for r in result.included] == ["oxy-er-15"]
    assert all(r["resourceType"] == "MedicationRequest" for r in result.matches)


@pytest.mark.parametrize(
    ("resource_type", "params", "expected"),
    [
        pytest.param(
            "MedicationRequest",
            [("status", "active,on-hold")],
            {"mr-oxy-2", "mr-old-active"},
            id="status",
        ),
        pytest.param(
            "MedicationRequest",
            [("intent", "order,plan"), ("authoredon", "ge2026-08-01")],
            {"mr-oxy-1", "mr-oxy-2"},
            id="intent-and-authoredon",
        ),
        pytest.param(
            "MedicationDispense",
            [("whenhandedover", "ge2024-11-01")],
            {"md-morphine"},
            id="dispense",
        ),
        pytest.param(
            "Observation",
            [("category", f"{OBS_CATEGORY}|laboratory"), ("date", "ge2024-11-01")],
            {"obs-uds"},
            id="category-and-date",
        ),
        pytest.param(
            "Condition", [("category", "encounter-diagnosis")], {"cond-depression"}, id="category"
        ),
        pytest.param(
            "DocumentReference", [("type", f"{LOINC}|94136-9")], {"doc-agreement"}, id="type"
        ),
    ],
)
async def test_server_applies_the_filters_the_loader_sends(
    loaded_server, resource_type, params, expected
):
    async with client_for(loaded_server) as client:
        result = await client.search_detailed(resource_type, [("patient", PATIENT), *params])
    assert {r["id"] for r in result.matches} == expected
    assert result.ignored_params == ()


async def test_batch_read_finds_what_exists_and_reports_what_does_not(loaded_server):
    async with client_for(loaded_server) as client:
        result = await client.batch_read(["Medication/oxy-er-15", "Medication/nope"])
    assert list(result.found) == ["Medication/oxy-er-15"]
    assert result.failed["Medication/nope"].startswith("HTTP 404")


async def test_read_of_a_missing_resource_raises_not_found(loaded_server):
    async with client_for(loaded_server) as client:
        with pytest.raises(NotFound):
            await client.read("Patient", "nobody-here")


async def test_wrong_token_raises_not_authorized(loaded_server):
    async with client_for(loaded_server, token="wrong") as client:
        with pytest.raises(NotAuthorized):
            await client.read("Patient", PATIENT)
