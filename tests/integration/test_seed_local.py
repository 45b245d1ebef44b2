"""`ppact seed` against the real local FHIR server: idempotent loads, exact removal by tag."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.cli import main
from app.seed import COHORT_TAG, run_remove, run_seed, seed_client, tagged_ids
from app.synth import generate_cohort
from tests.integration.fhir_server import start_fhir_server, stop_fhir_server

pytestmark = pytest.mark.integration

PATIENTS = 3


@pytest.fixture(scope="module")
def fhir_server(tmp_path_factory):
    """A server of its own: the session server is shared, and these tests remove the cohort."""
    server = start_fhir_server(tmp_path_factory.mktemp("seed-fhir-server"))
    try:
        yield server
    finally:
        stop_fhir_server(server)


def tagged_keys(server, tag=COHORT_TAG):
    async def find():
        async with seed_client(server.base_url, token=server.token) as client:
            return await tagged_ids(client, tag=tag)

    return {f"{t}/{i}" for t, ids in asyncio.run(find()).items() for i in ids}


def tagged_counts(server, tag=COHORT_TAG):
    counts: dict[str, int] = {}
    for key in tagged_keys(server, tag):
        counts[key.split("/")[0]] = counts.get(key.split("/")[0], 0) + 1
    return counts


def cohort_keys(**kwargs):
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for b in generate_cohort(**kwargs)
        for e in b["entry"]
    }


def expected_counts():
    keys = {
        (e["resource"]["resourceType"], e["resource"]["id"])
        for b in generate_cohort(patients=PATIENTS)
        for e in b["entry"]
    }
    counts: dict[str, int] = {}
    for resource_type, _ in keys:
        counts[resource_type] = counts.get(resource_type, 0) + 1
    return counts


def run_cli(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return exited.value.code, capsys.readouterr()


def test_seed_twice_gives_the_same_counts_and_remove_leaves_only_untagged(fhir_server, capsys):
    other = {"resourceType": "Patient", "id": "not-synthetic-1", "birthDate": "1950-01-01"}
    other_tagged_elsewhere = {
        "resourceType": "Observation",
        "id": "not-synthetic-obs",
        "status": "final",
        "code": {"text": "x"},
        "meta": {"tag": [{"system": "urn:ppact-cot:tags", "code": "something-else"}]},
    }
    fhir_server.transaction([other, other_tagged_elsewhere])
    argv = ["seed", "--fhir-base", fhir_server.base_url, "--token", fhir_server.token]
    argv += ["--patients", str(PATIENTS), "--chunk-size", "64"]

    code, first = run_cli(argv, capsys)
    assert code == 0, first.err
    after_first = tagged_counts(fhir_server)
    assert after_first == expected_counts()
    total = sum(after_first.values())
    assert f"loaded {total} resources of {PATIENTS} patients" in first.out
    assert f"({total} created, 0 replaced)" in first.out

    code, second = run_cli(argv, capsys)
    assert code == 0, second.err
    assert tagged_counts(fhir_server) == after_first
    assert f"(0 created, {total} replaced)" in second.out
    assert "another cohort" not in second.out

    code, removed = run_cli([*argv[:5], "--remove"], capsys)
    assert code == 0, removed.err
    assert f"removed {total} synthetic resources" in removed.out
    assert tagged_counts(fhir_server) == {}
    headers = fhir_server.headers()
    for kept in ("Patient/not-synthetic-1", "Observation/not-synthetic-obs"):
        assert httpx.get(f"{fhir_server.base_url}/{kept}", headers=headers).status_code == 200


def test_remove_of_a_run_tag_leaves_the_rest_of_the_cohort(fhir_server):
    from app.seed import retagged

    cohort = generate_cohort(patients=1)
    run_tag = "urn:ppact-cot:run|local-test"
    run_seed(fhir_server.base_url, token=fhir_server.token, bundles=cohort, show_progress=False)
    run_seed(
        fhir_server.base_url,
        token=fhir_server.token,
        bundles=retagged(cohort, tag=run_tag, id_prefix="lt-"),
        show_progress=False,
    )
    before = tagged_counts(fhir_server)
    report = run_remove(
        fhir_server.base_url, tag=run_tag, token=fhir_server.token, show_progress=False
    )
    assert tagged_counts(fhir_server, run_tag) == {}
    after = tagged_counts(fhir_server)
    assert sum(after.values()) == sum(before.values()) - report.total
    assert after == {t: n // 2 for t, n in before.items()}
    run_remove(fhir_server.base_url, token=fhir_server.token, show_progress=False)
    assert tagged_counts(fhir_server) == {}


def test_a_refused_token_names_the_server_outcome_in_one_line(fhir_server, capsys):
    code, result = run_cli(
        ["seed", "--fhir-base", fhir_server.base_url, "--token", "wrong", "--patients", "1"],
        capsys,
    )
    assert code == 2
    assert result.err.count("\n") == 1
    assert "HTTP 401" in result.err and "Unsupported or invalid Authorization" in result.err


def test_reseeding_with_another_seed_leaves_exactly_the_new_cohort(fhir_server, capsys):
    argv = ["seed", "--fhir-base", fhir_server.base_url, "--token", fhir_server.token]
    argv += ["--patients", str(PATIENTS), "--chunk-size", "200"]
    seed7, seed3 = cohort_keys(patients=PATIENTS, seed=7), cohort_keys(patients=PATIENTS, seed=3)
    assert seed7 - seed3, "the two seeds must differ for this test to mean anything"

    code, first = run_cli([*argv, "--seed", "7"], capsys)
    assert code == 0, first.err
    assert tagged_keys(fhir_server) == seed7
    code, second = run_cli([*argv, "--seed", "3"], capsys)
    assert code == 0, second.err
    assert tagged_keys(fhir_server) == seed3
    assert f"deleted {len(seed7 - seed3)} resources of another cohort" in second.out
    created, replaced = len(seed3 - seed7), len(seed3 & seed7)
    assert f"({created} created, {replaced} replaced)" in second.out
    run_remove(fhir_server.base_url, token=fhir_server.token, show_progress=False)
    assert tagged_keys(fhir_server) == set()
