"""The FHIR client against respx: paging, include handling, batch reads and every error path."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from app.fhir.client import FhirClient, RetryPolicy, SearchLimits, parse_retry_after
from app.fhir.errors import (
    FhirConnectionError,
    FhirRequestError,
    FhirTimeout,
    InvalidResponse,
    NotAuthorized,
    NotFound,
    NotPermitted,
)
from tests.unit.fhir.conftest import BASE

pytestmark = pytest.mark.anyio


def bundle(*entries, next_url=None, self_url=None):
    links = []
    if self_url:
        links.append({"relation": "self", "url": self_url})
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": list(entries)}


def match(resource_type, rid, **extra):
    return {
        "resource": {"resourceType": resource_type, "id": rid, **extra},
        "search": {"mode": "match"},
    }


def include(resource_type, rid):
    return {"resource": {"resourceType": resource_type, "id": rid}, "search": {"mode": "include"}}


def outcome(text):
    return {
        "resource": {"resourceType": "OperationOutcome", "issue": [{"diagnostics": text}]},
        "search": {"mode": "outcome"},
    }


def oo(text):
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "diagnostics": text}],
    }


def make_client(fake_time, **kwargs):
    kwargs.setdefault("retry", RetryPolicy(max_retries=3, max_retry_seconds=30))
    return FhirClient(
        BASE, sleep=fake_time.sleep, clock=fake_time.clock, rng=random.Random(7), **kwargs
    )


# ---------------------------------------------------------------------- paging


async def test_search_follows_next_links_exactly_as_given(fake_time):
    page2 = f"{BASE}?_getpages=3f9a&_getpagesoffset=2&_count=2&_bundletype=searchset"
    page3 = f"{BASE}?_getpages=3f9a&_getpagesoffset=4&_count=2&_bundletype=searchset"
    with respx.mock(assert_all_called=True) as mock:
        first = mock.get(f"{BASE}/MedicationRequest").respond(
            json=bundle(
                match("MedicationRequest", "a"), match("MedicationRequest", "b"), next_url=page2
            )
        )
        second = mock.get(url=page2).respond(
            json=bundle(
                match("MedicationRequest", "c"), match("MedicationRequest", "d"), next_url=page3
            )
        )
        third = mock.get(url=page3).respond(json=bundle(match("MedicationRequest", "e")))
        async with make_client(fake_time) as client:
            result = await client.search_detailed("MedicationRequest", [("patient", "p1")])
    assert [r["id"] for r in result.matches] == ["a", "b", "c", "d", "e"]
    assert result.pages == 3
    assert result.truncated is None
    assert str(second.calls.last.request.url) == page2
    assert str(third.calls.last.request.url) == page3
    assert first.calls.last.request.url.params["patient"] == "p1"


async def test_search_adds_count_hint_only_when_absent(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Condition").respond(json=bundle())
        async with make_client(fake_time, limits=SearchLimits(page_size=250)) as client:
            await client.search("Condition", {"patient": "p1"})
            await client.search("Condition", [("patient", "p1"), ("_count", "10")])
    first, second = route.calls[0].request, route.calls[1].request
    assert first.url.params.get_list("_count") == ["250"]
    assert second.url.params.get_list("_count") == ["10"]


async def test_next_link_to_another_origin_stops_paging_and_is_recorded(fake_time):
    elsewhere = "https://evil.example.com/fhir/R4/MedicationRequest?page=2"
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/MedicationRequest").respond(
            json=bundle(match("MedicationRequest", "a"), next_url=elsewhere)
        )
        other = mock.get(url=elsewhere).respond(json=bundle(match("MedicationRequest", "x")))
        async with make_client(fake_time) as client:
            result = await client.search_detailed("MedicationRequest", [("patient", "p1")])
    assert other.call_count == 0
    assert [r["id"] for r in result.matches] == ["a"]
    assert result.truncated is not None
    assert "another server" in result.truncated


@pytest.mark.parametrize(
    "next_url",
    [
        pytest.param("http://ehr.example.org/fhir/R4/X?page=2", id="other-scheme"),
        pytest.param("https://ehr.example.org:8443/fhir/R4/X?page=2", id="other-port"),
        pytest.param("https://ehr.example.org.evil.com/fhir/R4/X?page=2", id="suffix-host"),
    ],
)
async def test_same_origin_means_scheme_host_and_port(fake_time, next_url):
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/Encounter").respond(
            json=bundle(match("Encounter", "a"), next_url=next_url)
        )
        async with make_client(fake_time) as client:
            result = await client.search_detailed("Encounter", [("patient", "p1")])
    assert result.pages == 1
    assert result.truncated is not None


async def test_same_origin_with_explicit_default_port_is_followed(fake_time):
    page2 = "https://ehr.example.org:443/fhir/R4/Encounter?page=2"
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/Encounter", params={"patient": "p1"}).respond(
            json=bundle(match("Encounter", "a"), next_url=page2)
        )
        mock.get(f"{BASE}/Encounter", params={"page": "2"}).respond(
            json=bundle(match("Encounter", "b"))
        )
        async with make_client(fake_time) as client:
            result = await client.search_detailed("Encounter", [("patient", "p1")])
    assert [r["id"] for r in result.matches] == ["a", "b"]
    assert result.truncated is None


async def test_search_stops_at_the_page_cap(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Observation").respond(
            json=bundle(match("Observation", "o"), next_url=f"{BASE}/Observation?page=more")
        )
        async with make_client(fake_time, limits=SearchLimits(max_pages=3)) as client:
            result = await client.search_detailed("Observation", [("category", "laboratory")])
    assert route.call_count == 3
    assert result.pages == 3
    assert result.truncated == "page cap reached: stopped after page 3"


async def test_search_stops_at_the_time_cap(fake_time):
    def slow_page(request):
        fake_time.now += 4.0  # each page takes 4 s
        return httpx.Response(
            200, json=bundle(match("Observation", "o"), next_url=f"{BASE}/Observation?page=more")
        )

    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Observation").mock(side_effect=slow_page)
        async with make_client(fake_time, limits=SearchLimits(max_seconds=10)) as client:
            result = await client.search_detailed("Observation", [("category", "survey")])
    # 4 s, 8 s: still under 10, go on; 12 s: stop.
    assert route.call_count == 3
    assert result.truncated == "time cap reached: stopped after page 3"


async def test_expired_next_page_restarts_the_search_once(fake_time):
    page2 = f"{BASE}?_getpages=gone&_getpagesoffset=1"
    with respx.mock(assert_all_called=False) as mock:
        first = mock.get(f"{BASE}/Procedure").respond(
            json=bundle(match("Procedure", "a"), next_url=page2)
        )
        mock.get(url=page2).respond(410, json=oo("Search expired"))
        async with make_client(fake_time) as client:
            with pytest.raises(NotFound):
                await client.search_detailed("Procedure", [("patient", "p1")])
    # first page, expired next page, first page again, expired again -> give up
    assert first.call_count == 2


async def test_entries_are_told_apart_by_search_mode(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/MedicationRequest", params={"page": "2"}).respond(
            json=bundle(match("MedicationRequest", "mr3"), include("Medication", "med1"))
        )
        mock.get(f"{BASE}/MedicationRequest").respond(
            json=bundle(
                match("MedicationRequest", "mr1"),
                include("Medication", "med1"),
                outcome("Some statuses are not searchable"),
                {"resource": {"resourceType": "MedicationRequest", "id": "mr2"}},  # no mode
                next_url=f"{BASE}/MedicationRequest?page=2",
            )
        )
        async with make_client(fake_time) as client:
            result = await client.search_detailed("MedicationRequest", [("patient", "p1")])
            resources = await client.search("MedicationRequest", [("patient", "p1")])
    assert [r["id"] for r in result.matches] == ["mr1", "mr2", "mr3"]
    assert [r["id"] for r in result.included] == ["med1"]  # once, though on both pages
    assert result.outcome_text == "Some statuses are not searchable"
    assert [r["id"] for r in resources] == ["mr1", "mr2", "mr3", "med1"]


async def test_parameters_missing_from_the_self_link_are_reported_as_ignored(fake_time):
    self_url = f"{BASE}/QuestionnaireResponse?_count=500"
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/QuestionnaireResponse").respond(json=bundle(self_url=self_url))
        mock.get(f"{BASE}/Observation").respond(
            json=bundle(self_url=f"{BASE}/Observation?patient=p1&category%3Atext=lab&_count=500")
        )
        async with make_client(fake_time) as client:
            ignored = await client.search_detailed(
                "QuestionnaireResponse", [("patient", "p1"), ("authored", "ge2025-01-01")]
            )
            applied = await client.search_detailed(
                "Observation", [("patient", "p1"), ("category:text", "lab")]
            )
    assert ignored.ignored_params == ("patient", "authored")
    assert applied.ignored_params == ()


async def test_search_answering_something_else_than_a_bundle_is_invalid(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/Encounter").respond(json={"resourceType": "Patient", "id": "x"})
        async with make_client(fake_time) as client:
            with pytest.raises(InvalidResponse):
                await client.search("Encounter", [("patient", "p1")])


async def test_non_json_success_body_is_invalid(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/Patient/p1").respond(200, text="<html>login</html>")
        async with make_client(fake_time) as client:
            with pytest.raises(InvalidResponse):
                await client.read("Patient", "p1")


# ---------------------------------------------------------------------- headers, token


async def test_requests_send_fhir_accept_and_bearer_token(fake_time):
    async def token():
        return "tok-1"

    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Patient/p1").respond(json={"resourceType": "Patient", "id": "p1"})
        async with make_client(fake_time, access_token=token) as client:
            patient = await client.read("Patient", "p1")
    request = route.calls.last.request
    assert patient["id"] == "p1"
    assert request.headers["Accept"] == "application/fhir+json"
    assert request.headers["Authorization"] == "Bearer tok-1"


async def test_open_server_gets_no_authorization_header(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Patient/p1").respond(json={"resourceType": "Patient", "id": "p1"})
        async with make_client(fake_time) as client:
            await client.read("Patient", "p1")
    assert "Authorization" not in route.calls.last.request.headers


@pytest.mark.parametrize(
    ("resource_type", "resource_id"),
    [
        pytest.param("Patient", "../metadata", id="path-traversal-id"),
        pytest.param("Patient", "a" * 65, id="too-long-id"),
        pytest.param("patient", "p1", id="lowercase-type"),
        pytest.param("Patient/x", "p1", id="slash-in-type"),
    ],
)
async def test_read_refuses_malformed_type_or_id(fake_time, resource_type, resource_id):
    async with make_client(fake_time) as client:
        with pytest.raises(ValueError, match="not a FHIR resource"):
            await client.read(resource_type, resource_id)


# ---------------------------------------------------------------------- error statuses


async def test_400_raises_with_operation_outcome_text_and_is_not_retried(fake_time):
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "required", "diagnostics": "category is required"},
            {"severity": "error", "code": "invalid", "details": {"text": "see the IG"}},
        ],
    }
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Observation").respond(400, json=body)
        async with make_client(fake_time) as client:
            with pytest.raises(FhirRequestError) as caught:
                await client.search("Observation", [("patient", "p1")])
    assert route.call_count == 1
    assert caught.value.status == 400
    assert caught.value.operation_outcome_text == "category is required; see the IG"
    assert str(caught.value) == (
        "FHIR server answered HTTP 400 on Observation search: category is required; see the IG"
    )


async def test_401_refreshes_once_and_retries_with_the_new_token(fake_time):
    tokens = iter(["old", "new"])
    current = {"token": next(tokens)}

    async def token():
        return current["token"]

    async def refresh():
        current["token"] = next(tokens)
        return True

    def answer(request):
        if request.headers["Authorization"] == "Bearer new":
            return httpx.Response(200, json={"resourceType": "Patient", "id": "p1"})
        return httpx.Response(401, json=oo("token expired"))

    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Patient/p1").mock(side_effect=answer)
        async with make_client(fake_time, access_token=token, on_unauthorized=refresh) as client:
            patient = await client.read("Patient", "p1")
    assert patient["id"] == "p1"
    assert route.call_count == 2
    assert fake_time.sleeps == []


async def test_401_after_refresh_raises_not_authorized_and_refreshes_only_once(fake_time):
    refreshes = []

    async def refresh():
        refreshes.append(1)
        return True

    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Patient/p1").respond(401, json=oo("invalid token"))
        async with make_client(fake_time, on_unauthorized=refresh) as client:
            with pytest.raises(NotAuthorized, match="invalid token"):
                await client.read("Patient", "p1")
    assert refreshes == [1]
    assert route.call_count == 2


async def test_401_when_refresh_fails_is_not_retried(fake_time):
    async def refresh():
        return False

    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Patient/p1").respond(401)
        async with make_client(fake_time, on_unauthorized=refresh) as client:
            with pytest.raises(NotAuthorized):
                await client.read("Patient", "p1")
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("status", "error", "gone"),
    [
        pytest.param(403, NotPermitted, None, id="403-not-permitted"),
        pytest.param(404, NotFound, False, id="404-not-found"),
        pytest.param(410, NotFound, True, id="410-gone"),
    ],
)
async def test_read_error_statuses_map_to_their_errors(fake_time, status, error, gone):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Medication/m1").respond(status, json=oo("Medication/m1 said no"))
        async with make_client(fake_time) as client:
            with pytest.raises(error, match="Medication/m1 said no") as caught:
                await client.read("Medication", "m1")
    assert route.call_count == 1
    if gone is not None:
        assert caught.value.gone is gone


async def test_429_waits_retry_after_seconds_then_succeeds(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Patient/p1").mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "7"}),
                httpx.Response(200, json={"resourceType": "Patient", "id": "p1"}),
            ]
        )
        async with make_client(fake_time) as client:
            await client.read("Patient", "p1")
    assert route.call_count == 2
    assert fake_time.sleeps == [7.0]


async def test_429_waits_until_retry_after_http_date(fake_time):
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=12)
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/Patient/p1").mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)}),
                httpx.Response(200, json={"resourceType": "Patient", "id": "p1"}),
            ]
        )
        async with make_client(fake_time) as client:
            await client.read("Patient", "p1")
    [waited] = fake_time.sleeps
    assert 10.0 <= waited <= 12.0


async def test_retry_after_beyond_the_time_budget_gives_up_at_once(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Patient/p1").respond(429, headers={"Retry-After": "3600"})
        async with make_client(fake_time) as client:
            with pytest.raises(FhirRequestError) as caught:
                await client.read("Patient", "p1")
    assert caught.value.status == 429
    assert route.call_count == 1
    assert fake_time.sleeps == []


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_retry_with_backoff_then_give_up(fake_time, status):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Condition").respond(status, json=oo("upstream down"))
        retry = RetryPolicy(max_retries=3, max_retry_seconds=60, backoff_base_seconds=1.0)
        async with make_client(fake_time, retry=retry) as client:
            with pytest.raises(FhirRequestError, match="upstream down") as caught:
                await client.search("Condition", [("patient", "p1")])
    assert caught.value.status == status
    assert route.call_count == 4  # first try + 3 retries
    # exponential backoff 1, 2, 4 s, each with 50-100 % jitter
    assert len(fake_time.sleeps) == 3
    for wait, base in zip(fake_time.sleeps, (1.0, 2.0, 4.0), strict=True):
        assert base * 0.5 <= wait <= base


async def test_gateway_error_retries_stop_at_the_time_budget(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Condition").respond(503)
        retry = RetryPolicy(max_retries=10, max_retry_seconds=5, backoff_base_seconds=2.0)
        async with make_client(fake_time, retry=retry) as client:
            with pytest.raises(FhirRequestError):
                await client.search("Condition", [("patient", "p1")])
    assert sum(fake_time.sleeps) <= 5
    assert route.call_count < 11


async def test_gateway_error_then_success_returns_the_result(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/Condition").mock(
            side_effect=[
                httpx.Response(502),
                httpx.Response(200, json=bundle(match("Condition", "c"))),
            ]
        )
        async with make_client(fake_time) as client:
            resources = await client.search("Condition", [("patient", "p1")])
    assert [r["id"] for r in resources] == ["c"]


async def test_500_is_not_retried(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Condition").respond(500, json=oo("NullPointerException"))
        async with make_client(fake_time) as client:
            with pytest.raises(FhirRequestError, match="HTTP 500"):
                await client.search("Condition", [("patient", "p1")])
    assert route.call_count == 1


async def test_timeouts_are_retried_then_raise_fhir_timeout(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/Encounter").mock(side_effect=httpx.ReadTimeout("slow"))
        retry = RetryPolicy(max_retries=2, backoff_base_seconds=0.1)
        async with make_client(fake_time, retry=retry) as client:
            with pytest.raises(FhirTimeout):
                await client.search("Encounter", [("patient", "p1")])
    assert route.call_count == 3


async def test_connection_failures_raise_fhir_connection_error(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/Encounter").mock(side_effect=httpx.ConnectError("refused"))
        async with make_client(fake_time, retry=RetryPolicy(max_retries=0)) as client:
            with pytest.raises(FhirConnectionError):
                await client.search("Encounter", [("patient", "p1")])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("120", 120.0, id="seconds"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("Wed, 21 Oct 2026 07:28:30 GMT", 30.0, id="http-date"),
        pytest.param("Wed, 21 Oct 2026 07:27:00 GMT", 0.0, id="http-date-in-the-past"),
        pytest.param("soon", None, id="unreadable"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_parse_retry_after(value, expected):
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == expected


# ---------------------------------------------------------------------- batch read


async def test_batch_read_sends_one_batch_of_gets_and_splits_found_from_failed(fake_time):
    reply = {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [
            {
                "resource": {"resourceType": "Medication", "id": "m1"},
                "response": {"status": "200 OK"},
            },
            {"response": {"status": "404 Not Found", "outcome": oo("Medication/m2 not found")}},
            {
                "resource": {"resourceType": "Medication", "id": "m3"},
                "response": {"status": "200"},
            },
        ],
    }
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(BASE).respond(json=reply)
        async with make_client(fake_time) as client:
            result = await client.batch_read(
                ["Medication/m1", "Medication/m2", "Medication/m3", "Medication/m1", "#contained"]
            )
    sent = json.loads(route.calls.last.request.content)
    assert route.call_count == 1
    assert route.calls.last.request.headers["Content-Type"] == "application/fhir+json"
    assert sent["type"] == "batch"
    assert [e["request"] for e in sent["entry"]] == [
        {"method": "GET", "url": "Medication/m1"},
        {"method": "GET", "url": "Medication/m2"},
        {"method": "GET", "url": "Medication/m3"},
    ]
    assert sorted(result.found) == ["Medication/m1", "Medication/m3"]
    assert result.failed == {
        "Medication/m2": "HTTP 404: Medication/m2 not found",
        "#contained": "not a relative reference Type/id",
    }


async def test_batch_read_chunks_large_requests(fake_time):
    def answer(request):
        entries = json.loads(request.content)["entry"]
        return httpx.Response(
            200,
            json={
                "resourceType": "Bundle",
                "type": "batch-response",
                "entry": [
                    {
                        "resource": {
                            "resourceType": "Medication",
                            "id": e["request"]["url"].split("/")[1],
                        },
                        "response": {"status": "200 OK"},
                    }
                    for e in entries
                ],
            },
        )

    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(BASE).mock(side_effect=answer)
        async with make_client(fake_time) as client:
            result = await client.batch_read([f"Medication/m{i}" for i in range(5)], chunk_size=2)
    assert route.call_count == 3
    assert len(result.found) == 5


async def test_batch_read_with_mismatched_entry_count_is_invalid(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        mock.post(BASE).respond(
            json={"resourceType": "Bundle", "type": "batch-response", "entry": []}
        )
        async with make_client(fake_time) as client:
            with pytest.raises(InvalidResponse):
                await client.batch_read(["Medication/m1"])


async def test_batch_read_refused_raises_for_the_caller_to_fall_back(fake_time):
    with respx.mock(assert_all_called=False) as mock:
        mock.post(BASE).respond(405, json=oo("batch not supported"))
        async with make_client(fake_time) as client:
            with pytest.raises(FhirRequestError, match="batch not supported"):
                await client.batch_read(["Medication/m1"])


# ---------------------------------------------------------------------- logging


async def test_logs_carry_no_ids_queries_or_tokens(fake_time, caplog):
    async def token():
        return "secret-token"

    secret_patient = "patient-8c1f-secret"
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/Observation").mock(
            side_effect=[
                httpx.Response(503),
                httpx.Response(200, json=bundle(match("Observation", "obs-secret-id"))),
            ]
        )
        mock.get(f"{BASE}/Patient/{secret_patient}").respond(404, json=oo(secret_patient))
        with caplog.at_level(logging.DEBUG):
            async with make_client(fake_time, access_token=token) as client:
                await client.search("Observation", [("patient", secret_patient), ("code", "x")])
                with pytest.raises(NotFound):
                    await client.read("Patient", secret_patient)
    assert caplog.records
    for record in caplog.records:
        text = json.dumps(record.__dict__, default=str)
        for secret in (secret_patient, "obs-secret-id", "secret-token", "ehr.example.org"):
            assert secret not in text
