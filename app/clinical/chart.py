"""FHIR R4 JSON (a Bundle, a CDS Hooks prefetch, or loose resources) -> one patient's Chart.

Follows FHIR R4 Bundle (https://hl7.org/fhir/R4/bundle.html: collection, searchset with
`entry.search.mode` match/include/outcome, transaction, batch), CDS Hooks 2.0 prefetch
(https://cds-hooks.hl7.org/2.0/#prefetch: a key may be null, a resource, a Bundle or an
OperationOutcome) and the US Core read guidance in docs/standards.md section 4.

Nothing is dropped without trace. A resource that cannot be read at all (not a JSON object,
no resourceType, a type we do not read, an OperationOutcome) becomes a sentence in
`Chart.problems`; a resource read with problems keeps them in its record's `notes`. A
resource repeated in the input is kept once with a note. Resources that belong to another
patient are left out with a problem line, and input holding two patients is refused:

    ValueError
      ChartInputError   not a Bundle / not a JSON object / more than one patient
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.clinical.fhirjson import (
    as_dict,
    as_list,
    concept_text,
    human_name,
    reference_display,
    reference_id,
    reference_string,
    shown,
    text_of,
)
from app.clinical.model import (
    Chart,
)
from app.clinical.records import (
    MAX_TEXT_BYTES,
    READERS,
    READERS_BY_FIELD,
    ReaderContext,
    read_patient,
)
from app.clinical.terminology import Terminology, load_terminology

__all__ = [
    "MAX_TEXT_BYTES",
    "ChartInputError",
    "build_chart",
    "bundle_resources",
    "chart_from_bundle",
    "chart_from_prefetch",
    "outcome_sentence",
]

_NESTED_BUNDLE_DEPTH = 3

#: Types read only to resolve references (or carrying nothing the rules use): not problems.
_HARMLESS_TYPES = frozenset(
    """Medication Practitioner PractitionerRole Organization Location RelatedPerson Provenance
    AuditEvent Device Coverage Claim ExplanationOfBenefit Immunization AllergyIntolerance CareTeam
    DiagnosticReport ImagingStudy SupplyDelivery Questionnaire Media Binary Appointment
    Specimen Endpoint HealthcareService FamilyMemberHistory""".split()
)
_NAMED_TYPES = ("Practitioner", "Organization", "Location", "PractitionerRole")


class ChartInputError(ValueError):
    """The input is not a chart we can read: not a Bundle, not a JSON object, or two patients."""


# --------------------------------------------------------------------------- entry points


def bundle_resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources of a Bundle of any type, in entry order.

    Searchset `outcome` entries are returned too (as OperationOutcome resources) so that
    `build_chart` can report them. A resource without id whose fullUrl is "urn:uuid:X" (as in
    transaction bundles) is returned as a shallow copy with id X.

    Raises:
        ChartInputError: if `bundle` is not a JSON object with resourceType Bundle.
    """
    return _bundle_entries(_require_bundle(bundle), [])


def build_chart(
    resources: Iterable[Mapping[str, Any]], *, terminology: Terminology | None = None
) -> Chart:
    """Read loose resources (Bundles among them are flattened) into one patient's Chart.

    Raises:
        ChartInputError: if the resources hold more than one distinct Patient, or (without a
            Patient) refer to more than one patient.
    """
    return _build(list(resources), terminology, [])


def chart_from_bundle(
    bundle: Mapping[str, Any], *, terminology: Terminology | None = None
) -> Chart:
    """Read a Bundle (collection, searchset, transaction, batch ...) into a Chart.

    Raises:
        ChartInputError: if it is not a Bundle or holds more than one distinct Patient.
    """
    problems: list[str] = []
    resources = _bundle_entries(_require_bundle(bundle), problems)
    return _build(resources, terminology, problems)


def chart_from_prefetch(
    prefetch: Mapping[str, Any], *, terminology: Terminology | None = None
) -> Chart:
    """Read a CDS Hooks prefetch object {key: resource | Bundle | None | OperationOutcome}.

    None means the EHR had no data for that key. An OperationOutcome (as the value, or as an
    outcome entry of a Bundle) becomes a problem line naming the key.

    Raises:
        ChartInputError: if `prefetch` is not a JSON object or holds more than one patient.
    """
    if not isinstance(prefetch, Mapping):
        raise ChartInputError("prefetch is not a JSON object")
    problems: list[str] = []
    resources: list[Any] = []
    for key, value in prefetch.items():
        if value is None:
            continue
        if not isinstance(value, dict):
            problems.append(f"prefetch {key!r} is not a JSON object; not read")
            continue
        found = (
            _bundle_entries(value, problems) if value.get("resourceType") == "Bundle" else [value]
        )
        for resource in found:
            if resource.get("resourceType") == "OperationOutcome":
                problems.append(outcome_sentence(resource, f"prefetch {key!r}"))
            else:
                resources.append(resource)
    return _build(resources, terminology, problems)


def outcome_sentence(outcome: Mapping[str, Any], source: str) -> str:
    """One sentence from an OperationOutcome: each issue's severity and diagnostics."""
    parts: list[str] = []
    for raw_issue in as_list(outcome.get("issue")):
        issue = as_dict(raw_issue)
        detail = (
            text_of(issue.get("diagnostics"))
            or concept_text(issue.get("details"))
            or text_of(issue.get("code"))
            or "no details"
        )
        severity = text_of(issue.get("severity"))
        parts.append(f"{severity}: {detail}" if severity else detail)
    return f"{source} returned an OperationOutcome: {'; '.join(parts) or 'no issues given'}"


# --------------------------------------------------------------------------- bundles


def _require_bundle(bundle: object) -> Mapping[str, Any]:
    if not isinstance(bundle, Mapping):
        raise ChartInputError("not a FHIR Bundle: not a JSON object")
    if bundle.get("resourceType") != "Bundle":
        raise ChartInputError(
            f"not a FHIR Bundle: resourceType is {shown(bundle.get('resourceType'))}"
        )
    return bundle


def _bundle_entries(bundle: Mapping[str, Any], problems: list[str]) -> list[dict[str, Any]]:
    entries = bundle.get("entry")
    if entries is None:
        return []
    if not isinstance(entries, list):
        problems.append("Bundle.entry is not a list; nothing read from it")
        return []
    found: list[dict[str, Any]] = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(f"Bundle entry {position} is not a JSON object; not read")
            continue
        resource = entry.get("resource")
        if resource is None:
            continue  # a request-only or response-only entry (e.g. DELETE)
        if not isinstance(resource, dict):
            problems.append(f"Bundle entry {position} has a resource that is not a JSON object")
            continue
        full_url = text_of(entry.get("fullUrl"))
        if resource.get("id") is None and full_url and full_url.startswith("urn:uuid:"):
            resource = {**resource, "id": full_url[len("urn:uuid:") :]}
        found.append(resource)
    return found


# --------------------------------------------------------------------------- the chart


def _build(resources: list[Any], terminology: Terminology | None, problems: list[str]) -> Chart:
    flat = _flatten(resources, problems, depth=0)
    unique = _deduplicate(flat)
    context = ReaderContext(
        terminology=terminology if terminology is not None else load_terminology(),
        medications_by_ref={},
        names_by_ref={},
        classifications={},
    )
    patients: dict[str, tuple[str, Mapping[str, Any], list[str]]] = {}
    skipped: dict[str, int] = {}
    for ref, resource, notes in unique:
        resource_type = resource["resourceType"]
        if resource_type == "Medication":
            _index(context.medications_by_ref, resource, resource)
        elif resource_type in _NAMED_TYPES:
            name = _party_name(resource)
            if name is not None:
                _index(context.names_by_ref, resource, name)
        elif resource_type == "Patient":
            patients[_resource_id(resource) or ref] = (ref, resource, notes)
    if len(patients) > 1:
        raise ChartInputError(f"more than one Patient ({len(patients)} distinct ids)")
    patient_key = next(iter(patients), None)
    patient_id = None
    if patient_key is not None:
        patient_id = _resource_id(patients[patient_key][1])
    if patient_id is None:
        subjects = {s for _, r, _ in unique if (s := _subject_id(r)) is not None}
        if len(subjects) > 1:
            raise ChartInputError(f"resources refer to {len(subjects)} different patients")

    records: dict[str, list[Any]] = {name: [] for name in READERS_BY_FIELD}
    for ref, resource, notes in unique:
        resource_type = resource["resourceType"]
        reader = READERS.get(resource_type)
        if reader is None:
            if resource_type == "OperationOutcome":
                problems.append(outcome_sentence(resource, "the server"))
            elif resource_type not in _HARMLESS_TYPES and resource_type != "Patient":
                skipped[resource_type] = skipped.get(resource_type, 0) + 1
            continue
        subject = _subject_id(resource)
        if patient_id is not None and subject is not None and subject != patient_id:
            problems.append(f"{ref} refers to another patient; left out")
            continue
        field_name, read = reader
        records[field_name].append(read(resource, ref, notes, context))
    for resource_type, count in sorted(skipped.items()):
        noun = "resource was" if count == 1 else "resources were"
        problems.append(f"{count} {resource_type} {noun} not read")

    patient = None
    if patient_key is not None:
        ref, resource, notes = patients[patient_key]
        patient = read_patient(resource, ref, notes)
        problems.extend(f"{ref}: {note}" for note in notes)  # PatientInfo has no notes
    return Chart(
        patient=patient,
        **{name: tuple(items) for name, items in records.items()},
        problems=tuple(problems),
    )


def _flatten(resources: list[Any], problems: list[str], depth: int) -> list[Mapping[str, Any]]:
    flat: list[Mapping[str, Any]] = []
    for position, resource in enumerate(resources):
        if not isinstance(resource, Mapping):
            problems.append(
                f"item {position} is not a JSON object ({type(resource).__name__}); not read"
            )
            continue
        resource_type = text_of(resource.get("resourceType"))
        if resource_type is None:
            problems.append(f"item {position} has no resourceType; not read")
        elif resource_type == "Bundle":
            if depth >= _NESTED_BUNDLE_DEPTH:
                problems.append("a Bundle nested too deep was not read")
            else:
                flat.extend(_flatten(_bundle_entries(resource, problems), problems, depth + 1))
        else:
            flat.append(resource)
    return flat


def _deduplicate(
    flat: list[Mapping[str, Any]],
) -> list[tuple[str, Mapping[str, Any], list[str]]]:
    """(ref, resource, notes) per distinct resource; repeats are counted into a note."""
    kept: dict[str, list[Any]] = {}  # ref -> [resource, count, copies differ, notes]
    for position, resource in enumerate(flat):
        resource_id = _resource_id(resource)
        resource_type = resource["resourceType"]
        if resource_id is None:
            ref = f"{resource_type}/no-id-{position}"
            kept[ref] = [resource, 1, False, ["resource has no id"]]
            continue
        ref = f"{resource_type}/{resource_id}"
        slot = kept.get(ref)
        if slot is None:
            kept[ref] = [resource, 1, False, []]
            continue
        slot[1] += 1
        if resource != slot[0]:
            slot[2] = True
            if _last_updated(resource) > _last_updated(slot[0]):
                slot[0] = resource
    unique: list[tuple[str, Mapping[str, Any], list[str]]] = []
    for ref, (resource, count, differ, notes) in kept.items():
        if count > 1 and differ:
            notes.append(
                f"appeared {count} times in the input and the copies differ; kept the latest "
                "by meta.lastUpdated (else the first)"
            )
        elif count > 1:
            notes.append(f"appeared {count} times in the input; one copy kept")
        unique.append((ref, resource, notes))
    return unique


def _resource_id(resource: Mapping[str, Any]) -> str | None:
    raw_id = resource.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        return str(raw_id)
    return text_of(raw_id)


def _last_updated(resource: Mapping[str, Any]) -> str:
    return text_of(as_dict(resource.get("meta")).get("lastUpdated")) or ""


def _index(index: dict[str, Any], resource: Mapping[str, Any], value: Any) -> None:
    resource_id = _resource_id(resource)
    if resource_id is not None:
        index[f"{resource['resourceType']}/{resource_id}"] = value
        index[f"urn:uuid:{resource_id}"] = value


def _party_name(resource: Mapping[str, Any]) -> str | None:
    if resource.get("resourceType") in ("Practitioner", "RelatedPerson"):
        return human_name(resource.get("name"))
    if resource.get("resourceType") == "PractitionerRole":
        return reference_display(resource.get("practitioner"))
    return text_of(resource.get("name"))


def _subject_id(resource: Mapping[str, Any]) -> str | None:
    """The Patient id a clinical resource belongs to (subject or patient), if it says.

    Only "Patient/id" references (relative or absolute) count: a urn:uuid in a transaction
    Bundle need not equal the Patient's id, so it never leads to leaving a resource out.
    """
    for key in ("subject", "patient"):
        reference = reference_string(resource.get(key))
        if reference is not None:
            if reference.startswith("urn:"):
                return None
            return reference_id(reference, "Patient")
    return None


# --------------------------------------------------------------------------- readers
