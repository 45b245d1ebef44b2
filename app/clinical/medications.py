"""MedicationRequest, MedicationDispense and MedicationStatement JSON -> MedicationRecord.

Follows FHIR R4 (MedicationRequest, MedicationDispense, MedicationStatement, Dosage) and the US
Core MedicationRequest guidance that clients SHALL read every form of `medication[x]`: a code,
or a reference to a contained (`#id`), included (`Medication/123`, absolute URL, urn:uuid) or
separately supplied Medication. A reference that cannot be resolved leaves the drug unknown
(never zero MME): the record keeps the reference's display text for name classification and
says what happened in `notes`.

Nothing here raises on messy data. Every problem met while reading (text-only sig, several
doseAndRate entries, partial dates, units of time we do not know) becomes a note on the record.
Dose units are kept as written; normalising "TAB", "tablet(s)", "{tbl}" is `sig.py`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.clinical.fhirjson import (
    as_dict,
    as_list,
    category_codes,
    codings,
    concept_text,
    concepts_codes,
    first_code,
    human_name,
    integer,
    number,
    parse_date,
    period,
    quantity,
    quantity_days,
    reference_display,
    reference_id,
    reference_string,
    relative_reference,
    shown,
    text_of,
)
from app.clinical.model import (
    RXNORM,
    Classification,
    ClassSource,
    Code,
    DoseInstruction,
    MedicationKind,
    MedicationRecord,
    Quantity,
)
from app.clinical.terminology import Terminology, load_terminology

#: Classifications already made, keyed by (codes, text).
ClassificationCache = dict[tuple[tuple[Code, ...], str | None], Classification]

_KINDS: dict[str, MedicationKind] = {kind.value: kind for kind in MedicationKind}


def medication_record(
    resource: Mapping[str, Any],
    *,
    medications_by_ref: Mapping[str, Mapping[str, Any]] | None = None,
    terminology: Terminology | None = None,
    names_by_ref: Mapping[str, str] | None = None,
    ref: str | None = None,
    classification_cache: ClassificationCache | None = None,
) -> MedicationRecord:
    """Read one medication resource into a MedicationRecord.

    Args:
        resource: a MedicationRequest, MedicationDispense or MedicationStatement as JSON.
        medications_by_ref: Medication resources keyed by "Medication/id" (and "urn:uuid:id"),
            from the same bundle or fetched separately, to resolve `medicationReference`.
        terminology: classifies the drug; None means `load_terminology()`.
        names_by_ref: display names of Practitioner/Organization/Location keyed by
            "Type/id", used when a requester or pharmacy reference has no display.
        ref: the record's "Type/id" when the caller has chosen one (e.g. for a resource
            without id); defaults to the resource's own type and id.
        classification_cache: a dict shared across calls for one chart, so that refills of
            the same drug are classified once.

    Returns:
        The record, with `notes` listing every data problem met.

    Raises:
        ValueError: if `resource` is not one of the three medication resource types (a
            caller error, not messy data).
    """
    kind = _KINDS.get(str(resource.get("resourceType")))
    if kind is None:
        raise ValueError(f"not a medication resource: {shown(resource.get('resourceType'))}")
    terms = terminology if terminology is not None else load_terminology()
    names = names_by_ref or {}
    notes: list[str] = []
    record_ref = ref or f"{kind.value}/{text_of(resource.get('id')) or 'unknown'}"

    codes, med_text = _medication(resource, medications_by_ref or {}, notes)
    cached = (
        classification_cache.get((codes, med_text)) if classification_cache is not None else None
    )
    classification = cached or terms.classify_medication(codes, med_text)
    if classification_cache is not None and cached is None:
        classification_cache[(codes, med_text)] = classification
    _note_coding(codes, classification.source, notes)

    status = text_of(resource.get("status"))
    if status is None:
        notes.append("no status")
    elif status == "entered-in-error":
        notes.append("entered in error; not counted")

    dosage_key = "dosageInstruction" if kind is not MedicationKind.STATEMENT else "dosage"
    dosages, sig_text = _dosages(resource.get(dosage_key), notes)
    fields: dict[str, Any] = {
        "ref": record_ref,
        "kind": kind,
        "codes": codes,
        "text": med_text,
        "classification": classification,
        "status": status,
        "dosages": dosages,
        "sig_text": sig_text,
        "reason_codes": concepts_codes(resource.get("reasonCode")),
    }
    if kind is MedicationKind.REQUEST:
        fields.update(_request_fields(resource, names, notes))
    elif kind is MedicationKind.DISPENSE:
        fields.update(_dispense_fields(resource, names, notes))
    else:
        fields.update(_statement_fields(resource, notes))
    return MedicationRecord(**fields, notes=tuple(notes))


# --------------------------------------------------------------------------- medication[x]


def _medication(
    resource: Mapping[str, Any],
    medications_by_ref: Mapping[str, Mapping[str, Any]],
    notes: list[str],
) -> tuple[tuple[Code, ...], str | None]:
    """Codes and text of medication[x], resolving a reference where possible."""
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        return codings(concept), concept_text(concept)
    pointer = resource.get("medicationReference")
    if not isinstance(pointer, dict):
        notes.append("no medication given (neither medicationCodeableConcept nor reference)")
        return (), None
    reference = reference_string(pointer)
    display = reference_display(pointer)
    medication = _resolve(reference, resource, medications_by_ref)
    if medication is None:
        notes.append(f"medication reference {shown(reference or '(none)')} could not be resolved")
        return (), display
    code = medication.get("code")
    codes = codings(code)
    if not codes:
        notes.append(f"referenced Medication {shown(reference)} has no code")
    return codes, concept_text(code) or display


def _resolve(
    reference: str | None,
    resource: Mapping[str, Any],
    medications_by_ref: Mapping[str, Mapping[str, Any]],
) -> Mapping[str, Any] | None:
    if reference is None:
        return None
    if reference.startswith("#"):
        return _contained(resource, reference[1:], "Medication")
    found = medications_by_ref.get(reference)
    if found is None:
        key = relative_reference(reference)
        found = medications_by_ref.get(key) if key is not None else None
    return found


def _contained(
    resource: Mapping[str, Any], local_id: str, resource_type: str
) -> Mapping[str, Any] | None:
    for item in as_list(resource.get("contained")):
        if (
            isinstance(item, dict)
            and item.get("id") == local_id
            and item.get("resourceType") == resource_type
        ):
            return item
    return None


def _note_coding(codes: tuple[Code, ...], source: ClassSource, notes: list[str]) -> None:
    rxnorm = [c.code for c in codes if c.system == RXNORM]
    if not codes:
        if source is ClassSource.NAME:
            notes.append("medication not coded; classified from its name")
        return
    if not rxnorm:
        given = ", ".join(f"{c.system or '(no system)'}|{c.code}" for c in codes[:3])
        notes.append(f"no RxNorm code (codes given: {given})")
    elif source is ClassSource.NAME:
        notes.append(f"classified from its name, not its RxNorm code {', '.join(rxnorm)}")


# --------------------------------------------------------------------------- per kind


def _request_fields(
    resource: Mapping[str, Any], names: Mapping[str, str], notes: list[str]
) -> dict[str, Any]:
    authored_on = parse_date(resource.get("authoredOn"), notes, "authoredOn")
    if authored_on is None and "authoredOn" not in resource:
        notes.append("no authoredOn date")
    dispense = as_dict(resource.get("dispenseRequest"))
    validity_start, validity_end = period(dispense.get("validityPeriod"), notes, "validityPeriod")
    supply = quantity(dispense.get("expectedSupplyDuration"))
    repeats_raw = dispense.get("numberOfRepeatsAllowed")
    repeats = integer(repeats_raw)
    if repeats_raw is not None and repeats is None:
        notes.append(f"numberOfRepeatsAllowed {shown(repeats_raw)} is not a whole number")
    prescriber, prescriber_display = _party(resource.get("requester"), resource, names)
    return {
        "intent": text_of(resource.get("intent")),
        "categories": category_codes(resource.get("category")),
        "authored_on": authored_on,
        "validity_start": validity_start,
        "validity_end": validity_end,
        "prescriber": prescriber,
        "prescriber_display": prescriber_display,
        "dispense_quantity": quantity(dispense.get("quantity")),
        "expected_supply_days": quantity_days(supply, notes, "expectedSupplyDuration"),
        "repeats_allowed": repeats,
        "reported": resource.get("reportedBoolean") is True
        or isinstance(resource.get("reportedReference"), dict),
    }


def _dispense_fields(
    resource: Mapping[str, Any], names: Mapping[str, str], notes: list[str]
) -> dict[str, Any]:
    handed_over = parse_date(resource.get("whenHandedOver"), notes, "whenHandedOver")
    if handed_over is None:
        handed_over = parse_date(resource.get("whenPrepared"), notes, "whenPrepared")
        if handed_over is not None:
            notes.append("no whenHandedOver; dated by whenPrepared")
        else:
            notes.append("no dispense date (whenHandedOver, whenPrepared)")
    pharmacy_ref, pharmacy_name = None, None
    for performer in as_list(resource.get("performer")):
        pharmacy_ref, pharmacy_name = _party(as_dict(performer).get("actor"), resource, names)
        if pharmacy_ref or pharmacy_name:
            break
    if not (pharmacy_ref or pharmacy_name):
        pharmacy_ref, pharmacy_name = _party(resource.get("location"), resource, names)
    authorizing = as_list(resource.get("authorizingPrescription"))
    if len(authorizing) > 1:
        notes.append(f"{len(authorizing)} authorizing prescriptions; linked to the first")
    prescription = reference_string(authorizing[0]) if authorizing else None
    request_id = reference_id(prescription, "MedicationRequest")
    return {
        "categories": category_codes(resource.get("category")),
        "pharmacy": pharmacy_name or pharmacy_ref,
        "dispense_quantity": quantity(resource.get("quantity")),
        "days_supply": quantity_days(
            quantity(resource.get("daysSupply")), notes, "daysSupply", default_unit="d"
        ),
        "handed_over": handed_over,
        "authorizing_prescription": (
            f"MedicationRequest/{request_id}" if request_id else prescription
        ),
    }


def _statement_fields(resource: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    start = parse_date(resource.get("effectiveDateTime"), notes, "effectiveDateTime")
    end = None
    if start is None and isinstance(resource.get("effectivePeriod"), dict):
        start, end = period(resource.get("effectivePeriod"), notes, "effectivePeriod")
    if start is None and end is None:
        notes.append("no effective date")
    source = relative_reference(reference_string(resource.get("informationSource"))) or ""
    return {
        "categories": category_codes(resource.get("category")),
        "effective_start": start,
        "effective_end": end,
        "reported": source.startswith(("Patient/", "RelatedPerson/")),
    }


def _party(
    pointer: object, resource: Mapping[str, Any], names: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """(reference, display name) of a requester / performer / location Reference."""
    reference = reference_string(pointer)
    display = reference_display(pointer)
    if display is None and reference is not None:
        if reference.startswith("#"):
            for resource_type in ("Practitioner", "Organization", "Location", "PractitionerRole"):
                found = _contained(resource, reference[1:], resource_type)
                if found is not None:
                    display = human_name(found.get("name")) or text_of(found.get("name"))
                    break
        else:
            display = names.get(relative_reference(reference) or reference)
    return relative_reference(reference), display


# --------------------------------------------------------------------------- dosage


def _dosages(value: object, notes: list[str]) -> tuple[tuple[DoseInstruction, ...], str | None]:
    """All Dosage entries and their joined free-text sig."""
    entries = as_list(value)
    if not entries:
        notes.append("no dosage instructions")
        return (), None
    dosages: list[DoseInstruction] = []
    sig_parts: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            notes.append(f"dosage entry {shown(entry)} is not a JSON object")
            continue
        dosages.append(dose_instruction(entry, notes))
        for key in ("text", "patientInstruction"):
            text = text_of(entry.get(key))
            if text is not None and text not in sig_parts:
                sig_parts.append(text)
    return tuple(dosages), "; ".join(sig_parts) or None


def dose_instruction(dosage: Mapping[str, Any], notes: list[str]) -> DoseInstruction:
    """One FHIR Dosage as a DoseInstruction; problems go to `notes`."""
    dose, dose_low, dose_high = _dose(dosage, notes)
    timing = as_dict(dosage.get("timing"))
    repeat = as_dict(timing.get("repeat"))
    bounds_start, bounds_end = period(repeat.get("boundsPeriod"), notes, "boundsPeriod")
    max_dose, max_days = _max_dose(dosage.get("maxDosePerPeriod"), notes)
    instruction = DoseInstruction(
        sequence=integer(dosage.get("sequence")),
        text=text_of(dosage.get("text")),
        dose=dose,
        dose_low=dose_low,
        dose_high=dose_high,
        frequency=_number_field(repeat, "frequency"),
        frequency_max=_number_field(repeat, "frequencyMax"),
        period=_number_field(repeat, "period"),
        period_max=_number_field(repeat, "periodMax"),
        period_unit=text_of(repeat.get("periodUnit")),
        timing_code=first_code(timing.get("code")),
        when_count=len({w for w in as_list(repeat.get("when")) if isinstance(w, str)}),
        time_of_day_count=len({t for t in as_list(repeat.get("timeOfDay")) if isinstance(t, str)}),
        as_needed=dosage.get("asNeededBoolean") is True
        or isinstance(dosage.get("asNeededCodeableConcept"), dict),
        max_dose_per_period=max_dose,
        max_dose_period_days=max_days,
        bounds_start=bounds_start,
        bounds_end=bounds_end,
    )
    if dose is None and dose_low is None and dose_high is None:
        sig = text_of(dosage.get("text")) or text_of(dosage.get("patientInstruction"))
        notes.append(f"dose not coded; sig text: {sig}" if sig else "dosage has no dose")
    elif not (
        instruction.frequency
        or instruction.timing_code
        or instruction.when_count
        or instruction.time_of_day_count
    ):
        notes.append("dosage has no timing")
    return instruction


def _number_field(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    return None if value is None else number(value)


def _dose(
    dosage: Mapping[str, Any], notes: list[str]
) -> tuple[Quantity | None, Quantity | None, Quantity | None]:
    """(dose, low, high) from the chosen doseAndRate entry (STU3-style dose[x] tolerated)."""
    entries = [e for e in as_list(dosage.get("doseAndRate")) if isinstance(e, dict)]
    chosen: Mapping[str, Any] = entries[0] if entries else dosage
    if len(entries) > 1:
        ordered = [e for e in entries if _is_ordered(e.get("type"))]
        chosen = ordered[0] if ordered else entries[0]
        which = "the one typed 'ordered'" if ordered else "the first"
        notes.append(f"{len(entries)} doseAndRate entries; used {which}")
    dose = quantity(chosen.get("doseQuantity"))
    dose_range = chosen.get("doseRange")
    if not isinstance(dose_range, dict):
        return dose, None, None
    return dose, quantity(dose_range.get("low")), quantity(dose_range.get("high"))


def _is_ordered(concept: object) -> bool:
    """True for a doseAndRate.type coded or written as "ordered" (Epic sends several types)."""
    if not isinstance(concept, dict):
        return False
    for item in as_list(concept.get("coding")):
        code = item.get("code") if isinstance(item, dict) else None
        if isinstance(code, str) and code.strip().lower() == "ordered":
            return True
    text = concept.get("text")
    return isinstance(text, str) and text.strip().lower() == "ordered"


def _max_dose(value: object, notes: list[str]) -> tuple[Quantity | None, float | None]:
    if value is None:
        return None, None
    ratio = as_dict(value if not isinstance(value, list) else (value[:1] or [None])[0])
    numerator = quantity(ratio.get("numerator"))
    denominator = quantity(ratio.get("denominator"))
    days = quantity_days(denominator, notes, "maxDosePerPeriod denominator")
    return numerator, days
