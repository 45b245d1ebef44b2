"""Tolerant readers for FHIR R4 JSON: codings, dates, quantities and references from plain dicts.

EHR data arrives as parsed JSON (`dict`/`list`/`str`/numbers) and is often messy: a string
where a list is due, a partial date, a number as text. Strict models (fhir.resources) reject
such input and are slow, so the core reads dicts with these helpers instead. None of them ever
raises on bad input: each returns ``None`` or an empty tuple, and the ones that make a choice
the reader should know about append a sentence to a caller's ``notes`` list.

Follows FHIR R4 datatypes (https://hl7.org/fhir/R4/datatypes.html): CodeableConcept, Coding,
Quantity, Period, Reference, and the date/dateTime formats. A dateTime keeps its calendar day
as written ("2025-03-01T23:30:00-08:00" is 2025-03-01); time zones are not shifted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from app.clinical.model import Code, Quantity, normalise_system

#: Days per unit of time, keyed by UCUM code and common spellings. A month is 30 days and a
#: year 365 days, the pharmacy convention for days supply (UCUM's mean month is 30.4375 d).
_DAYS_PER_UNIT: dict[str, float] = {
    "s": 1 / 86400,
    "sec": 1 / 86400,
    "second": 1 / 86400,
    "seconds": 1 / 86400,
    "min": 1 / 1440,
    "minute": 1 / 1440,
    "minutes": 1 / 1440,
    "h": 1 / 24,
    "hr": 1 / 24,
    "hrs": 1 / 24,
    "hour": 1 / 24,
    "hours": 1 / 24,
    "d": 1.0,
    "day": 1.0,
    "days": 1.0,
    "wk": 7.0,
    "week": 7.0,
    "weeks": 7.0,
    "mo": 30.0,
    "month": 30.0,
    "months": 30.0,
    "a": 365.0,
    "yr": 365.0,
    "year": 365.0,
    "years": 365.0,
}

_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
_MAX_SHOWN = 40


def shown(value: object) -> str:
    """A short printable form of a raw value for a note (never a whole sig or document)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def as_list(value: object) -> list[Any]:
    """The value as a list: a list as is, a single dict wrapped, anything else empty."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    return []


def as_dict(value: object) -> Mapping[str, Any]:
    """The value if it is a JSON object, else an empty mapping."""
    return value if isinstance(value, dict) else {}


def text_of(value: object) -> str | None:
    """A non-empty stripped string, or None for anything else."""
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def number(value: object) -> float | None:
    """A JSON number (not a boolean) or a numeric string as float, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            return None
        return parsed if parsed == parsed else None  # NaN is not a number here
    return None


def integer(value: object) -> int | None:
    """A whole number (int, or a float/str holding one), else None."""
    parsed = number(value)
    if parsed is None or not parsed.is_integer():
        return None
    return int(parsed)


def coding(value: object) -> Code | None:
    """One Coding as a Code; None when it has no code. A missing system becomes ""."""
    if not isinstance(value, dict):
        return None
    raw_code = value.get("code")
    if isinstance(raw_code, int) and not isinstance(raw_code, bool):
        raw_code = str(raw_code)
    code = text_of(raw_code)
    if code is None:
        return None
    system = value.get("system")
    system = (text_of(system) or "") if system is not None else ""
    display = value.get("display")
    return Code(
        system=normalise_system(system),
        code=code,
        display=None if display is None else text_of(display),
    )


def codings(concept: object) -> tuple[Code, ...]:
    """All Codings of a CodeableConcept (or of a bare Coding) that carry a code."""
    if not isinstance(concept, dict):
        return ()
    if "coding" not in concept and "code" in concept:
        single = coding(concept)
        return (single,) if single else ()
    found: list[Code] = []
    for item in as_list(concept.get("coding")):
        code = coding(item)
        if code is not None:
            found.append(code)
    return tuple(found)


def concepts_codes(concepts: object) -> tuple[Code, ...]:
    """The Codings of a list of CodeableConcepts, flattened in order."""
    found: list[Code] = []
    for concept in as_list(concepts):
        found.extend(codings(concept))
    return tuple(found)


def concept_text(concept: object) -> str | None:
    """CodeableConcept.text, else the first coding display."""
    if not isinstance(concept, dict):
        return None
    text = text_of(concept.get("text"))
    if text is not None:
        return text
    for item in as_list(concept.get("coding")):
        display = text_of(as_dict(item).get("display"))
        if display is not None:
            return display
    return None


def first_code(concept: object) -> str | None:
    """The first coding's code of a CodeableConcept, else its text (e.g. timing code BID)."""
    for code in codings(concept):
        return code.code
    return text_of(as_dict(concept).get("text"))


def category_codes(concepts: object) -> tuple[str, ...]:
    """Category codes of a list of CodeableConcepts; a concept with text only gives its text."""
    found: list[str] = []
    for concept in as_list(concepts):
        codes = codings(concept)
        if codes:
            found.extend(c.code for c in codes if c.code not in found)
        else:
            text = text_of(as_dict(concept).get("text"))
            if text is not None and text.lower() not in found:
                found.append(text.lower())
    return tuple(found)


def parse_date(value: object, notes: list[str], label: str) -> date | None:
    """The calendar day of a FHIR date/dateTime/instant, as written (no time-zone shift).

    Args:
        value: the raw JSON value.
        notes: a partial date ("2025-03" -> 2025-03-01) or an unreadable one adds a note here.
        label: the element name used in the note, e.g. "authoredOn".

    Returns:
        The day, or None when the value is missing or unreadable.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        notes.append(f"{label} {shown(value)} is not a date")
        return None
    text = value.strip()
    if len(text) >= 10 and (len(text) == 10 or text[10] in "T "):
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            pass
    else:
        match = _PARTIAL_DATE.match(text)
        if match:
            month = int(match.group(2) or 1)
            if 1 <= month <= 12:
                day = date(int(match.group(1)), month, 1)
                notes.append(f"{label} {text} is a partial date; read as {day.isoformat()}")
                return day
    notes.append(f"{label} {shown(value)} is not a date")
    return None


def period(value: object, notes: list[str], label: str) -> tuple[date | None, date | None]:
    """(start, end) days of a Period."""
    if not isinstance(value, dict):
        return None, None
    start, end = value.get("start"), value.get("end")
    return (
        None if start is None else parse_date(start, notes, f"{label}.start"),
        None if end is None else parse_date(end, notes, f"{label}.end"),
    )


def quantity(value: object) -> Quantity | None:
    """A Quantity (or SimpleQuantity) with a numeric value, else None."""
    if not isinstance(value, dict):
        return None
    amount = number(value.get("value"))
    if amount is None:
        return None
    unit, code, system = value.get("unit"), value.get("code"), value.get("system")
    return Quantity(
        value=amount,
        unit=None if unit is None else text_of(unit),
        code=None if code is None else text_of(code),
        system=None if system is None else text_of(system),
    )


def days_per_unit(unit: str | None) -> float | None:
    """Days in one unit of time (UCUM code or common spelling), None when unknown."""
    if unit is None:
        return None
    return _DAYS_PER_UNIT.get(unit.strip().lower())


def quantity_days(
    value: Quantity | None, notes: list[str], label: str, *, default_unit: str | None = None
) -> float | None:
    """A duration Quantity converted to days; an unknown unit adds a note and gives None.

    Args:
        value: the Quantity (Duration) read with `quantity`.
        notes: where a note on an unknown unit goes.
        label: the element name used in the note.
        default_unit: unit assumed when the Quantity has neither code nor unit (e.g. "d"
            for MedicationDispense.daysSupply, which is days by definition).
    """
    if value is None:
        return None
    unit = value.code or value.unit or default_unit
    factor = days_per_unit(unit)
    if factor is None and value.code and value.unit:
        factor = days_per_unit(value.unit)
    if factor is None:
        if unit is None:
            notes.append(f"{label} has no unit; not converted to days")
        else:
            notes.append(f"{label} unit {shown(unit)} is not a unit of time; not converted to days")
        return None
    return value.value * factor


def reference_string(value: object) -> str | None:
    """Reference.reference as written."""
    return text_of(as_dict(value).get("reference"))


def reference_display(value: object) -> str | None:
    """Reference.display."""
    return text_of(as_dict(value).get("display"))


def relative_reference(reference: str | None) -> str | None:
    """A reference in the form used as a lookup key.

    "#id" (contained) and "urn:uuid:..." are kept; "Type/id", absolute URLs ending in
    "Type/id" and "_history" versions become "Type/id". Anything else is kept as written.
    """
    if reference is None:
        return None
    if reference.startswith(("#", "urn:")):
        return reference
    parts = reference.rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) >= 2 and parts[-2][:1].isupper() and parts[-1]:
        return f"{parts[-2]}/{parts[-1]}"
    return reference


def reference_id(reference: str | None, resource_type: str) -> str | None:
    """The id a reference points at when it names `resource_type` (or is a urn:uuid)."""
    key = relative_reference(reference)
    if key is None:
        return None
    if key.startswith("urn:uuid:"):
        return key[len("urn:uuid:") :] or None
    prefix = resource_type + "/"
    if key.startswith(prefix):
        return key[len(prefix) :] or None
    return None


def resource_ref(resource: Mapping[str, Any]) -> str | None:
    """ "ResourceType/id" of a resource, or None without a usable type and id."""
    resource_type = text_of(resource.get("resourceType"))
    resource_id = text_of(resource.get("id"))
    if resource_type is None or resource_id is None:
        return None
    return f"{resource_type}/{resource_id}"


def human_name(names: object) -> str | None:
    """A HumanName list as one string: the official (else first) name's text or given+family."""
    candidates = [n for n in as_list(names) if isinstance(n, dict)]
    if not candidates:
        return None
    chosen = next((n for n in candidates if n.get("use") == "official"), candidates[0])
    text = text_of(chosen.get("text"))
    if text is not None:
        return text
    raw_given = chosen.get("given")
    given_list = [raw_given] if isinstance(raw_given, str) else as_list(raw_given)
    given = [g.strip() for g in given_list if text_of(g)]
    family = text_of(chosen.get("family"))
    parts = [*given, family] if family else given
    return " ".join(parts) or None
