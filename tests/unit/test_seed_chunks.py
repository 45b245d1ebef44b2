"""Cutting the cohort into transaction chunks: order, size, shared resources, only tagged PUTs."""

from __future__ import annotations

import copy

import pytest

from app.seed import COHORT_TAG, has_tag, make_chunks, retagged
from app.seed.chunks import dependency_order
from app.synth import generate_cohort

TAG = {"system": "urn:ppact-cot:tags", "code": "synthetic-cohort"}


@pytest.fixture(scope="module")
def cohort():
    return generate_cohort(patients=4)


def key(resource):
    return f"{resource['resourceType']}/{resource['id']}"


def refs(value):
    if isinstance(value, dict):
        for name, item in value.items():
            if name == "reference" and isinstance(item, str):
                yield item
            else:
                yield from refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from refs(item)


def sent_resources(chunks):
    return [e["resource"] for c in chunks for e in c.bundle["entry"]]


def test_chunks_hold_at_most_the_size_and_every_entry_is_a_put_by_id(cohort):
    chunks = make_chunks(cohort, size=37)
    assert [c.number for c in chunks] == list(range(1, len(chunks) + 1))
    assert all(1 <= c.size <= 37 for c in chunks)
    assert all(c.size == 37 for c in chunks[:-1])
    for chunk in chunks:
        assert chunk.bundle["type"] == "transaction"
        for entry in chunk.bundle["entry"]:
            assert entry["request"] == {"method": "PUT", "url": key(entry["resource"])}


def test_every_reference_target_is_sent_before_its_referrer(cohort):
    seen: set[str] = set()
    all_keys = {key(e["resource"]) for b in cohort for e in b["entry"]}
    checked = 0
    for resource in sent_resources(make_chunks(cohort, size=10)):
        for target in refs(resource):
            if target in all_keys:
                assert target in seen, f"{key(resource)} sent before {target}"
                checked += 1
        seen.add(key(resource))
    assert checked > 100


def test_observation_panels_come_after_their_members():
    member = {"resourceType": "Observation", "id": "z-member", "meta": {"tag": [TAG]}}
    panel = {
        "resourceType": "Observation",
        "id": "a-panel",
        "meta": {"tag": [TAG]},
        "hasMember": [{"reference": "Observation/z-member"}],
    }
    assert [r["id"] for r in dependency_order([panel, member])] == ["z-member", "a-panel"]


def test_a_reference_cycle_keeps_everything_once():
    a = {"resourceType": "Basic", "id": "a", "x": {"reference": "Basic/b"}}
    b = {"resourceType": "Basic", "id": "b", "x": {"reference": "Basic/a"}}
    assert sorted(r["id"] for r in dependency_order([a, b])) == ["a", "b"]


def test_shared_staff_and_organizations_are_sent_once_and_nothing_is_lost(cohort):
    sent = sent_resources(make_chunks(cohort, size=100))
    keys = [key(r) for r in sent]
    assert len(keys) == len(set(keys))
    assert set(keys) == {key(e["resource"]) for b in cohort for e in b["entry"]}
    shared = [k for k in keys if k.startswith(("Practitioner/", "Organization/"))]
    repeated = sum(1 for b in cohort for e in b["entry"] if key(e["resource"]) in shared)
    assert repeated > len(shared)


def test_chunks_name_the_patients_they_carry(cohort):
    chunks = make_chunks(cohort, size=100_000)
    assert len(chunks) == 1
    assert chunks[0].patients == ("ppact-0001", "ppact-0002", "ppact-0003", "ppact-0004")


def test_a_resource_without_the_synthetic_tag_is_never_sent(cohort):
    bundle = copy.deepcopy(cohort[1])
    bundle["entry"][3]["resource"]["meta"] = {}
    with pytest.raises(ValueError, match="without the tag"):
        make_chunks([bundle], size=10)


def test_an_entry_that_is_not_a_put_to_its_own_id_is_refused(cohort):
    bundle = copy.deepcopy(cohort[1])
    bundle["entry"][0]["request"] = {"method": "POST", "url": "Patient"}
    with pytest.raises(ValueError, match="PUT"):
        make_chunks([bundle], size=10)


def test_chunk_size_must_be_positive(cohort):
    with pytest.raises(ValueError, match="at least 1"):
        make_chunks(cohort, size=0)


def test_retagged_copy_prefixes_ids_and_references_and_adds_the_run_tag(cohort):
    run_tag = "urn:ppact-cot:run|r1"
    copies = retagged(cohort[:2], tag=run_tag, id_prefix="r1-")
    assert cohort[0]["entry"][0]["resource"]["id"] == "ppact-org-clinic"  # original untouched
    keys = {key(e["resource"]) for b in copies for e in b["entry"]}
    for bundle in copies:
        for entry in bundle["entry"]:
            resource = entry["resource"]
            assert resource["id"].startswith("r1-")
            assert entry["request"]["url"] == key(resource)
            assert has_tag(resource, run_tag) and has_tag(resource, COHORT_TAG)
            for target in refs(resource):
                assert target.startswith("#") or target in keys, target
    # the chunker accepts the copy and keeps its order guarantees
    assert sum(c.size for c in make_chunks(copies, size=50)) > 100


def test_retagged_refuses_ids_past_64_characters(cohort):
    with pytest.raises(ValueError, match="64"):
        retagged(cohort[:1], tag="urn:x|y", id_prefix="p" * 60)
