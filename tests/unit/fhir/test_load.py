"""Loading a patient record: sections in parallel, failures kept apart, Medications resolved."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import unquote

import httpx
import pytest

from app.fhir.client import FhirClient, RetryPolicy, SearchLimits
from app.fhir.errors import NotAuthorized
from app.fhir.load import MEDICATION_REFERENCE_SECTION, load_patient_record
from app.fhir.queries import patient_queries
from tests.unit.fhir.conftest import BASE

pytestmark = pytest.mark.anyio

PATIENT = "p1"
SUBJECT = {"reference": f"Patient/{PATIENT}"}
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def category(code):
    return [{"coding": [{"code": code}]}]


def chart_resources():
    """A small chart: every medicationReference form, a Condition in two categories, one
    Observation that a validating model would reject."""
    return [
        {"resourceType": "Patient", "id": PATIENT},
        {"resourceType": "Medication", "id": "med-inc", "code": {"text": "oxycodone 10 mg"}},
        {"resourceType": "Medication", "id": "med-disp", "code": {"text": "morphine ER 15 mg"}},
        {"resourceType": "Medication", "id": "med-abs", "code": {"text": "alprazolam 1 mg"}},
        {
            "resourceType": "MedicationRequest",
            "id": "mr-included",
            "status": "completed",
            "intent": "order",
            "subject": SUBJECT,
            "medicationReference": {"reference": "Medication/med-inc"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "mr-contained",
            "status": "completed",
            "intent": "order",
            "subject": SUBJECT,
            "contained": [{"resourceType": "Medication", "id": "m", "code": {"text": "x"}}],
            "medicationReference": {"reference": "#m"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "mr-active",
            "status": "active",
            "intent": "order",
            "subject": SUBJECT,
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1049621"}]},
        },
        {
            "resourceType": "MedicationDispense",
            "id": "md-1",
            "status": "completed",
            "subject": SUBJECT,
            "medicationReference": {"reference": "Medication/med-disp"},
        },
        {
            "resourceType": "MedicationStatement",
            "id": "ms-1",
            "status": "active",
            "subject": SUBJECT,
            "medicationReference": {"reference": f"{BASE}/Medication/med-abs"},
        },
        {
            "resourceType": "Condition",
            "id": "c-both",
            "subject": SUBJECT,
            "category": [*category("problem-list-item"), *category("encounter-diagnosis")],
        },
        {
            "resourceType": "Observation",
            "id": "o-survey",
            "status": "final",
            "subject": SUBJECT,
            "category": category("survey"),
        },
        {
            "resourceType": "Observation",
            "id": "o-invalid",
            "status": 42,  # not a code: a validating model would reject it; we keep it
            "subject": SUBJECT,
            "category": category("laboratory"),
        },
    ]


class FakeFhir:
    """A tiny FHIR server behind httpx.MockTransport: patient searches with category / type /
    status filters, `_include=MedicationRequest:medication`, reads and batch reads.

    `overrides` maps "Type" or "Type:filter-code" to a status code or an exception; every
    request is recorded, and the most requests in flight at once are counted.
    """

    def __init__(self, resources):
        self.resources = resources
        self.overrides = {}
        self.requests = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.batch = "ok"
        self.ignore_patient_on = set()
        self.next_link_on = set()

    def transport(self):
        return httpx.MockTransport(self.handle)

    async def handle(self, request):
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.002)
            return self._answer(request)
        finally:
            self.in_flight -= 1

    def _answer(self, request):
        parts = request.url.path.removeprefix("/fhir/R4").strip("/").split("/")
        if request.method == "POST":
            return self._batch(json.loads(request.content))
        if len(parts) == 2:
            return self._read(*parts)
        rtype = parts[0]
        params = request.url.params
        filter_code = self._filter_code(params)
        for key in (f"{rtype}:{filter_code}", rtype):
            if key in self.overrides:
                override = self.overrides[key]
                if isinstance(override, Exception):
                    raise override
                if callable(override):
                    return override(request)
                return httpx.Response(override, json=_oo(f"{key} refused"))
        return self._search(rtype, params, filter_code)

    @staticmethod
    def _filter_code(params):
        for name in ("category", "type", "code"):
            if name in params:
                return params[name].split("|")[-1]
        return None

    def _search(self, rtype, params, filter_code):
        ignore_patient = rtype in self.ignore_patient_on
        matches = []
        for r in self.resources:
            if r["resourceType"] != rtype:
                continue
            if not ignore_patient and r.get("subject") != {
                "reference": f"Patient/{params['patient']}"
            }:
                continue
            if "category" in params:
                codes = [c["code"] for cc in r.get("category", []) for c in cc["coding"]]
                if filter_code not in codes:
                    continue
            if any(n in params and not _coded(r, n, filter_code) for n in ("code", "type")):
                continue
            if "status" in params and r.get("status") not in params["status"].split(","):
                continue
            matches.append(r)
        entries = [{"resource": r, "search": {"mode": "match"}} for r in matches]
        if params.get("_include") == "MedicationRequest:medication":
            refs = {
                r["medicationReference"]["reference"] for r in matches if "medicationReference" in r
            }
            entries += [
                {"resource": r, "search": {"mode": "include"}}
                for r in self.resources
                if f"{r['resourceType']}/{r['id']}" in refs
            ]
        applied = [
            (k, v) for k, v in params.multi_items() if not (ignore_patient and k == "patient")
        ]
        links = [{"relation": "self", "url": str(httpx.URL(f"{BASE}/{rtype}", params=applied))}]
        if rtype in self.next_link_on:
            links.append({"relation": "next", "url": f"{BASE}/{rtype}?page=2"})
        return httpx.Response(
            200,
            json={"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries},
        )

    def _find(self, rtype, rid):
        for r in self.resources:
            if r["resourceType"] == rtype and r["id"] == rid:
                return r
        return None

    def _read(self, rtype, rid):
        if rtype in self.overrides and isinstance(self.overrides[rtype], int):
            return httpx.Response(self.overrides[rtype], json=_oo("refused"))
        found = self._find(rtype, unquote(rid))
        if found is None:
            return httpx.Response(404, json=_oo(f"{rtype}/{rid} not found"))
        return httpx.Response(200, json=found)

    def _batch(self, bundle):
        if self.batch != "ok":
            return httpx.Response(self.batch, json=_oo("batch not supported"))
        entries = []
        for entry in bundle["entry"]:
            found = self._find(*entry["request"]["url"].split("/"))
            if found is None:
                entries.append({"response": {"status": "404 Not Found", "outcome": _oo("gone")}})
            else:
                entries.append({"resource": found, "response": {"status": "200 OK"}})
        return httpx.Response(
            200, json={"resourceType": "Bundle", "type": "batch-response", "entry": entries}
        )

    def batch_posts(self):
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]

    def single_reads(self, rtype):
        return [
            r.url.path for r in self.requests if r.method == "GET" and f"/{rtype}/" in r.url.path
        ]


def _coded(resource, element, code):
    return code in [c.get("code") for c in resource.get(element, {}).get("coding", [])]


def _oo(text):
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "diagnostics": text}],
    }


@pytest.fixture
def fake():
    return FakeFhir(chart_resources())


def client_for(fake, **kwargs):
    kwargs.setdefault("retry", RetryPolicy(max_retries=1, backoff_base_seconds=0.0))
    return FhirClient(BASE, transport=fake.transport(), **kwargs)


async def load(fake, as_of, **kwargs):
    client_kwargs = {k: kwargs.pop(k) for k in ("retry", "limits", "access_token") if k in kwargs}
    async with client_for(fake, **client_kwargs) as client:
        return await load_patient_record(client, PATIENT, as_of=as_of, **kwargs)


def keys(record):
    return [(r["resourceType"], r["id"]) for r in record.resources]


async def test_load_returns_every_section_complete_and_each_resource_once(fake, as_of):
    record = await load(fake, as_of)
    assert record.complete, record.sections
    assert set(record.sections) == {q.id for q in patient_queries(PATIENT, as_of=as_of)} | {
        MEDICATION_REFERENCE_SECTION
    }
    assert sorted(keys(record)) == sorted(
        [
            ("Patient", PATIENT),
            ("MedicationRequest", "mr-included"),
            ("MedicationRequest", "mr-contained"),
            ("MedicationRequest", "mr-active"),
            ("Medication", "med-inc"),
            ("MedicationDispense", "md-1"),
            ("MedicationStatement", "ms-1"),
            ("Condition", "c-both"),
            ("Observation", "o-survey"),
            ("Observation", "o-invalid"),
            ("Medication", "med-disp"),
            ("Medication", "med-abs"),
        ]
    )
    assert len(keys(record)) == len(set(keys(record)))
    assert record.sections["condition-problem-list"].count == 1
    assert record.sections["condition-encounter-diagnosis"].count == 1
    assert record.sections["medication-request"].count == 4  # 3 requests + 1 included Medication


async def test_resource_failing_validation_is_kept_as_given(fake, as_of):
    record = await load(fake, as_of)
    [invalid] = [r for r in record.resources if r.get("id") == "o-invalid"]
    assert invalid["status"] == 42


async def test_only_medications_neither_contained_nor_included_are_read_in_one_batch(fake, as_of):
    record = await load(fake, as_of)
    [batch] = fake.batch_posts()
    assert batch["type"] == "batch"
    assert sorted(e["request"]["url"] for e in batch["entry"]) == [
        "Medication/med-abs",  # absolute reference on our server, read as relative
        "Medication/med-disp",
    ]
    assert fake.single_reads("Medication") == []
    assert record.sections[MEDICATION_REFERENCE_SECTION].state == "complete"
    assert record.sections[MEDICATION_REFERENCE_SECTION].count == 2


async def test_refused_batch_falls_back_to_single_reads(fake, as_of):
    fake.batch = 405
    record = await load(fake, as_of)
    assert sorted(fake.single_reads("Medication")) == [
        "/fhir/R4/Medication/med-abs",
        "/fhir/R4/Medication/med-disp",
    ]
    status = record.sections[MEDICATION_REFERENCE_SECTION]
    assert status.state == "complete"
    assert status.count == 2
    assert "batch read refused" in status.reason
    assert ("Medication", "med-disp") in keys(record)


async def test_unreadable_medication_reference_is_reported_not_dropped_silently(fake, as_of):
    fake.resources = [r for r in fake.resources if r["id"] != "med-disp"]
    record = await load(fake, as_of)
    status = record.sections[MEDICATION_REFERENCE_SECTION]
    assert status.state == "partial"
    assert "Medication/med-disp (HTTP 404: gone)" in status.reason
    assert ("MedicationDispense", "md-1") in keys(record)


async def test_medication_reference_on_another_server_makes_the_section_partial(fake, as_of):
    fake.resources[8]["medicationReference"] = {"reference": "https://other.org/fhir/Medication/x"}
    record = await load(fake, as_of)
    status = record.sections[MEDICATION_REFERENCE_SECTION]
    assert status.state == "partial"
    assert "another server" in status.reason
    assert [e["request"]["url"] for e in fake.batch_posts()[0]["entry"]] == ["Medication/med-disp"]


@pytest.mark.parametrize(
    ("override", "state", "reason_part"),
    [
        pytest.param(503, "failed", "HTTP 503", id="503-after-retries"),
        pytest.param(500, "failed", "HTTP 500", id="500"),
        pytest.param(403, "not-permitted", "HTTP 403", id="403"),
        pytest.param(httpx.ReadTimeout("slow"), "failed", "No answer in time", id="timeout"),
        pytest.param(httpx.ConnectError("refused"), "failed", "unreachable", id="connection"),
    ],
)
async def test_a_failing_section_does_not_fail_the_load(fake, as_of, override, state, reason_part):
    fake.overrides["Observation:survey"] = override
    record = await load(fake, as_of)
    survey = record.sections["observation-survey"]
    assert survey.state == state
    assert reason_part in survey.reason
    assert survey.count == 0
    assert record.incomplete_sections == ("observation-survey",)
    assert ("Observation", "o-invalid") in keys(record)
    assert ("Observation", "o-survey") not in keys(record)


async def test_failing_medication_search_shows_as_failed_not_as_no_medications(fake, as_of):
    fake.overrides["MedicationRequest"] = 503
    record = await load(fake, as_of)
    assert record.sections["medication-request"].state == "failed"
    assert record.sections["medication-request-active"].state == "failed"
    assert not record.complete
    assert ("MedicationDispense", "md-1") in keys(record)


async def test_refused_intent_list_is_retried_with_us_core_intents(fake, as_of):
    def refuse_long_intent_list(request):
        if "proposal" in request.url.params.get("intent", ""):
            return httpx.Response(400, json=_oo("intent proposal not supported"))
        return fake._search("MedicationRequest", request.url.params, None)

    fake.overrides["MedicationRequest"] = refuse_long_intent_list
    record = await load(fake, as_of)
    status = record.sections["medication-request"]
    assert status.state == "partial"
    assert "intent proposal not supported" in status.reason
    assert "intent=order,plan" in status.reason
    assert ("MedicationRequest", "mr-included") in keys(record)


async def test_patient_not_found_is_a_failed_section_not_an_exception(fake, as_of):
    fake.overrides["Patient"] = 404
    record = await load(fake, as_of)
    assert record.sections["patient"].state == "failed"
    assert record.sections["medication-request"].state == "complete"


async def test_token_refused_everywhere_raises_not_authorized(fake, as_of):
    fake.overrides = {t: 401 for t in {q.resource_type for q in patient_queries("p", as_of=as_of)}}
    with pytest.raises(NotAuthorized):
        await load(fake, as_of)


async def test_server_ignoring_patient_returns_only_this_patients_resources(fake, as_of):
    fake.resources += [
        {"resourceType": "QuestionnaireResponse", "id": "qr-mine", "subject": SUBJECT},
        {
            "resourceType": "QuestionnaireResponse",
            "id": "qr-other",
            "subject": {"reference": "Patient/p2"},
        },
        {"resourceType": "QuestionnaireResponse", "id": "qr-nobody"},
    ]
    fake.ignore_patient_on = {"QuestionnaireResponse"}
    record = await load(fake, as_of)
    status = record.sections["questionnaire-response"]
    assert ("QuestionnaireResponse", "qr-mine") in keys(record)
    assert ("QuestionnaireResponse", "qr-other") not in keys(record)
    assert ("QuestionnaireResponse", "qr-nobody") not in keys(record)
    assert status.count == 1
    assert "ignored search parameters: patient" in status.reason
    assert "2 resources not of this patient discarded" in status.reason


async def test_truncated_paging_makes_the_section_partial(fake, as_of):
    fake.next_link_on = {"Condition"}
    record = await load(fake, as_of, limits=SearchLimits(max_pages=1))
    status = record.sections["condition-problem-list"]
    assert status.state == "partial"
    assert status.reason == "page cap reached: stopped after page 1"


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_concurrency_limit_is_honoured(fake, as_of, concurrency):
    await load(fake, as_of, concurrency=concurrency)
    assert fake.max_in_flight == concurrency  # reached, never exceeded


async def test_concurrency_must_be_positive(fake, as_of):
    with pytest.raises(ValueError, match="concurrency"):
        await load(fake, as_of, concurrency=0)


async def test_sections_still_loading_at_the_deadline_are_failed_and_the_rest_returned(fake, as_of):
    answer = fake.transport()

    async def slow_observations(request):
        if request.url.path.endswith("/Observation"):
            await asyncio.sleep(5)
        return await answer.handle_async_request(request)

    started = asyncio.get_running_loop().time()
    async with FhirClient(BASE, transport=httpx.MockTransport(slow_observations)) as client:
        record = await load_patient_record(client, PATIENT, as_of=as_of, deadline_seconds=0.5)
    elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < 2
    slow = [s for s in record.sections if s.startswith("observation")]
    assert slow
    for section in slow:
        assert record.sections[section].state == "failed"
        assert record.sections[section].reason == "no answer within 0.5 s"
    assert record.sections["medication-request"].state == "complete"
    assert ("MedicationRequest", "mr-active") in keys(record)
