"""Tolerant FHIR JSON readers: they never raise, and say what they could not read."""

from datetime import date

import pytest

from app.clinical.fhirjson import (
    as_list,
    category_codes,
    codings,
    concept_text,
    first_code,
    human_name,
    integer,
    number,
    parse_date,
    period,
    quantity,
    quantity_days,
    reference_id,
    relative_reference,
    resource_ref,
    shown,
)
from app.clinical.model import LOINC, RXNORM, SNOMED, Code, Quantity


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("2025-03-01", date(2025, 3, 1), id="date"),
        pytest.param(
            "2025-03-01T23:30:00-08:00", date(2025, 3, 1), id="late-evening-negative-offset"
        ),
        pytest.param(
            "2025-03-01T00:30:00+14:00", date(2025, 3, 1), id="early-morning-positive-offset"
        ),
        pytest.param("2025-03-01T10:00:00Z", date(2025, 3, 1), id="instant-utc"),
        pytest.param("2025-03-01 10:00", date(2025, 3, 1), id="space-separated-time"),
    ],
)
def test_parse_date_keeps_the_day_as_written_without_a_note(raw, expected):
    notes: list[str] = []
    assert parse_date(raw, notes, "authoredOn") == expected
    assert notes == []


@pytest.mark.parametrize(
    ("raw", "expected", "note"),
    [
        pytest.param(
            "2025-03",
            date(2025, 3, 1),
            "authoredOn 2025-03 is a partial date; read as 2025-03-01",
            id="year-month",
        ),
        pytest.param(
            "2025",
            date(2025, 1, 1),
            "authoredOn 2025 is a partial date; read as 2025-01-01",
            id="year",
        ),
        pytest.param("03/31/2026", None, "authoredOn 03/31/2026 is not a date", id="us-format"),
        pytest.param("2025-02-30", None, "authoredOn 2025-02-30 is not a date", id="no-such-day"),
        pytest.param("2025-13", None, "authoredOn 2025-13 is not a date", id="no-such-month"),
        pytest.param("", None, "authoredOn  is not a date", id="empty-string"),
        pytest.param(20250301, None, "authoredOn 20250301 is not a date", id="number"),
    ],
)
def test_parse_date_notes_partial_and_unreadable_dates(raw, expected, note):
    notes: list[str] = []
    assert parse_date(raw, notes, "authoredOn") == expected
    assert notes == [note]


def test_parse_date_of_a_missing_value_is_none_without_note():
    notes: list[str] = []
    assert parse_date(None, notes, "authoredOn") is None
    assert notes == []


def test_period_reads_start_and_end_and_tolerates_a_non_object():
    notes: list[str] = []
    assert period({"start": "2026-01-10", "end": "2027-01"}, notes, "validityPeriod") == (
        date(2026, 1, 10),
        date(2027, 1, 1),
    )
    assert notes == ["validityPeriod.end 2027-01 is a partial date; read as 2027-01-01"]
    assert period("2026-01-10", notes, "validityPeriod") == (None, None)


def test_codings_skip_entries_without_code_and_map_oid_systems():
    concept = {
        "coding": [
            {"system": "urn:oid:2.16.840.1.113883.6.88", "code": "1049563"},
            {"system": RXNORM, "display": "no code here"},
            "not a coding",
            {"code": 12345},
            {"system": " http://loinc.org ", "code": " 16250-3 ", "display": " Oxycodone "},
        ],
        "text": "oxycodone",
    }
    assert codings(concept) == (
        Code(RXNORM, "1049563"),
        Code("", "12345"),
        Code("http://loinc.org", "16250-3", "Oxycodone"),
    )


@pytest.mark.parametrize(
    "concept",
    [
        pytest.param(None, id="none"),
        pytest.param("text", id="string"),
        pytest.param({"coding": "oops"}, id="coding-not-a-list"),
        pytest.param({"coding": [{"system": SNOMED, "code": True}]}, id="boolean-code"),
        pytest.param([{"coding": []}], id="list-instead-of-concept"),
    ],
)
def test_codings_of_malformed_concepts_are_empty(concept):
    assert codings(concept) == ()


def test_a_bare_coding_is_read_as_a_concept():
    assert codings({"system": LOINC, "code": "94136-9"}) == (Code(LOINC, "94136-9"),)


def test_concept_text_prefers_text_then_first_display():
    assert concept_text({"text": " Oxycontin ", "coding": [{"display": "x"}]}) == "Oxycontin"
    assert concept_text({"coding": [{"code": "1"}, {"display": "second"}]}) == "second"
    assert concept_text({"coding": [{"code": "1"}]}) is None
    assert concept_text(["not", "a", "concept"]) is None


def test_first_code_falls_back_to_text_as_for_timing_codes():
    assert first_code({"coding": [{"code": "BID"}], "text": "twice a day"}) == "BID"
    assert first_code({"text": "every 12 hours"}) == "every 12 hours"
    assert first_code(None) is None


def test_category_codes_keep_order_without_duplicates_and_use_text_when_uncoded():
    categories = [
        {"coding": [{"code": "community"}, {"code": "outpatient"}]},
        {"coding": [{"code": "community"}]},
        {"text": "Discharge"},
        "junk",
    ]
    assert category_codes(categories) == ("community", "outpatient", "discharge")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(5, 5.0, id="int"),
        pytest.param(2.5, 2.5, id="float"),
        pytest.param(" 7.5 ", 7.5, id="numeric-string"),
        pytest.param(True, None, id="boolean-is-not-a-number"),
        pytest.param("two", None, id="word"),
        pytest.param("nan", None, id="nan"),
        pytest.param(None, None, id="none"),
    ],
)
def test_number_reads_json_numbers_and_numeric_strings(raw, expected):
    assert number(raw) == expected


def test_integer_accepts_only_whole_numbers():
    assert integer(3) == 3
    assert integer(3.0) == 3
    assert integer("2") == 2
    assert integer(2.5) is None
    assert integer("x") is None


def test_quantity_keeps_unit_and_code_as_written():
    raw = {"value": "1", "unit": "tablet(s)", "system": "urn:x", "code": "{tbl}"}
    assert quantity(raw) == Quantity(1.0, unit="tablet(s)", code="{tbl}", system="urn:x")
    assert quantity({"unit": "mg"}) is None
    assert quantity({"value": "lots"}) is None
    assert quantity([1]) is None


@pytest.mark.parametrize(
    ("raw", "days"),
    [
        pytest.param(Quantity(30, "Day", "d"), 30.0, id="days-by-code"),
        pytest.param(Quantity(2, "wk"), 14.0, id="weeks-by-unit"),
        pytest.param(Quantity(1, "month", "mo"), 30.0, id="month-is-30-days"),
        pytest.param(Quantity(36, "h", "h"), 1.5, id="hours"),
        pytest.param(Quantity(1, "a"), 365.0, id="year"),
        pytest.param(Quantity(3, "Days", "DAYS-LOCAL"), 3.0, id="unknown-code-but-known-unit"),
    ],
)
def test_quantity_days_converts_units_of_time(raw, days):
    notes: list[str] = []
    assert quantity_days(raw, notes, "expectedSupplyDuration") == pytest.approx(days)
    assert notes == []


def test_quantity_days_notes_an_unknown_unit_instead_of_guessing():
    notes: list[str] = []
    assert quantity_days(Quantity(5, "fortnights"), notes, "expectedSupplyDuration") is None
    assert notes == [
        "expectedSupplyDuration unit fortnights is not a unit of time; not converted to days"
    ]


def test_quantity_days_uses_the_default_unit_only_when_none_is_written():
    notes: list[str] = []
    assert quantity_days(Quantity(30), notes, "daysSupply", default_unit="d") == 30.0
    assert quantity_days(Quantity(30), notes, "x") is None
    assert notes == ["x has no unit; not converted to days"]


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        pytest.param("Medication/123", "Medication/123", id="relative"),
        pytest.param("https://ehr.example/fhir/R4/Medication/123", "Medication/123", id="absolute"),
        pytest.param("Medication/123/_history/4", "Medication/123", id="versioned"),
        pytest.param(
            "https://ehr.example/fhir/Medication/123/_history/4",
            "Medication/123",
            id="abs-versioned",
        ),
        pytest.param("#med1", "#med1", id="contained"),
        pytest.param("urn:uuid:abc", "urn:uuid:abc", id="uuid"),
        pytest.param("odd", "odd", id="kept-as-written"),
        pytest.param(None, None, id="none"),
    ],
)
def test_relative_reference_normalises_lookup_keys(reference, expected):
    assert relative_reference(reference) == expected


def test_reference_id_reads_the_id_for_the_named_type_only():
    assert reference_id("https://x/fhir/Patient/p1", "Patient") == "p1"
    assert reference_id("urn:uuid:p1", "Patient") == "p1"
    assert reference_id("Group/g1", "Patient") is None
    assert reference_id(None, "Patient") is None


def test_resource_ref_needs_type_and_id():
    assert resource_ref({"resourceType": "Observation", "id": "o1"}) == "Observation/o1"
    assert resource_ref({"resourceType": "Observation"}) is None


def test_human_name_prefers_official_then_text_then_given_and_family():
    names = [
        {"use": "usual", "text": "Sam"},
        {"use": "official", "given": ["Samantha", " Q "], "family": "Testperson"},
    ]
    assert human_name(names) == "Samantha Q Testperson"
    assert human_name([{"text": "Dr. Lee"}]) == "Dr. Lee"
    assert human_name({"given": "Jordan", "family": "Lee"}) == "Jordan Lee"
    assert human_name([{"use": "official"}]) is None
    assert human_name("Lee") is None


def test_as_list_wraps_a_single_object_and_drops_scalars():
    assert as_list({"a": 1}) == [{"a": 1}]
    assert as_list([1, 2]) == [1, 2]
    assert as_list("x") == []


def test_shown_shortens_long_values():
    assert shown("x" * 100) == "x" * 37 + "..."
    assert shown(12) == "12"
