"""The draft orders of an order-select / order-sign call, read with the core's reader.

CDS Hooks Library order-select and order-sign: `context.draftOrders` is a Bundle of every
unsigned order; order-select's `selections` name the ones being chosen ("MedicationRequest/103").
Rules target the selected orders; the other drafts still count toward total MME
(docs/standards.md section 3). An empty `selections` selects nothing, so no order card fires
(the spec: rules target the selected orders; an empty list is not "all"). Medication resources
inside the bundle resolve `medicationReference` (by "Medication/id" and by fullUrl, e.g.
"urn:uuid:..."). A MedicationRequest that the R4B model rejects is still read as far as the
tolerant reader goes, and a problem sentence says so (the cards show it): a 4xx would silence
every alert for what may be one odd element.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest
from pydantic import ValidationError

from app.clinical.medications import medication_record
from app.clinical.model import MedicationRecord
from app.clinical.terminology import Terminology
from cds_hooks.errors import ServiceError
from cds_hooks.models import CdsRequest

_MEDICATION_TYPES = frozenset({"MedicationRequest", "MedicationDispense", "MedicationStatement"})


@dataclass(frozen=True, slots=True)
class Drafts:
    records: tuple[MedicationRecord, ...]
    targets: tuple[MedicationRecord, ...]
    problems: tuple[str, ...]


def read_drafts(request: CdsRequest, terminology: Terminology) -> Drafts:
    """The draft medication orders, the ones this call is about, and drafts not fully read."""
    bundle = request.context.draft_orders
    if bundle is None:
        return Drafts((), (), ())
    if bundle.get("resourceType") != "Bundle":
        raise ServiceError(422, "context.draftOrders is not a FHIR Bundle")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise ServiceError(422, "context.draftOrders.entry is not a list")
    resources: list[tuple[str | None, dict[str, Any]]] = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise ServiceError(422, "context.draftOrders has an entry without a resource")
        full_url = entry.get("fullUrl")
        resources.append((full_url if isinstance(full_url, str) else None, resource))
    medications: dict[str, Mapping[str, Any]] = {}
    for full_url, resource in resources:
        if resource.get("resourceType") == "Medication":
            if isinstance(resource.get("id"), str):
                medications[f"Medication/{resource['id']}"] = resource
            if full_url:
                medications[full_url] = resource
    records: list[MedicationRecord] = []
    problems: list[str] = []
    for index, (_, resource) in enumerate(resources):
        kind = resource.get("resourceType")
        if kind not in _MEDICATION_TYPES:
            continue
        rid = resource.get("id")
        ref = f"{kind}/{rid}" if isinstance(rid, str) and rid else f"{kind}/draft-{index}"
        if kind == "MedicationRequest":
            try:
                MedicationRequest.model_validate(resource)
            except ValidationError as exc:
                where = ".".join(str(p) for p in exc.errors()[0]["loc"][:3]) or "resource"
                problems.append(f"draft {ref} is not valid FHIR R4 (at {where}); read in part")
        records.append(
            medication_record(
                resource, medications_by_ref=medications, terminology=terminology, ref=ref
            )
        )
    if request.hook == "order-select":
        selections = set(request.context.selections or ())
        targets = tuple(r for r in records if r.ref in selections)
    else:
        targets = tuple(records)
    return Drafts(tuple(records), targets, tuple(problems))
