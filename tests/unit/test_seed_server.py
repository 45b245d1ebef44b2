"""`ppact seed` against respx: transactions in chunks, retries, a 4xx stop, removal by tag."""

from __future__ import annotations

import json
import random

import httpx
import pytest
import respx

from app.cli import main
from app.fhir.client import FhirClient, RetryPolicy
from app.fhir.errors import FhirRequestError, InvalidResponse
from app.seed import (
    ChunkRefused,
    RemoveIncomplete,
    load_chunks,
    make_chunks,
    remove_tagged,
)
from app.seed import server as server_module
from app.synth import generate_cohort
from app.synth.bundle import TYPE_ORDER
from smart_launch import DEFAULT_RESOURCE_TYPES
from tests.unit.fhir.conftest import FakeTime

pytestmark = pytest.mark.anyio

BASE = "https://fhir.example.org/R4"
TAG = "urn:ppact-cot:tags|synthetic-cohort"
COHORT_META = {"tag": [{"system": "urn:ppact-cot:tags", "code": "synthetic-cohort"}]}


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def fake_time():
    return FakeTime()


def client(fake_time, **kwargs):
    return FhirClient(
        BASE,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        rng=random.Random(3),
        retry=RetryPolicy(max_retries=3, max_retry_seconds=60),
        **kwargs,
    )


def oo(text):
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "diagnostics": text}],
    }


def answer(bundle, status="201 Created"):
    kind = bundle["type"]
    return {
        "resourceType": "Bundle",
        "type": f"{kind}-response",
        "entry": [{"response": {"status": status}} for _ in bundle["entry"]],
    }


class FakeServer:
    """Just enough of a FHIR server: transactions of PUTs, batches of DELETEs, `_tag` search.

    `system_search` declares `search-system` in /metadata and answers `GET [base]?_tag=`;
    with `ignore_tag` too, it answers every resource and leaves `_tag` out of the self link.
    """

    def __init__(self, resources=(), conflicts=(), ignore_tag=False, system_search=False):
        self.store = {f"{r['resourceType']}/{r['id']}": r for r in resources}
        self.conflicts = set(conflicts)  # keys that answer 409 on their first delete
        self.ignore_tag = ignore_tag
        self.system_search = system_search
        self.posts = []
        self.searched_types = []

    def handle_post(self, request):
        bundle = json.loads(request.content)
        self.posts.append(bundle)
        entries = []
        for entry in bundle["entry"]:
            url = entry["request"]["url"]
            if entry["request"]["method"] == "PUT":
                status = "200 OK" if url in self.store else "201 Created"
                self.store[url] = entry["resource"]
            elif url in self.conflicts:
                self.conflicts.discard(url)
                status = "409 Conflict"
                entries.append({"response": {"status": status, "outcome": oo("still referenced")}})
                continue
            else:
                status = "204 No Content" if self.store.pop(url, None) else "404 Not Found"
            entries.append({"response": {"status": status}})
        kind = bundle["type"]
        return httpx.Response(
            200, json={"resourceType": "Bundle", "type": f"{kind}-response", "entry": entries}
        )

    def handle_search(self, request, resource_type=None):
        if resource_type is None and not self.system_search:
            return httpx.Response(400, json=oo("System-level search is not supported"))
        self.searched_types.append(resource_type)
        tag = request.url.params.get("_tag")
        system, _, code = tag.partition("|")
        found = [
            r
            for k, r in self.store.items()
            if (resource_type is None or k.startswith(resource_type + "/"))
            and (
                self.ignore_tag
                or {"system": system, "code": code} in r.get("meta", {}).get("tag", [])
            )
        ]
        params = [
            (k, v)
            for k, v in request.url.params.multi_items()
            if not (self.ignore_tag and k == "_tag")
        ]
        path = f"{BASE}/{resource_type}" if resource_type else BASE
        return httpx.Response(
            200,
            json={
                "resourceType": "Bundle",
                "type": "searchset",
                "link": [{"relation": "self", "url": str(httpx.URL(path, params=params))}],
                "entry": [{"resource": r, "search": {"mode": "match"}} for r in found],
            },
        )

    def handle_metadata(self, request):
        interactions = [{"code": "transaction"}, {"code": "batch"}]
        if self.system_search:
            interactions.append({"code": "search-system"})
        return httpx.Response(
            200,
            json={
                "resourceType": "CapabilityStatement",
                "fhirVersion": "4.0.1",
                "rest": [{"mode": "server", "interaction": interactions}],
            },
        )

    def mount(self, mock):
        mock.post(BASE).mock(side_effect=self.handle_post)
        self.mount_reads(mock)

    def mount_reads(self, mock):
        mock.get(f"{BASE}/metadata").mock(side_effect=self.handle_metadata)
        mock.get(url__regex=rf"^{BASE}/(?P<resource_type>[A-Za-z]+)\?").mock(
            side_effect=self.handle_search
        )
        mock.get(url__regex=rf"^{BASE}/?\?").mock(side_effect=self.handle_search)


# ---------------------------------------------------------------------- loading


async def test_cohort_is_sent_as_one_transaction_per_chunk_and_a_rerun_changes_nothing(fake_time):
    chunks = make_chunks(generate_cohort(patients=2), size=60)
    server = FakeServer()
    progressed = []
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        async with client(fake_time) as fhir:
            first = await load_chunks(fhir, chunks, progress=progressed.append)
            second = await load_chunks(fhir, chunks)
    assert len(server.posts) == 2 * len(chunks) > 2
    assert all(p["type"] == "transaction" and len(p["entry"]) <= 60 for p in server.posts)
    assert sum(progressed) == first.resources == len(server.store)
    assert (first.created, first.replaced) == (first.resources, 0)
    assert (second.created, second.replaced) == (0, first.resources)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504], ids=lambda s: f"http-{s}")
async def test_throttling_and_server_errors_are_retried_with_backoff(fake_time, status):
    chunks = make_chunks(generate_cohort(patients=1), size=1000)
    with respx.mock(assert_all_called=False) as mock:
        FakeServer().mount_reads(mock)
        route = mock.post(BASE).mock(
            side_effect=[
                httpx.Response(status, json=oo("busy")),
                httpx.Response(status, json=oo("busy")),
                httpx.Response(200, json=answer(chunks[0].bundle)),
            ]
        )
        async with client(fake_time) as fhir:
            report = await load_chunks(fhir, chunks)
    assert route.call_count == 3
    assert report.created == chunks[0].size
    assert len(fake_time.sleeps) == 2 and fake_time.sleeps[1] > fake_time.sleeps[0] / 2


async def test_retry_after_is_honoured(fake_time):
    chunks = make_chunks(generate_cohort(patients=1), size=1000)
    with respx.mock(assert_all_called=False) as mock:
        FakeServer().mount_reads(mock)
        mock.post(BASE).mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "7"}),
                httpx.Response(200, json=answer(chunks[0].bundle)),
            ]
        )
        async with client(fake_time) as fhir:
            await load_chunks(fhir, chunks)
    assert fake_time.sleeps == [7.0]


async def test_a_4xx_stops_the_load_with_the_operation_outcome_and_is_not_retried(fake_time):
    chunks = make_chunks(generate_cohort(patients=2), size=100)
    refusal = oo("HAPI-0389: Resource type 'EpisodeOfCare' is not supported")
    with respx.mock(assert_all_called=False) as mock:
        FakeServer().mount_reads(mock)
        route = mock.post(BASE).mock(
            side_effect=[
                httpx.Response(200, json=answer(chunks[0].bundle)),
                httpx.Response(422, json=refusal),
            ]
        )
        async with client(fake_time) as fhir:
            with pytest.raises(ChunkRefused) as caught:
                await load_chunks(fhir, chunks)
    assert route.call_count == 2  # stopped at chunk 2, nothing after it
    assert caught.value.status == 422
    assert caught.value.chunk.number == 2
    message = str(caught.value)
    assert f"chunk 2 of {len(chunks)}" in message
    assert "HTTP 422" in message and "EpisodeOfCare' is not supported" in message
    assert fake_time.sleeps == []


async def test_transaction_answer_must_match_the_request(fake_time):
    bundle = make_chunks(generate_cohort(patients=1), size=5)[0].bundle
    with respx.mock() as mock:
        mock.post(BASE).respond(
            200, json={"resourceType": "Bundle", "type": "transaction-response", "entry": []}
        )
        async with client(fake_time) as fhir:
            with pytest.raises(InvalidResponse):
                await fhir.transaction(bundle)
    with pytest.raises(ValueError):
        await FhirClient(BASE).transaction({"resourceType": "Bundle", "type": "searchset"})


async def test_500_is_retried_only_when_asked(fake_time):
    bundle = make_chunks(generate_cohort(patients=1), size=5)[0].bundle
    with respx.mock() as mock:
        route = mock.post(BASE).respond(500, json=oo("boom"))
        async with client(fake_time) as fhir:
            with pytest.raises(FhirRequestError, match="boom"):
                await fhir.transaction(bundle)
    assert route.call_count == 1


async def test_token_is_sent_as_bearer(fake_time):
    chunks = make_chunks(generate_cohort(patients=1), size=1000)

    async def token():
        return "tok-123"

    with respx.mock(assert_all_called=False) as mock:
        FakeServer().mount_reads(mock)
        route = mock.post(BASE).respond(200, json=answer(chunks[0].bundle))
        async with client(fake_time, access_token=token) as fhir:
            await load_chunks(fhir, chunks)
    assert route.calls[0].request.headers["Authorization"] == "Bearer tok-123"


# ---------------------------------------------------------------------- removal


def resource(resource_type, rid, tagged=True, **extra):
    meta = COHORT_META if tagged else {"tag": [{"system": "urn:other", "code": "x"}]}
    return {"resourceType": resource_type, "id": rid, "meta": meta, **extra}


async def test_remove_deletes_exactly_the_tagged_resources_and_verifies(fake_time):
    server = FakeServer(
        [
            resource("Patient", "p1"),
            resource("Patient", "real-1", tagged=False),
            resource("MedicationRequest", "m1", subject={"reference": "Patient/p1"}),
            resource("MedicationRequest", "m2"),
            resource("Observation", "real-obs", tagged=False),
        ]
    )
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        async with client(fake_time) as fhir:
            report = await remove_tagged(fhir, chunk_size=2)
    assert set(server.store) == {"Patient/real-1", "Observation/real-obs"}
    assert report.deleted == {"MedicationRequest": 2, "Patient": 1}
    deletes = [e["request"] for p in server.posts for e in p["entry"]]
    assert all(d["method"] == "DELETE" for d in deletes)
    assert all(p["type"] == "batch" and len(p["entry"]) <= 2 for p in server.posts)
    # referrers go first: MedicationRequest before Patient
    assert [d["url"] for d in deletes].index("Patient/p1") > [d["url"] for d in deletes].index(
        "MedicationRequest/m1"
    )


async def test_removal_searches_bypass_the_server_result_cache(fake_time):
    server = FakeServer([resource("Patient", "p1")])
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        async with client(fake_time) as fhir:
            await remove_tagged(fhir, types=["Patient"])
        searches = [
            c.request
            for c in mock.calls
            if c.request.method == "GET" and not c.request.url.path.endswith("/metadata")
        ]
    assert len(searches) == 2  # one to find, one to verify none is left
    assert all(r.headers["Cache-Control"] == "no-cache" for r in searches)


async def test_a_panel_is_deleted_before_the_observations_it_holds(fake_time):
    member = resource("Observation", "a-member")
    panel = resource("Observation", "z-panel", hasMember=[{"reference": "Observation/a-member"}])
    server = FakeServer([member, panel])
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        async with client(fake_time) as fhir:
            report = await remove_tagged(fhir, types=["Observation"])
    urls = [e["request"]["url"] for p in server.posts for e in p["entry"]]
    assert urls == ["Observation/z-panel", "Observation/a-member"]
    assert report.passes == 1


async def test_a_delete_refused_for_a_reference_succeeds_on_the_next_pass(fake_time):
    server = FakeServer(
        [resource("Patient", "p1"), resource("Observation", "o1")], conflicts={"Patient/p1"}
    )
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        async with client(fake_time) as fhir:
            report = await remove_tagged(fhir)
    assert server.store == {}
    assert report.passes == 2
    assert report.problems == ["Patient: 409 Conflict (still referenced)"]


async def test_remove_stops_when_resources_stay_and_says_which(fake_time):
    server = FakeServer([resource("Patient", "p1")])
    server.handle_post = lambda request: httpx.Response(
        200,
        json={
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [{"response": {"status": "409 Conflict"}}],
        },
    )
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        async with client(fake_time) as fhir:
            with pytest.raises(RemoveIncomplete, match="Patient 1"):
                await remove_tagged(fhir)


async def test_remove_never_deletes_untagged_results_of_a_server_that_ignores_tag(fake_time):
    server = FakeServer(
        [resource("Patient", "real-1", tagged=False), resource("Patient", "p1")], ignore_tag=True
    )
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        async with client(fake_time) as fhir:
            report = await remove_tagged(fhir)
    assert report.deleted == {"Patient": 1}
    assert set(server.store) == {"Patient/real-1"}


RUN_TAG = "urn:ppact-cot:run|abc123"
RUN_ONLY_META = {"tag": [{"system": "urn:ppact-cot:run", "code": "abc123"}]}
BOTH_META = {"tag": [*COHORT_META["tag"], *RUN_ONLY_META["tag"]]}


async def test_a_run_tag_narrows_removal_and_never_reaches_resources_without_the_cohort_tag(
    fake_time,
):
    server = FakeServer(
        [
            {"resourceType": "Patient", "id": "run-p1", "meta": BOTH_META},
            {"resourceType": "Patient", "id": "not-ours", "meta": RUN_ONLY_META},
            resource("Patient", "cohort-p1"),
        ]
    )
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        async with client(fake_time) as fhir:
            report = await remove_tagged(fhir, tag=RUN_TAG)
            assert set(server.store) == {"Patient/not-ours", "Patient/cohort-p1"}
            await remove_tagged(fhir)
    assert report.deleted == {"Patient": 1}
    assert set(server.store) == {"Patient/not-ours"}


def test_ppact_seed_remove_with_another_tag_keeps_what_is_not_synthetic(capsys):
    server = FakeServer([{"resourceType": "Patient", "id": "not-ours", "meta": RUN_ONLY_META}])
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        code = run_cli(["seed", "--fhir-base", BASE, "--remove", "--tag", RUN_TAG])
    assert code == 0
    assert "removed 0 synthetic resources" in capsys.readouterr().out
    assert set(server.store) == {"Patient/not-ours"}


@pytest.fixture
def generated_types_cache():
    server_module._generated_types.cache_clear()
    yield
    server_module._generated_types.cache_clear()


async def test_removal_finds_types_outside_the_load_order(
    fake_time, monkeypatch, generated_types_cache
):
    real = server_module.generate_cohort

    def with_a_new_type(**kwargs):
        bundles = real(patients=1)
        flag = resource("Flag", "ppact-0001-flag-1")
        bundles[0]["entry"].append({"resource": flag, "request": {"url": "Flag/ppact-0001-flag-1"}})
        return bundles

    monkeypatch.setattr(server_module, "generate_cohort", with_a_new_type)
    tagged = [
        resource("Flag", "ppact-0001-flag-1"),
        resource("ServiceRequest", "ppact-0001-sr-1"),  # emitted by the generator
        resource("CarePlan", "ppact-0001-cp-1"),  # read by the app (DEFAULT_RESOURCE_TYPES)
        resource("Patient", "ppact-0001"),
    ]
    server = FakeServer(tagged)
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        async with client(fake_time) as fhir:
            report = await remove_tagged(fhir)
    assert server.store == {}
    assert report.deleted == {"Flag": 1, "ServiceRequest": 1, "CarePlan": 1, "Patient": 1}
    types = set(server_module.cohort_types())
    assert {"Flag", "ServiceRequest"} | set(TYPE_ORDER) | set(DEFAULT_RESOURCE_TYPES) <= types


async def test_system_level_search_finds_every_tagged_type_in_one_request(fake_time):
    server = FakeServer(
        [
            resource("Basic", "b1"),
            resource("Patient", "p1"),
            resource("Patient", "real-1", tagged=False),
        ],
        system_search=True,
    )
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        async with client(fake_time) as fhir:
            report = await remove_tagged(fhir)
    assert report.deleted == {"Basic": 1, "Patient": 1}
    assert set(server.store) == {"Patient/real-1"}
    assert server.searched_types == [None, None]  # find, then verify: both system-level


async def test_a_system_search_that_ignores_tag_is_not_trusted(fake_time):
    server = FakeServer(
        [resource("Patient", "real-1", tagged=False), resource("Patient", "p1")],
        system_search=True,
        ignore_tag=True,
    )
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        async with client(fake_time) as fhir:
            report = await remove_tagged(fhir)
    assert report.deleted == {"Patient": 1}
    assert set(server.store) == {"Patient/real-1"}
    assert server.searched_types[0] is None and "Patient" in server.searched_types[1:]


# ---------------------------------------------------------------------- reseeding


def keys_of(bundles):
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for b in bundles
        for e in b["entry"]
    }


async def test_reseeding_another_seed_leaves_exactly_the_new_cohort_for_those_patients(fake_time):
    seed7 = generate_cohort(patients=3, seed=7)
    seed3 = generate_cohort(patients=2, seed=3)
    real = resource("Observation", "ppact-0001-real", tagged=False)
    server = FakeServer([real])
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        async with client(fake_time) as fhir:
            await load_chunks(fhir, make_chunks(seed7, size=200))
            report = await load_chunks(fhir, make_chunks(seed3, size=200))
    patient3 = keys_of(seed7[2:])
    stale = keys_of(seed7[:2]) - keys_of(seed3)
    assert stale, "seed 7 and seed 3 must differ for this test to mean anything"
    assert set(server.store) == keys_of(seed3) | patient3 | {"Observation/ppact-0001-real"}
    assert report.stale.total == len(stale - keys_of(seed7[2:]))
    assert report.created + report.replaced == report.resources


# ---------------------------------------------------------------------- the command


def run_cli(argv):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return exited.value.code


def test_ppact_seed_loads_and_reports_counts(capsys):
    server = FakeServer()
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        code = run_cli(["seed", "--fhir-base", BASE, "--patients", "2", "--chunk-size", "80"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"loaded {len(server.store)} resources of 2 patients" in out
    assert f"({len(server.store)} created, 0 replaced)" in out
    assert all("Authorization" not in str(p) for p in server.posts)


def test_ppact_seed_stops_on_a_4xx_with_one_line_showing_the_outcome(capsys):
    with respx.mock(assert_all_called=False) as mock:
        FakeServer().mount_reads(mock)
        mock.post(BASE).respond(400, json=oo("Bundle.entry[3]: invalid reference"))
        code = run_cli(["seed", "--fhir-base", BASE, "--patients", "1", "--token", "t"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith("ppact seed: chunk 1 of ")
    assert "HTTP 400: Bundle.entry[3]: invalid reference" in err[0]


def test_ppact_seed_remove_deletes_the_cohort(capsys):
    server = FakeServer([resource("Patient", "p1"), resource("Patient", "real-1", tagged=False)])
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        code = run_cli(["seed", "--fhir-base", BASE, "--remove"])
    assert code == 0
    assert (
        "removed 1 synthetic resources tagged urn:ppact-cot:tags|synthetic-cohort; none left"
        in capsys.readouterr().out
    )
    assert set(server.store) == {"Patient/real-1"}


def test_ppact_seed_reads_the_token_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("PPACT_SEED_TOKEN", "env-token-1")
    server = FakeServer()
    with respx.mock(assert_all_called=False) as mock:
        server.mount(mock)
        assert run_cli(["seed", "--fhir-base", BASE, "--patients", "1"]) == 0
        assert run_cli(["seed", "--fhir-base", BASE, "--remove", "--token", "flag-token"]) == 0
        sent = [c.request.headers.get("Authorization") for c in mock.calls]
    removal = sent.index("Bearer flag-token")
    assert set(sent[:removal]) == {"Bearer env-token-1"}
    assert set(sent[removal:]) == {"Bearer flag-token"}  # --token wins over the environment
    assert server.store == {}


def test_ppact_seed_names_an_unreachable_server_in_one_line(capsys, monkeypatch):
    import logging

    import app.seed

    monkeypatch.setattr(app.seed, "SEED_RETRY", RetryPolicy(max_retries=0))
    level = logging.getLogger("app.fhir").level
    with respx.mock() as mock:
        route = mock.route().mock(side_effect=httpx.ConnectError("refused"))
        code = run_cli(["seed", "--fhir-base", BASE, "--patients", "1"])
    assert code == 2
    assert capsys.readouterr().err == (
        f"ppact seed: {BASE}: FHIR server unreachable on metadata (retried)\n"
    )
    assert route.call_count == 1  # an unreachable server is not asked twice
    assert logging.getLogger("app.fhir").level == level  # restored after the command
