"""CDC conversion factors by edition, dose form and methadone dose (MME.md section 7)."""

import math

import pytest

from app.clinical.factors import (
    NOT_IN_2022_TABLE,
    conversion_factor,
    factor_rows,
    methadone_factor_2016,
)

ORAL_TABLET = "317541"
PATCH = "316987"


def test_the_vendored_table_has_every_ingredient_row():
    rows = factor_rows()
    # 66 data rows, less the final "(any other ingredient)" row without an RxCUI.
    assert len(rows) == 65
    assert {r.ingredient_rxcui for r in rows} >= {"7804", "4337", "6813", "1819", "10689"}


@pytest.mark.parametrize(
    ("ingredient", "rxcui", "factor_2022", "factor_2016"),
    [
        pytest.param("codeine", "2670", 0.15, 0.15, id="codeine"),
        pytest.param("hydrocodone", "5489", 1.0, 1.0, id="hydrocodone"),
        pytest.param("hydromorphone", "3423", 5.0, 4.0, id="hydromorphone"),
        pytest.param("morphine", "7052", 1.0, 1.0, id="morphine"),
        pytest.param("oxycodone", "7804", 1.5, 1.5, id="oxycodone"),
        pytest.param("oxymorphone", "7814", 3.0, 3.0, id="oxymorphone"),
        pytest.param("tapentadol", "787390", 0.4, 0.4, id="tapentadol"),
        pytest.param("tramadol", "10689", 0.2, 0.1, id="tramadol"),
    ],
)
def test_factors_of_the_2022_table_and_the_2016_edition(
    ingredient, rxcui, factor_2022, factor_2016
):
    choice_2022 = conversion_factor(rxcui, ORAL_TABLET, edition="2022")
    choice_2016 = conversion_factor(rxcui, ORAL_TABLET, edition="2016")
    assert (choice_2022.value, choice_2022.per, choice_2022.notes) == (factor_2022, "mg", ())
    assert choice_2016.value == factor_2016


@pytest.mark.parametrize(
    ("rxcui", "value"),
    [
        pytest.param("23088", 0.25, id="dihydrocodeine"),
        pytest.param("1841", 7.0, id="butorphanol"),
        pytest.param("6378", 11.0, id="levorphanol"),
        pytest.param("6754", 0.1, id="meperidine"),
        pytest.param("8001", 0.37, id="pentazocine"),
    ],
)
def test_drugs_outside_2022_table_use_the_compilation_with_a_note(rxcui, value):
    choice = conversion_factor(rxcui, ORAL_TABLET, edition="2022")
    assert choice.value == value
    assert choice.source == "cdc-cms-compilation"
    assert choice.notes[0].startswith(NOT_IN_2022_TABLE)


def test_policy_can_make_drugs_outside_2022_table_not_computable():
    choice = conversion_factor(
        "6378", ORAL_TABLET, edition="2022", outside_2022_table="not-computable"
    )
    assert choice.value is None
    assert "not computable" in choice.notes[0]


@pytest.mark.parametrize(
    ("dose_form", "value", "per"),
    [
        pytest.param(PATCH, 2.4, "mcg/hr", id="transdermal-patch"),
        pytest.param("970789", 0.13, "mcg", id="buccal-tablet"),
        pytest.param("317007", 0.13, "mcg", id="sublingual-tablet"),
        pytest.param("316992", 0.13, "mcg", id="lozenge"),
        pytest.param("858080", 0.18, "mcg", id="buccal-film"),
        pytest.param("346163", 0.18, "mcg", id="sublingual-spray"),
        pytest.param("746839", 0.18, "mcg", id="spray-pack"),
        pytest.param("1797831", 0.16, "mcg", id="metered-nasal-spray"),
        pytest.param("126542", 0.16, "mcg", id="nasal-spray"),
    ],
)
def test_fentanyl_factor_depends_on_dose_form(dose_form, value, per):
    choice = conversion_factor("4337", dose_form, edition="2016")
    assert (choice.value, choice.per) == (value, per)


@pytest.mark.parametrize("dose_form", ["1649574", "316949", "316986", None])
def test_fentanyl_injection_and_unknown_forms_have_no_factor(dose_form):
    for edition in ("2022", "2016"):
        assert conversion_factor("4337", dose_form, edition=edition).value is None


@pytest.mark.parametrize(
    ("mg_per_day", "factor"),
    [
        pytest.param(0.5, 4.0, id="below-1-mg"),
        pytest.param(1, 4.0, id="1"),
        pytest.param(20, 4.0, id="20-upper-edge-inclusive"),
        pytest.param(20.5, 8.0, id="20.5-between-bands"),
        pytest.param(21, 8.0, id="21"),
        pytest.param(40, 8.0, id="40"),
        pytest.param(40.01, 10.0, id="40.01"),
        pytest.param(60, 10.0, id="60"),
        pytest.param(60.5, 12.0, id="60.5"),
        pytest.param(61, 12.0, id="61"),
        pytest.param(400, 12.0, id="400"),
    ],
)
def test_methadone_2016_tiers_are_upper_inclusive(mg_per_day, factor):
    assert methadone_factor_2016(mg_per_day) == factor
    choice = conversion_factor("6813", ORAL_TABLET, edition="2016", methadone_mg_per_day=mg_per_day)
    assert choice.value == factor


@pytest.mark.parametrize("mg_per_day", [0.0, -5.0, math.nan])
def test_methadone_2016_has_no_tier_for_zero_or_invalid_dose(mg_per_day):
    assert methadone_factor_2016(mg_per_day) is None


def test_methadone_2022_is_flat():
    for dose in (5, 30, 200):
        choice = conversion_factor("6813", ORAL_TABLET, edition="2022", methadone_mg_per_day=dose)
        assert choice.value == 4.7


def test_buprenorphine_is_excluded_in_both_editions():
    for edition in ("2022", "2016"):
        for form in (PATCH, "317007", "858080"):
            choice = conversion_factor("1819", form, edition=edition)
            assert choice.value is None
            assert choice.excluded is True


@pytest.mark.parametrize(
    "rxcui",
    [
        pytest.param("8785", id="propoxyphene"),
        pytest.param("7238", id="nalbuphine"),
        pytest.param("2001352", id="benzhydrocodone"),
        pytest.param("99999999", id="unknown-ingredient"),
    ],
)
def test_ingredients_without_any_factor_get_none_with_a_reason(rxcui):
    for edition in ("2022", "2016"):
        choice = conversion_factor(rxcui, ORAL_TABLET, edition=edition)
        assert choice.value is None
        assert choice.notes


def test_unknown_edition_gives_no_factor():
    choice = conversion_factor("7804", ORAL_TABLET, edition="2019")
    assert choice.value is None
    assert "unknown MME edition" in choice.notes[0]
