"""FHIR R4 transaction Bundles of the synthetic cohort, and writing them to disk.

Every entry is ``request: {method: PUT, url: "Type/id"}`` (update as create, FHIR R4
http://hl7.org/fhir/R4/http.html#upsert), so loading a bundle twice leaves the server
unchanged. Each bundle repeats the shared Practitioners and Organizations it refers to, so it
loads on its own. Entries and keys come out in a fixed order: the same seed gives
byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from app.synth.archetypes import build_plan
from app.synth.cohort import patient_id
from app.synth.resources import CLINIC_ID, Resource, organization, practitioner, tag
from app.synth.timeline import patient_resources

DEFAULT_ANCHOR = date(2026, 11, 1)
DEFAULT_PATIENTS = 50
DEFAULT_SEED = 7

#: Entry order inside a bundle: referenced resources before the resources that refer to them.
TYPE_ORDER: tuple[str, ...] = (
    "Organization",
    "Practitioner",
    "Patient",
    "Medication",
    "Encounter",
    "EpisodeOfCare",
    "Condition",
    "Goal",
    "MedicationRequest",
    "MedicationDispense",
    "MedicationStatement",
    "Observation",
    "Procedure",
    "DocumentReference",
    "ServiceRequest",
)


def most_complex_patient_id() -> str:
    """Id of the patient with the most medication history and risk (always patient 1)."""
    return patient_id(1)


def iter_references(value: Any) -> Iterator[str]:
    """Every ``reference`` string anywhere inside a resource."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from iter_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_references(item)


def _shared_resources(resources: list[Resource]) -> list[Resource]:
    """The shared Practitioners and Organizations that `resources` refer to."""
    wanted = {CLINIC_ID: "Organization"}
    for item in resources:
        for reference in iter_references(item):
            kind, _, ident = reference.partition("/")
            if kind in {"Practitioner", "Organization"}:
                wanted[ident] = kind
    shared = [
        organization(ident) if kind == "Organization" else practitioner(ident)
        for ident, kind in wanted.items()
    ]
    return shared


def transaction_bundle(resources: list[Resource], *, bundle_id: str) -> dict[str, Any]:
    """A transaction Bundle that PUTs each resource at ``Type/id``, in TYPE_ORDER."""
    rank = {name: index for index, name in enumerate(TYPE_ORDER)}
    ordered = sorted(
        resources, key=lambda item: (rank.get(item["resourceType"], len(rank)), item["id"])
    )
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": tag(),
        "type": "transaction",
        "entry": [
            {
                "resource": item,
                "request": {"method": "PUT", "url": f"{item['resourceType']}/{item['id']}"},
            }
            for item in ordered
        ],
    }


def patient_bundle(number: int, *, seed: int, anchor: date) -> dict[str, Any]:
    """The transaction Bundle of patient `number` (1-based)."""
    plan = build_plan(number, seed=seed, anchor=anchor)
    resources = patient_resources(plan, seed=seed, anchor=anchor)
    return transaction_bundle(
        _shared_resources(resources) + resources, bundle_id=f"{plan.patient_id}-bundle"
    )


def generate_cohort(
    *, patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED, anchor: date = DEFAULT_ANCHOR
) -> list[dict[str, Any]]:
    """One FHIR R4 transaction Bundle per patient, history ending the day before `anchor`.

    Args:
        patients: how many patients (``ppact-0001`` .. ``ppact-NNNN``).
        seed: random seed; the same seed gives the same cohort.
        anchor: the as-of date the cohort is built around; all dates fall before it.

    Returns:
        The bundles, in patient order.
    """
    if patients < 1:
        raise ValueError(f"patients must be at least 1, got {patients}")
    return [patient_bundle(number, seed=seed, anchor=anchor) for number in range(1, patients + 1)]


def bundle_json(bundle: dict[str, Any]) -> str:
    """The exact text written for a bundle (stable key order, two-space indent, newline)."""
    return json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"


def write_cohort(
    out_dir: Path,
    *,
    patients: int = DEFAULT_PATIENTS,
    seed: int = DEFAULT_SEED,
    anchor: date = DEFAULT_ANCHOR,
) -> list[Path]:
    """Write one ``<patient-id>.json`` transaction Bundle per patient into `out_dir`.

    Returns:
        The paths written, in patient order.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for bundle in generate_cohort(patients=patients, seed=seed, anchor=anchor):
        patient_ids = [
            entry["resource"]["id"]
            for entry in bundle["entry"]
            if entry["resource"]["resourceType"] == "Patient"
        ]
        path = out_dir / f"{patient_ids[0]}.json"
        path.write_text(bundle_json(bundle), encoding="utf-8")
        paths.append(path)
    return paths
