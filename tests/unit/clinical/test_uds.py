"""UDS results read from coded values only, then compared with the regimen at the test date."""

from datetime import date

import pytest

from app.clinical.model import (
    LOINC,
    SNOMED,
    Chart,
    Classification,
    ClassSource,
    Code,
    DoseInstruction,
    DrugClass,
    MedicationKind,
    MedicationRecord,
    ObservationComponent,
    ObservationRecord,
    Quantity,
)
from app.clinical.uds import V3_INTERPRETATION, UdsOutcome, evaluate_uds, read_outcome

AS_OF = date(2026, 11, 1)
TEST_DAY = date(2026, 10, 1)

OPIATE_SCREEN = "19295-5"
OXYCODONE_SCREEN = "19642-8"
BENZO_SCREEN = "14316-4"
COCAINE = "3393-6"
FENTANYL_SCREEN = "58379-9"
HEROIN = "27073-6"
METHADONE_SCREEN = "70149-0"
DRUG_PANEL = "65750-2"

POS = (Code(V3_INTERPRETATION, "POS"),)
NEG = (Code(V3_INTERPRETATION, "NEG"),)


def uds(ident, loinc, *, day=TEST_DAY, interpretation=(), value_codes=(), status="final", **kw):
    return ObservationRecord(
        ref=f"Observation/{ident}",
        codes=(Code(LOINC, loinc),),
        status=status,
        categories=("laboratory",),
        effective=day,
        interpretation=interpretation,
        value_codes=value_codes,
        **kw,
    )


def fill(ident, classes, ingredients, start, days, *, text=None, prn=False):
    return MedicationRecord(
        ref=f"MedicationDispense/{ident}",
        kind=MedicationKind.DISPENSE,
        classification=Classification(
            classes=frozenset(classes), source=ClassSource.CODE_LIST, ingredients=ingredients
        ),
        text=text,
        status="completed",
        handed_over=start,
        days_supply=days,
        dosages=(DoseInstruction(as_needed=True),) if prn else (),
    )


OXYCODONE = fill("oxy", {DrugClass.OPIOID_ANALGESIC}, ("oxycodone",), date(2026, 9, 20), 30)
ALPRAZOLAM = fill(
    "alp", {DrugClass.BENZODIAZEPINE}, (), date(2026, 9, 20), 30, text="alprazolam 1 MG"
)


def evaluate(*records):
    observations = tuple(r for r in records if isinstance(r, ObservationRecord))
    medications = tuple(r for r in records if isinstance(r, MedicationRecord))
    return evaluate_uds(Chart(observations=observations, medications=medications), AS_OF)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({"interpretation": POS}, UdsOutcome.DETECTED, id="interp-POS"),
        pytest.param({"interpretation": NEG}, UdsOutcome.NOT_DETECTED, id="interp-NEG"),
        *(
            pytest.param(
                {"interpretation": (Code(V3_INTERPRETATION, code),)}, outcome, id=f"interp-{code}"
            )
            for code, outcome in [
                ("DET", UdsOutcome.DETECTED),
                ("A", UdsOutcome.DETECTED),
                ("AA", UdsOutcome.DETECTED),
                ("H", UdsOutcome.DETECTED),
                ("ND", UdsOutcome.NOT_DETECTED),
                ("N", UdsOutcome.NOT_DETECTED),
                ("IND", UdsOutcome.UNKNOWN),
            ]
        ),
        *(
            pytest.param({"value_codes": (Code(SNOMED, code),)}, outcome, id=f"snomed-{code}")
            for code, outcome in [
                ("10828004", UdsOutcome.DETECTED),
                ("52101004", UdsOutcome.DETECTED),
                ("260385009", UdsOutcome.NOT_DETECTED),
                ("260415000", UdsOutcome.NOT_DETECTED),
                ("2667000", UdsOutcome.NOT_DETECTED),
            ]
        ),
        pytest.param(
            {"value_quantity": Quantity(350, "ng/mL"), "reference_high": Quantity(300, "ng/mL")},
            UdsOutcome.DETECTED,
            id="quantity-above-cutoff",
        ),
        pytest.param(
            {"value_quantity": Quantity(300, "ng/mL"), "reference_high": Quantity(300, "ng/mL")},
            UdsOutcome.DETECTED,
            id="quantity-at-cutoff",
        ),
        pytest.param(
            {"value_quantity": Quantity(299, "ng/mL"), "reference_high": Quantity(300, "ng/mL")},
            UdsOutcome.NOT_DETECTED,
            id="quantity-below-cutoff",
        ),
        pytest.param(
            {"value_quantity": Quantity(350, "ng/mL")}, UdsOutcome.UNKNOWN, id="quantity-no-cutoff"
        ),
        pytest.param(
            {"value_quantity": Quantity(0.35, "ug/mL"), "reference_high": Quantity(300, "ng/mL")},
            UdsOutcome.UNKNOWN,
            id="quantity-other-unit",
        ),
        pytest.param({"value_boolean": True}, UdsOutcome.DETECTED, id="boolean-true"),
        pytest.param({"value_boolean": False}, UdsOutcome.NOT_DETECTED, id="boolean-false"),
        pytest.param(
            {"interpretation": POS, "value_codes": (Code(SNOMED, "260385009"),)},
            UdsOutcome.UNKNOWN,
            id="conflict-is-unknown",
        ),
        pytest.param(
            {"interpretation": POS, "value_codes": (Code(SNOMED, "10828004"),)},
            UdsOutcome.DETECTED,
            id="agreeing-sources",
        ),
        pytest.param(
            {"interpretation": (Code("http://example.org/local", "POS"),)},
            UdsOutcome.UNKNOWN,
            id="foreign-interpretation-system",
        ),
        pytest.param({}, UdsOutcome.UNKNOWN, id="nothing"),
    ],
)
def test_read_outcome(kwargs, expected):
    assert read_outcome(**kwargs) is expected


def test_text_value_is_never_parsed():
    (result,) = evaluate(uds("u", BENZO_SCREEN, value_string="Positive for benzodiazepines"))
    assert result.detected == ()
    assert result.unknown == ("benzodiazepine",)
    assert result.unexpected_found == ()
    assert result.notes == ("Result for benzodiazepine could not be read from coded values.",)


def test_benzodiazepine_without_prescription_is_unexpected():
    (result,) = evaluate(uds("u", BENZO_SCREEN, interpretation=POS), OXYCODONE)
    assert result.unexpected_found == ("benzodiazepine",)
    assert result.evidence == ("Observation/u",)


def test_benzodiazepine_with_prescription_is_explained():
    (result,) = evaluate(uds("u", BENZO_SCREEN, interpretation=POS), ALPRAZOLAM)
    assert result.unexpected_found == ()
    assert result.detected == ("benzodiazepine",)
    assert result.evidence == ("MedicationDispense/alp", "Observation/u")


@pytest.mark.parametrize(
    ("supply_end", "explained"),
    [
        pytest.param(date(2026, 9, 17), True, id="ended-14-days-before"),
        pytest.param(date(2026, 9, 16), False, id="ended-15-days-before"),
    ],
)
def test_a_recently_finished_prescription_still_explains_a_detection(supply_end, explained):
    days = (supply_end - date(2026, 8, 19)).days + 1
    benzo = fill("alp", {DrugClass.BENZODIAZEPINE}, (), date(2026, 8, 19), days, text="alprazolam")
    (result,) = evaluate(uds("u", BENZO_SCREEN, interpretation=POS), benzo)
    assert (result.unexpected_found == ()) is explained


def test_oxycodone_prescription_missing_on_oxycodone_test_is_expected_missing():
    (result,) = evaluate(uds("u", OXYCODONE_SCREEN, interpretation=NEG), OXYCODONE)
    assert result.expected_missing == ("oxycodone",)
    assert result.evidence == ("MedicationDispense/oxy", "Observation/u")


def test_oxycodone_is_not_expected_on_an_opiate_immunoassay():
    (result,) = evaluate(uds("u", OPIATE_SCREEN, interpretation=NEG), OXYCODONE)
    assert result.expected_missing == ()
    assert result.not_detected == ("opiate",)


def test_opiate_positive_is_explained_by_oxycodone():
    (result,) = evaluate(uds("u", OPIATE_SCREEN, interpretation=POS), OXYCODONE)
    assert result.unexpected_found == ()


def test_as_needed_oxycodone_is_not_expected():
    prn = fill("prn", {DrugClass.OPIOID_ANALGESIC}, ("oxycodone",), date(2026, 9, 20), 30, prn=True)
    (result,) = evaluate(uds("u", OXYCODONE_SCREEN, interpretation=NEG), prn)
    assert result.expected_missing == ()


def test_supply_that_ended_before_the_test_is_not_expected():
    old = fill("old", {DrugClass.OPIOID_ANALGESIC}, ("oxycodone",), date(2026, 8, 1), 30)
    (result,) = evaluate(uds("u", OXYCODONE_SCREEN, interpretation=NEG), old)
    assert result.expected_missing == ()


@pytest.mark.parametrize(
    ("loinc", "target"),
    [
        pytest.param(COCAINE, "cocaine", id="cocaine"),
        pytest.param(FENTANYL_SCREEN, "fentanyl", id="fentanyl-with-oxycodone-rx"),
        pytest.param(HEROIN, "heroin", id="heroin-not-explained-by-an-opioid-rx"),
    ],
)
def test_illicit_or_unprescribed_targets_are_unexpected_despite_an_opioid_rx(loinc, target):
    (result,) = evaluate(uds("u", loinc, interpretation=POS), OXYCODONE)
    assert result.unexpected_found == (target,)


def test_methadone_for_oud_explains_methadone():
    methadone = fill("mtd", {DrugClass.METHADONE_MOUD}, ("methadone",), date(2026, 9, 20), 30)
    (result,) = evaluate(uds("u", METHADONE_SCREEN, interpretation=POS), methadone)
    assert result.unexpected_found == ()


def test_panel_components_are_read_one_by_one():
    panel = uds(
        "panel",
        DRUG_PANEL,
        components=(
            ObservationComponent(codes=(Code(LOINC, OPIATE_SCREEN),), interpretation=NEG),
            ObservationComponent(codes=(Code(LOINC, BENZO_SCREEN),), interpretation=POS),
            ObservationComponent(
                codes=(Code(LOINC, COCAINE),), value_codes=(Code(SNOMED, "260385009"),)
            ),
            ObservationComponent(codes=(Code(LOINC, OXYCODONE_SCREEN),), value_string="neg"),
        ),
    )
    (result,) = evaluate(panel, OXYCODONE)
    assert result.detected == ("benzodiazepine",)
    assert result.not_detected == ("cocaine", "opiate")
    assert result.unknown == ("oxycodone",)
    assert result.unexpected_found == ("benzodiazepine",)
    assert result.expected_missing == ()  # the oxycodone result could not be read


def test_results_outside_lookback_or_after_as_of_or_not_final_are_left_out():
    results = evaluate(
        uds("old", BENZO_SCREEN, day=date(2025, 11, 1), interpretation=POS),  # 366 days back
        uds("first", BENZO_SCREEN, day=date(2025, 11, 2), interpretation=POS),  # day 365
        uds("future", BENZO_SCREEN, day=date(2026, 11, 2), interpretation=POS),
        uds("prelim", BENZO_SCREEN, interpretation=POS, status="preliminary"),
        uds("today", BENZO_SCREEN, day=AS_OF, interpretation=POS),
    )
    assert [r.ref for r in results] == ["Observation/today", "Observation/first"]


def test_undated_result_is_listed_but_not_compared():
    (result,) = evaluate(uds("u", BENZO_SCREEN, day=None, interpretation=POS))
    assert result.date is None
    assert result.detected == ("benzodiazepine",)
    assert result.unexpected_found == ()
    assert result.notes == ("The result has no date; it was not compared with the prescriptions.",)


def test_non_uds_observation_is_ignored():
    glucose = ObservationRecord(
        ref="Observation/g", codes=(Code(LOINC, "2345-7"),), status="final", effective=TEST_DAY
    )
    assert evaluate(glucose) == ()
