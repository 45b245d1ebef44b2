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

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from app.clinical.fhirjson import (
    as_dict,
    as_list,
    category_codes,
    codings,
    concept_text,
    concepts_codes,
    human_name,
    integer,
    number,
    parse_date,
    period,
    quantity,
    reference_display,
    reference_id,
    reference_string,
    relative_reference,
    shown,
    text_of,
)
from app.clinical.medications import ClassificationCache, medication_record
from app.clinical.model import (
    Chart,
    Code,
    ConditionRecord,
    DocumentRecord,
    EncounterRecord,
    EpisodeRecord,
    ObservationComponent,
    ObservationRecord,
    PatientInfo,
    ProcedureRecord,
    Quantity,
    QuestionnaireAnswer,
    QuestionnaireResponseRecord,
    ServiceRequestRecord,
)
from app.clinical.terminology import Terminology, load_terminology

#: Largest text/plain attachment decoded into DocumentRecord.content_text.
MAX_TEXT_BYTES = 64 * 1024

_NESTED_BUNDLE_DEPTH = 3
_ORDINAL_EXTENSIONS = ("ordinalValue", "itemWeight", "iso21090-CO-value")

#: Types read only to resolve references (or carrying nothing the rules use): not problems.
_HARMLESS_TYPES = frozenset(
    """Medication Practitioner PractitionerRole Organization Location RelatedPerson Provenance
    AuditEvent Device Coverage Claim ExplanationOfBenefit Immunization AllergyIntolerance CareTeam
    Goal DiagnosticReport ImagingStudy SupplyDelivery Questionnaire Media Binary Appointment
    Specimen Endpoint HealthcareService FamilyMemberHistory""".split()
)
_NAMED_TYPES = ("Practitioner", "Organization", "Location", "PractitionerRole")


class ChartInputError(ValueError):
    """The input is not a chart we can read: not a Bundle, not a JSON object, or two patients."""


@dataclass(slots=True)
class _Context:
    terminology: Terminology
    medications_by_ref: dict[str, Mapping[str, Any]]
    names_by_ref: dict[str, str]
    classifications: ClassificationCache


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
    context = _Context(
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

    records: dict[str, list[Any]] = {name: [] for name in _READERS_BY_FIELD}
    for ref, resource, notes in unique:
        resource_type = resource["resourceType"]
        reader = _READERS.get(resource_type)
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
        patient = _patient(resource, ref, notes)
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


def _patient(resource: Mapping[str, Any], ref: str, notes: list[str]) -> PatientInfo:
    identifiers = [i for i in as_list(resource.get("identifier")) if isinstance(i, dict)]
    mrn_entry = next(
        (i for i in identifiers if any(c.code == "MR" for c in codings(i.get("type")))),
        identifiers[0] if identifiers else {},
    )
    deceased = resource.get("deceasedBoolean") is True or bool(
        text_of(resource.get("deceasedDateTime"))
    )
    return PatientInfo(
        ref=ref,
        name=human_name(resource.get("name")),
        birth_date=parse_date(resource.get("birthDate"), notes, "birthDate"),
        gender=text_of(resource.get("gender")),
        mrn=text_of(mrn_entry.get("value")),
        deceased=deceased,
    )


def _medication(resource: Mapping[str, Any], ref: str, notes: list[str], context: _Context) -> Any:
    record = medication_record(
        resource,
        medications_by_ref=context.medications_by_ref,
        terminology=context.terminology,
        names_by_ref=context.names_by_ref,
        ref=ref,
        classification_cache=context.classifications,
    )
    return replace(record, notes=(*notes, *record.notes)) if notes else record


def _condition(resource: Mapping[str, Any], ref: str, notes: list[str], context: _Context) -> Any:
    codes = codings(resource.get("code"))
    onset = parse_date(resource.get("onsetDateTime"), notes, "onsetDateTime")
    if onset is None and "onsetPeriod" in resource:
        onset = period(resource.get("onsetPeriod"), notes, "onsetPeriod")[0]
    abatement = parse_date(resource.get("abatementDateTime"), notes, "abatementDateTime")
    if abatement is None and "abatementPeriod" in resource:
        start, end = period(resource.get("abatementPeriod"), notes, "abatementPeriod")
        abatement = end or start
    if abatement is None and text_of(resource.get("abatementString")):
        notes.append("abatement given as text only")
    return ConditionRecord(
        ref=ref,
        codes=codes,
        text=concept_text(resource.get("code")),
        groups=context.terminology.condition_groups(codes),
        clinical_status=_first_code(resource.get("clinicalStatus")),
        verification_status=_first_code(resource.get("verificationStatus")),
        categories=category_codes(resource.get("category")),
        onset=onset,
        abatement=abatement,
        recorded=parse_date(resource.get("recordedDate"), notes, "recordedDate"),
        notes=tuple(notes),
    )


def _observation(resource: Mapping[str, Any], ref: str, notes: list[str], context: _Context) -> Any:
    effective = _effective(resource, notes)
    value_quantity, value_codes, value_string = _value(resource, notes)
    raw_boolean = resource.get("valueBoolean")
    components = tuple(
        _component(component, notes)
        for component in as_list(resource.get("component"))
        if isinstance(component, dict)
    )
    members = (relative_reference(reference_string(m)) for m in as_list(resource.get("hasMember")))
    return ObservationRecord(
        ref=ref,
        codes=codings(resource.get("code")),
        text=concept_text(resource.get("code")),
        status=text_of(resource.get("status")),
        categories=category_codes(resource.get("category")),
        effective=effective,
        value_quantity=value_quantity,
        value_codes=value_codes,
        value_string=value_string,
        value_boolean=raw_boolean if isinstance(raw_boolean, bool) else None,
        interpretation=concepts_codes(resource.get("interpretation")),
        components=components,
        has_member=tuple(m for m in members if m),
        notes=tuple(notes),
        reference_high=_reference_high(resource),
    )


def _component(component: Mapping[str, Any], notes: list[str]) -> ObservationComponent:
    value_quantity, value_codes, value_string = _value(component, notes)
    return ObservationComponent(
        codes=codings(component.get("code")),
        value_quantity=value_quantity,
        value_codes=value_codes,
        value_string=value_string,
        interpretation=concepts_codes(component.get("interpretation")),
        reference_high=_reference_high(component),
    )


def _reference_high(data: Mapping[str, Any]) -> Quantity | None:
    """referenceRange[0].high: for a drug test, the laboratory cutoff."""
    ranges = [r for r in as_list(data.get("referenceRange")) if isinstance(r, dict)]
    return quantity(ranges[0].get("high")) if ranges else None


def _effective(resource: Mapping[str, Any], notes: list[str]) -> Any:
    for key in ("effectiveDateTime", "effectiveInstant"):
        if key in resource:
            return parse_date(resource.get(key), notes, key)
    if "effectivePeriod" in resource:
        start, end = period(resource.get("effectivePeriod"), notes, "effectivePeriod")
        return start or end
    issued = parse_date(resource.get("issued"), notes, "issued")
    notes.append("no effective date; dated by issued" if issued else "no effective date")
    return issued


def _value(
    data: Mapping[str, Any], notes: list[str]
) -> tuple[Quantity | None, tuple[Code, ...], str | None]:
    """(quantity, codes, string) of value[x]; valueBoolean is read by the caller."""
    if "valueQuantity" in data:
        return quantity(data.get("valueQuantity")), (), None
    if "valueInteger" in data:
        amount = integer(data.get("valueInteger"))
        return (Quantity(value=float(amount)) if amount is not None else None), (), None
    if "valueCodeableConcept" in data:
        return None, codings(data.get("valueCodeableConcept")), None
    if "valueString" in data:
        return None, (), text_of(data.get("valueString"))
    other = next((k for k in data if k.startswith("value") and k != "valueBoolean"), None)
    if other is not None:
        notes.append(f"{other} not read")
    return None, (), None


def _questionnaire_response(
    resource: Mapping[str, Any], ref: str, notes: list[str], context: _Context
) -> Any:
    answers: list[QuestionnaireAnswer] = []
    _collect_answers(resource.get("item"), answers, notes)
    authored = parse_date(resource.get("authored"), notes, "authored")
    if authored is None and "authored" not in resource:
        notes.append("no authored date")
    return QuestionnaireResponseRecord(
        ref=ref,
        questionnaire=text_of(resource.get("questionnaire")),
        status=text_of(resource.get("status")),
        authored=authored,
        answers=tuple(answers),
        notes=tuple(notes),
    )


def _collect_answers(items: object, answers: list[QuestionnaireAnswer], notes: list[str]) -> None:
    """Flatten QuestionnaireResponse items (and items nested under items or answers)."""
    for item in as_list(items):
        if not isinstance(item, dict):
            continue
        link_id = text_of(item.get("linkId")) or ""
        codes = concepts_codes(item.get("code"))
        for answer in as_list(item.get("answer")):
            if not isinstance(answer, dict):
                continue
            answers.append(_answer(answer, link_id, codes))
            _collect_answers(answer.get("item"), answers, notes)
        _collect_answers(item.get("item"), answers, notes)


def _answer(
    answer: Mapping[str, Any], link_id: str, codes: tuple[Code, ...]
) -> QuestionnaireAnswer:
    for key in ("valueInteger", "valueDecimal"):
        if key in answer:
            return QuestionnaireAnswer(link_id, codes, value=number(answer.get(key)))
    if "valueCoding" in answer:
        raw = as_dict(answer.get("valueCoding"))
        code = codings(raw)
        ordinal = _ordinal(raw.get("extension"))
        if ordinal is None:
            ordinal = _ordinal(answer.get("extension"))
        return QuestionnaireAnswer(
            link_id, codes, value=ordinal, value_code=code[0] if code else None
        )
    if "valueQuantity" in answer:
        amount = quantity(answer.get("valueQuantity"))
        return QuestionnaireAnswer(link_id, codes, value=amount.value if amount else None)
    return QuestionnaireAnswer(link_id, codes, value_string=text_of(answer.get("valueString")))


def _ordinal(extensions: object) -> float | None:
    for extension in as_list(extensions):
        url = text_of(as_dict(extension).get("url")) or ""
        if url.endswith(_ORDINAL_EXTENSIONS):
            for key in ("valueDecimal", "valueInteger"):
                value = number(extension.get(key))
                if value is not None:
                    return value
    return None


def _procedure(resource: Mapping[str, Any], ref: str, notes: list[str], context: _Context) -> Any:
    performed = parse_date(resource.get("performedDateTime"), notes, "performedDateTime")
    if performed is None and "performedPeriod" in resource:
        start, end = period(resource.get("performedPeriod"), notes, "performedPeriod")
        performed = start or end
    if performed is None and not any(k.startswith("performed") for k in resource):
        notes.append("no performed date")
    return ProcedureRecord(
        ref=ref,
        codes=codings(resource.get("code")),
        text=concept_text(resource.get("code")),
        status=text_of(resource.get("status")),
        performed=performed,
        notes=tuple(notes),
    )


def _document(resource: Mapping[str, Any], ref: str, notes: list[str], context: _Context) -> Any:
    content_type = content_text = content_url = None
    for content in as_list(resource.get("content")):
        attachment = as_dict(as_dict(content).get("attachment"))
        this_type = text_of(attachment.get("contentType"))
        content_url = content_url or text_of(attachment.get("url"))
        data = attachment.get("data")
        if content_text is None and isinstance(data, str) and _is_plain_text(this_type):
            content_text = _decode_text(data, this_type or "", notes)
            if content_text is not None:
                content_type = this_type
        content_type = content_type or this_type
    context_period = as_dict(resource.get("context")).get("period")
    authors = as_list(resource.get("author"))
    author = None
    for pointer in authors:
        author = reference_display(pointer) or context.names_by_ref.get(
            relative_reference(reference_string(pointer)) or ""
        )
        if author:
            break
    return DocumentRecord(
        ref=ref,
        type_codes=codings(resource.get("type")),
        category_codes=concepts_codes(resource.get("category")),
        text=concept_text(resource.get("type")) or text_of(resource.get("description")),
        status=text_of(resource.get("status")),
        doc_status=text_of(resource.get("docStatus")),
        date=parse_date(resource.get("date"), notes, "date"),
        period_end=period(context_period, notes, "context.period")[1],
        author=author,
        content_type=content_type,
        content_text=content_text,
        content_url=content_url,
        notes=tuple(notes),
    )


def _is_plain_text(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";")[0].strip().lower() == "text/plain"


def _decode_text(data: str, content_type: str, notes: list[str]) -> str | None:
    if len(data) * 3 // 4 > MAX_TEXT_BYTES:
        notes.append(f"text attachment larger than {MAX_TEXT_BYTES // 1024} KiB not read")
        return None
    try:
        raw = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        notes.append("text attachment is not valid base64; not read")
        return None
    charset = "utf-8"
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    try:
        return raw.decode(charset, errors="replace")
    except LookupError:
        notes.append(f"text attachment charset {shown(charset)} unknown; read as UTF-8")
        return raw.decode("utf-8", errors="replace")


def _encounter(resource: Mapping[str, Any], ref: str, notes: list[str], context: _Context) -> Any:
    start, end = period(resource.get("period"), notes, "period")
    if start is None and end is None:
        notes.append("no period")
    klass = resource.get("class")
    class_codes = codings(klass) or concepts_codes(klass)
    participant = None
    for entry in as_list(resource.get("participant")):
        pointer = as_dict(entry).get("individual")
        participant = reference_display(pointer) or context.names_by_ref.get(
            relative_reference(reference_string(pointer)) or ""
        )
        if participant:
            break
    types = as_list(resource.get("type"))
    return EncounterRecord(
        ref=ref,
        status=text_of(resource.get("status")),
        class_code=class_codes[0].code if class_codes else None,
        type_codes=concepts_codes(types),
        reason_codes=concepts_codes(resource.get("reasonCode")),
        start=start,
        end=end,
        participant=participant,
        discharge_disposition=codings(
            as_dict(resource.get("hospitalization")).get("dischargeDisposition")
        ),
        text=concept_text(types[0]) if types else None,
        notes=tuple(notes),
    )


def _service_request(
    resource: Mapping[str, Any], ref: str, notes: list[str], context: _Context
) -> Any:
    return ServiceRequestRecord(
        ref=ref,
        codes=codings(resource.get("code")),
        text=concept_text(resource.get("code")),
        status=text_of(resource.get("status")),
        intent=text_of(resource.get("intent")),
        category_codes=concepts_codes(resource.get("category")),
        authored_on=parse_date(resource.get("authoredOn"), notes, "authoredOn"),
        notes=tuple(notes),
    )


def _episode(resource: Mapping[str, Any], ref: str, notes: list[str], context: _Context) -> Any:
    key = "type" if resource["resourceType"] == "EpisodeOfCare" else "category"
    concepts = as_list(resource.get(key))
    start, end = period(resource.get("period"), notes, "period")
    text = text_of(resource.get("title")) or text_of(resource.get("description"))
    return EpisodeRecord(
        ref=ref,
        type_codes=concepts_codes(concepts),
        text=text or (concept_text(concepts[0]) if concepts else None),
        status=text_of(resource.get("status")),
        start=start,
        end=end,
        notes=tuple(notes),
    )


def _first_code(concept: object) -> str | None:
    codes = codings(concept)
    return codes[0].code if codes else text_of(as_dict(concept).get("text"))


_Reader = Callable[[Mapping[str, Any], str, list[str], _Context], Any]
_READERS: dict[str, tuple[str, _Reader]] = {
    "MedicationRequest": ("medications", _medication),
    "MedicationDispense": ("medications", _medication),
    "MedicationStatement": ("medications", _medication),
    "Condition": ("conditions", _condition),
    "Observation": ("observations", _observation),
    "QuestionnaireResponse": ("questionnaire_responses", _questionnaire_response),
    "Procedure": ("procedures", _procedure),
    "DocumentReference": ("documents", _document),
    "Encounter": ("encounters", _encounter),
    "ServiceRequest": ("service_requests", _service_request),
    "EpisodeOfCare": ("episodes", _episode),
    "CarePlan": ("episodes", _episode),
}
_READERS_BY_FIELD = tuple(dict.fromkeys(field for field, _ in _READERS.values()))
