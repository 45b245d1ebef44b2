"""Transaction bundles: deterministic, idempotent PUTs, tagged, self-contained, valid FHIR."""

import re
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from app.synth import generate_cohort, most_complex_patient_id, write_cohort
from app.synth.bundle import bundle_json, iter_references

ANCHOR = date(2026, 11, 1)
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def _resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle["entry"]]


def _all_resources_with_contained(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for item in _resources(bundle):
        out.append(item)
        out.extend(item.get("contained", []))
    return out


def test_same_seed_gives_identical_bundles_and_byte_identical_files(tmp_path: Path):
    first = generate_cohort(patients=4, seed=11, anchor=ANCHOR)
    second = generate_cohort(patients=4, seed=11, anchor=ANCHOR)
    assert [bundle_json(b) for b in first] == [bundle_json(b) for b in second]

    paths_a = write_cohort(tmp_path / "a", patients=4, seed=11, anchor=ANCHOR)
    paths_b = write_cohort(tmp_path / "b", patients=4, seed=11, anchor=ANCHOR)
    assert [p.name for p in paths_a] == [f"ppact-{n:04d}.json" for n in range(1, 5)]
    for path_a, path_b in zip(paths_a, paths_b, strict=True):
        assert path_a.read_bytes() == path_b.read_bytes()


def test_different_seed_gives_a_different_cohort():
    seven = generate_cohort(patients=3, seed=7, anchor=ANCHOR)
    eight = generate_cohort(patients=3, seed=8, anchor=ANCHOR)
    assert [bundle_json(b) for b in seven] != [bundle_json(b) for b in eight]


def test_a_patient_is_the_same_whatever_the_cohort_size(cohort):
    small = generate_cohort(patients=3, seed=7, anchor=ANCHOR)
    assert [bundle_json(b) for b in small] == [bundle_json(b) for b in cohort[:3]]


def test_written_file_is_the_bundle_json(tmp_path: Path, cohort):
    paths = write_cohort(tmp_path, patients=2, seed=7, anchor=ANCHOR)
    assert paths[0].read_text(encoding="utf-8") == bundle_json(cohort[0])
    assert paths[1].read_text(encoding="utf-8").endswith("}\n")


def test_generating_fifty_patients_takes_under_two_seconds():
    started = time.perf_counter()
    generate_cohort(patients=50, seed=3, anchor=ANCHOR)
    assert time.perf_counter() - started < 2.0


def test_zero_patients_is_rejected():
    with pytest.raises(ValueError, match="patients"):
        generate_cohort(patients=0)


def test_cohort_has_one_transaction_bundle_per_patient_with_stable_ids(cohort):
    assert len(cohort) == 50
    patient_ids = []
    for bundle in cohort:
        assert bundle["resourceType"] == "Bundle"
        assert bundle["type"] == "transaction"
        patients = [r for r in _resources(bundle) if r["resourceType"] == "Patient"]
        assert len(patients) == 1
        patient_ids.append(patients[0]["id"])
    assert patient_ids == [f"ppact-{n:04d}" for n in range(1, 51)]
    assert most_complex_patient_id() == "ppact-0001"


def test_every_entry_is_a_put_to_its_own_type_and_id(cohort):
    for bundle in cohort:
        for entry in bundle["entry"]:
            item = entry["resource"]
            assert entry["request"] == {
                "method": "PUT",
                "url": f"{item['resourceType']}/{item['id']}",
            }
            assert FHIR_ID.match(item["id"]), item["id"]


def test_resource_ids_are_unique_within_each_bundle(cohort):
    for bundle in cohort:
        urls = [entry["request"]["url"] for entry in bundle["entry"]]
        assert len(urls) == len(set(urls))


def test_patient_resource_ids_derive_from_the_patient_id(cohort):
    for bundle in cohort:
        patient_id = next(r["id"] for r in _resources(bundle) if r["resourceType"] == "Patient")
        for item in _resources(bundle):
            if item["resourceType"] not in {"Practitioner", "Organization"}:
                assert item["id"].startswith(patient_id), item["id"]


def test_every_resource_and_bundle_carries_the_synthetic_tag(cohort):
    expected = {"system": "urn:ppact-cot:tags", "code": "synthetic-cohort"}
    for bundle in cohort:
        assert expected in bundle["meta"]["tag"]
        for item in _all_resources_with_contained(bundle):
            assert expected in item["meta"]["tag"], item["id"]


def test_every_reference_resolves_inside_its_bundle(cohort):
    for bundle in cohort:
        present = {f"{r['resourceType']}/{r['id']}" for r in _resources(bundle)}
        for item in _resources(bundle):
            contained = {f"#{c['id']}" for c in item.get("contained", [])}
            for reference in iter_references(item):
                if reference.startswith("#"):
                    assert reference in contained, (item["id"], reference)
                else:
                    assert reference in present, (item["id"], reference)


def test_referenced_resources_come_before_the_resources_that_refer_to_them(cohort):
    for bundle in cohort[:15]:
        position = {entry["request"]["url"]: index for index, entry in enumerate(bundle["entry"])}
        for index, entry in enumerate(bundle["entry"]):
            for reference in iter_references(entry["resource"]):
                if not reference.startswith("#"):
                    assert position[reference] <= index or reference.startswith("Observation/")


def test_every_resource_validates_as_fhir_r4b_by_type(cohort):
    checked = 0
    for bundle in cohort:
        for item in _resources(bundle):
            model = get_fhir_model_class(item["resourceType"])
            model.model_validate(item)
            checked += 1
    assert checked > 3000


def test_bundles_validate_as_fhir_r4b_transaction_bundles(bundles_by_patient):
    # One bundle per archetype family is enough here: every resource is validated above.
    model = get_fhir_model_class("Bundle")
    for patient_id in ("ppact-0001", "ppact-0013", "ppact-0015"):
        model.model_validate(bundles_by_patient[patient_id])


def test_validation_would_catch_an_unknown_element(cohort):
    # Guards the two tests above: the R4B models reject what R4 does not define.
    broken = dict(_resources(cohort[0])[5])
    broken["notAnElement"] = True
    with pytest.raises(ValueError, match="notAnElement"):
        get_fhir_model_class(broken["resourceType"]).model_validate(broken)


_EVENT_FIELDS = (
    "authoredOn",
    "whenHandedOver",
    "whenPrepared",
    "effectiveDateTime",
    "performedDateTime",
    "dateAsserted",
    "onsetDateTime",
    "recordedDate",
    "date",
)


def test_every_event_happens_before_the_anchor_date(cohort):
    for bundle in cohort:
        for item in _resources(bundle):
            for name in _EVENT_FIELDS:
                if name in item:
                    assert item[name][:10] < "2026-11-01", (item["id"], name, item[name])
            period = item.get("period") or item.get("effectivePeriod") or {}
            if "start" in period:
                assert period["start"][:10] < "2026-11-01", item["id"]


def test_history_spans_two_years_before_the_anchor(bundles_by_patient):
    requests = [
        r
        for r in _resources(bundles_by_patient["ppact-0001"])
        if r["resourceType"] == "MedicationRequest"
    ]
    authored = sorted(r["authoredOn"][:10] for r in requests)
    assert authored[0] == "2024-11-01"  # anchor - 730 days
    assert authored[-1] >= "2026-10-01"


def test_datetimes_with_a_time_carry_the_clinic_offset(cohort):
    for item in _resources(cohort[0]):
        for name in ("authoredOn", "whenHandedOver", "effectiveDateTime", "date"):
            value = item.get(name)
            if value and "T" in value:
                assert value.endswith("-07:00"), value
                assert "08:00:00" <= value[11:19] <= "15:59:00", value
