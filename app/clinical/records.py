"""Readers of single FHIR R4 resources into the core's records (one function per type).

Each reader takes the resource dict, its reference, the list of notes collected so far and a
`ReaderContext` (terminology, Medications and names indexed from the same input) and returns a
record; it never raises on messy data. `chart.py` decides which resources to read; this module
only knows how to read each one (FHIR R4 resource pages; US Core read guidance in
docs/standards.md section 4).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
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
    quantity_days,
    reference_display,
    reference_string,
    relative_reference,
    shown,
    text_of,
)
from app.clinical.medications import ClassificationCache, medication_record
from app.clinical.model import (
    Code,
    ConditionRecord,
    DocumentRecord,
    EncounterRecord,
    EpisodeRecord,
    GoalRecord,
    ObservationComponent,
    ObservationRecord,
    PatientInfo,
    ProcedureRecord,
    Quantity,
    QuestionnaireAnswer,
    QuestionnaireResponseRecord,
    ServiceRequestRecord,
)
from app.clinical.terminology import Terminology

#: Largest text/plain attachment decoded into DocumentRecord.content_text.
MAX_TEXT_BYTES = 64 * 1024

_ORDINAL_EXTENSIONS = ("ordinalValue", "itemWeight", "iso21090-CO-value")


@dataclass(slots=True)
class ReaderContext:
    """What readers share while one chart is built."""

    terminology: Terminology
    medications_by_ref: dict[str, Mapping[str, Any]]
    names_by_ref: dict[str, str]
    classifications: ClassificationCache


def read_patient(resource: Mapping[str, Any], ref: str, notes: list[str]) -> PatientInfo:
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


def _medication(
    resource: Mapping[str, Any], ref: str, notes: list[str], context: ReaderContext
) -> Any:
    record = medication_record(
        resource,
        medications_by_ref=context.medications_by_ref,
        terminology=context.terminology,
        names_by_ref=context.names_by_ref,
        ref=ref,
        classification_cache=context.classifications,
    )
    return replace(record, notes=(*notes, *record.notes)) if notes else record


def _condition(
    resource: Mapping[str, Any], ref: str, notes: list[str], context: ReaderContext
) -> Any:
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


def _observation(
    resource: Mapping[str, Any], ref: str, notes: list[str], context: ReaderContext
) -> Any:
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
    resource: Mapping[str, Any], ref: str, notes: list[str], context: ReaderContext
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


def _procedure(
    resource: Mapping[str, Any], ref: str, notes: list[str], context: ReaderContext
) -> Any:
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


def _document(
    resource: Mapping[str, Any], ref: str, notes: list[str], context: ReaderContext
) -> Any:
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


def _encounter(
    resource: Mapping[str, Any], ref: str, notes: list[str], context: ReaderContext
) -> Any:
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
    resource: Mapping[str, Any], ref: str, notes: list[str], context: ReaderContext
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


def _episode(
    resource: Mapping[str, Any], ref: str, notes: list[str], context: ReaderContext
) -> Any:
    key = "type" if resource["resourceType"] == "EpisodeOfCare" else "category"
    concepts = as_list(resource.get(key))
    start, end = period(resource.get("period"), notes, "period")
    text = text_of(resource.get("title")) or text_of(resource.get("description"))
    goals = (relative_reference(reference_string(g)) for g in as_list(resource.get("goal")))
    return EpisodeRecord(
        ref=ref,
        type_codes=concepts_codes(concepts),
        text=text or (concept_text(concepts[0]) if concepts else None),
        status=text_of(resource.get("status")),
        start=start,
        end=end,
        notes=tuple(notes),
        goal_refs=tuple(g for g in goals if g),
    )


def _goal(resource: Mapping[str, Any], ref: str, notes: list[str], context: ReaderContext) -> Any:
    """Goal (R4; US Core Goal: lifecycleStatus, description, subject, target.dueDate)."""
    description = resource.get("description")
    text = concept_text(description)
    if text is None:
        notes.append("no description text")
    start = parse_date(resource.get("startDate"), notes, "startDate")
    if start is None and "startCodeableConcept" in resource:
        notes.append("start given as a code only")
    achievement = resource.get("achievementStatus")
    achievement_codes = codings(achievement)
    annotations = (text_of(as_dict(n).get("text")) for n in as_list(resource.get("note")))
    return GoalRecord(
        ref=ref,
        description=text,
        description_codes=codings(description),
        lifecycle_status=text_of(resource.get("lifecycleStatus")),
        achievement_status=achievement_codes[0].code if achievement_codes else None,
        achievement_display=concept_text(achievement),
        start=start,
        target_due=_goal_due(resource.get("target"), start, notes),
        status_date=parse_date(resource.get("statusDate"), notes, "statusDate"),
        categories=category_codes(resource.get("category")),
        annotations=tuple(a for a in annotations if a),
        notes=tuple(notes),
    )


def _goal_due(targets: object, start: date | None, notes: list[str]) -> date | None:
    """The earliest target.dueDate, or startDate + target.dueDuration."""
    days: list[date] = []
    for raw in as_list(targets):
        target = as_dict(raw)
        if "dueDate" in target:
            due = parse_date(target.get("dueDate"), notes, "target.dueDate")
            if due is not None:
                days.append(due)
        elif "dueDuration" in target:
            length = quantity_days(quantity(target.get("dueDuration")), notes, "target.dueDuration")
            if length is not None and start is not None:
                days.append(start + timedelta(days=round(length)))
            elif length is not None:
                notes.append("target.dueDuration without a startDate; no due date")
    return min(days, default=None)


def _first_code(concept: object) -> str | None:
    codes = codings(concept)
    return codes[0].code if codes else text_of(as_dict(concept).get("text"))


Reader = Callable[[Mapping[str, Any], str, list[str], ReaderContext], Any]
READERS: dict[str, tuple[str, Reader]] = {
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
    "Goal": ("goals", _goal),
}
READERS_BY_FIELD = tuple(dict.fromkeys(field for field, _ in READERS.values()))
