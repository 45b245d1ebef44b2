"""Tests for app.clinical.terminology: code lists, name rules, vendored data.

Codes and RxNorm names are taken from the vendored files (CDC/VSAC value sets, OMTK table);
the name-only cases are written by hand.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from app.clinical.model import (
    CNS_DEPRESSANT_SUBCLASSES,
    CPT,
    ICD9CM,
    ICD10CM,
    LOINC,
    RXNORM,
    SNOMED,
    ClassSource,
    Code,
    ConditionGroup,
    DrugClass,
)
from app.clinical.terminology import (
    DATA_DIR,
    DrugIngredient,
    Terminology,
    load_terminology,
    normalise_system,
)

OPIOID = DrugClass.OPIOID_ANALGESIC
BUP_MOUD = DrugClass.BUPRENORPHINE_MOUD
BUP_PAIN = DrugClass.BUPRENORPHINE_PAIN
METHADONE_MOUD = DrugClass.METHADONE_MOUD
NALOXONE = DrugClass.NALOXONE
CODE_LIST = ClassSource.CODE_LIST
NAME = ClassSource.NAME


@pytest.fixture(scope="module")
def terminology() -> Terminology:
    return load_terminology()


def rx(code: str, display: str | None = None) -> Code:
    return Code(system=RXNORM, code=code, display=display)


def members(name: str) -> dict[str, str]:
    """RxNorm code -> display of one vendored CDC medication set."""
    sets = json.loads((DATA_DIR / "valuesets" / "medications.json").read_text())["valuesets"]
    return next(vs for vs in sets if vs["name"] == name)["display"]


# ----------------------------------------------------------------- medications by code

CODE_CASES = [
    pytest.param("1049502", {OPIOID}, True, id="oxycodone-12hr-er-tablet-is-long-acting-opioid"),
    pytest.param("1049621", {OPIOID}, False, id="oxycodone-5mg-tablet-is-short-acting"),
    pytest.param("857001", {OPIOID}, False, id="norco-hydrocodone-apap"),
    pytest.param("835603", {OPIOID}, False, id="tramadol-50mg"),
    pytest.param("245134", {OPIOID}, True, id="fentanyl-25mcg-72hr-patch"),
    pytest.param("1010603", {BUP_MOUD}, False, id="suboxone-film-is-moud-not-naloxone"),
    pytest.param("1431083", {BUP_MOUD}, False, id="zubsolv-sublingual-tablet-is-moud"),
    pytest.param("351265", {BUP_MOUD}, False, id="buprenorphine-8mg-sublingual-is-moud"),
    pytest.param("1996189", {BUP_MOUD}, False, id="sublocade-injection-is-moud"),
    pytest.param("2639027", {BUP_MOUD}, False, id="brixadi-injection-is-moud"),
    pytest.param("1797655", {BUP_MOUD}, False, id="probuphine-implant-is-moud"),
    pytest.param("904874", {BUP_PAIN}, True, id="butrans-patch-is-pain"),
    pytest.param("1716063", {BUP_PAIN}, False, id="belbuca-buccal-film-is-pain"),
    pytest.param("205533", {BUP_PAIN}, False, id="buprenex-injection-is-pain"),
    pytest.param("1542396", {BUP_MOUD}, False, id="bunavail-buccal-film-with-naloxone-is-moud"),
    pytest.param("864978", {METHADONE_MOUD}, True, id="methadone-40mg-dispersible-is-otp"),
    pytest.param("991149", {METHADONE_MOUD}, True, id="methadose-10mg-per-ml-concentrate-is-otp"),
    pytest.param("864706", {OPIOID}, True, id="methadone-10mg-tablet-is-long-acting-analgesic"),
    pytest.param("864769", {OPIOID}, True, id="methadone-2mg-per-ml-solution-is-analgesic"),
    pytest.param("864714", {OPIOID}, True, id="methadone-10mg-per-ml-injection-is-analgesic"),
    pytest.param("1725064", {NALOXONE}, False, id="narcan-nasal-spray-is-naloxone"),
    pytest.param("312289", {OPIOID}, False, id="pentazocine-naloxone-is-not-rescue-naloxone"),
    pytest.param("197321", {DrugClass.BENZODIAZEPINE}, False, id="alprazolam-1mg"),
    pytest.param("104719", {DrugClass.BENZODIAZEPINE}, False, id="ativan-1mg"),
    pytest.param("198086", {DrugClass.BARBITURATE}, False, id="phenobarbital-16mg"),
    pytest.param("854873", {DrugClass.Z_DRUG}, False, id="zolpidem-from-cns-set-is-z-drug"),
    pytest.param("313761", {DrugClass.Z_DRUG}, False, id="zaleplon-from-cns-set-is-z-drug"),
    pytest.param("352257", {DrugClass.OTHER_CNS_DEPRESSANT}, False, id="xyrem-oxybate"),
    pytest.param("803348", {DrugClass.STIMULANT}, False, id="phentermine-is-stimulant"),
    pytest.param("1302827", {DrugClass.STIMULANT}, False, id="phentermine-topiramate"),
    pytest.param("197446", {DrugClass.MUSCLE_RELAXANT}, False, id="vsac-carisoprodol"),
    pytest.param(
        "994228",
        {OPIOID, DrugClass.MUSCLE_RELAXANT},
        False,
        id="soma-compound-with-codeine-is-opioid-and-muscle-relaxant",
    ),
]


@pytest.mark.parametrize(("code", "classes", "long_acting"), CODE_CASES)
def test_listed_rxnorm_code_gets_classes_from_code_list(
    terminology: Terminology, code: str, classes: set[DrugClass], long_acting: bool
) -> None:
    result = terminology.classify_medication([rx(code)])

    assert result.classes == classes
    assert result.long_acting is long_acting
    assert result.source is CODE_LIST
    assert result.rxcui == code
    assert result.value_sets


def test_oxycodone_er_lists_its_value_sets_and_ingredient(terminology: Terminology) -> None:
    result = terminology.classify_medication([rx("1049502")])

    assert result.ingredients == ("oxycodone",)
    assert "extended-release-opioid-with-ambulatory-misuse-potential" in result.value_sets
    assert "opioid-analgesics-with-ambulatory-misuse-potential" in result.value_sets
    assert result.is_opioid


def test_suboxone_is_in_the_naloxone_set_but_not_classed_naloxone(
    terminology: Terminology,
) -> None:
    result = terminology.classify_medication([rx("1010603")])

    assert "naloxone-medications" in result.value_sets
    assert NALOXONE not in result.classes
    assert result.is_opioid


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("803348", id="phentermine"),
        pytest.param("562366", id="desflurane"),
        pytest.param("995666", id="meclizine"),
        pytest.param("313489", id="trimethobenzamide"),
        pytest.param("904368", id="benzphetamine"),
    ],
)
def test_non_sedative_cns_set_member_is_not_a_cns_depressant(
    terminology: Terminology, code: str
) -> None:
    result = terminology.classify_medication([rx(code)])

    assert "cns-depressant-medications" in result.value_sets
    assert not result.classes & CNS_DEPRESSANT_SUBCLASSES
    assert DrugClass.BENZODIAZEPINE not in result.classes


def test_butalbital_codeine_is_opioid_and_barbiturate(terminology: Terminology) -> None:
    butalbital_codeine = next(
        code
        for code, display in members("barbiturate-medications").items()
        if "codeine" in display and "butalbital" in display
    )

    result = terminology.classify_medication([rx(butalbital_codeine)])

    assert result.classes == {OPIOID, DrugClass.BARBITURATE}
    assert result.ingredients == ("butalbital", "codeine")


def test_lomotil_in_the_vsac_opioid_set_is_not_an_opioid_analgesic(
    terminology: Terminology,
) -> None:
    result = terminology.classify_medication([rx("1190641")])

    assert not result.classes
    assert result.source is CODE_LIST  # known, and deliberately no class
    assert not result.is_opioid
    assert "vsac-opioid-pain-medications" in result.value_sets


def test_donnatal_in_the_vsac_opioid_set_is_only_a_barbiturate(terminology: Terminology) -> None:
    result = terminology.classify_medication([rx("1046978")])

    assert "vsac-opioid-pain-medications" in result.value_sets
    assert result.classes == {DrugClass.BARBITURATE}


def test_listed_lookup_returns_the_prebuilt_classification(terminology: Terminology) -> None:
    first = terminology.classify_medication([rx("1049502")])
    second = terminology.classify_medication([rx("1049502")])

    # One dict access per code: the same precomputed object comes back.
    assert first is second


def test_rxnorm_oid_and_padded_code_are_accepted(terminology: Terminology) -> None:
    result = terminology.classify_medication(
        [Code(system="urn:oid:2.16.840.1.113883.6.88", code=" 1049502 ")]
    )

    assert result.classes == {OPIOID}
    assert result.source is CODE_LIST


def test_two_listed_codings_are_merged(terminology: Terminology) -> None:
    result = terminology.classify_medication([rx("197321"), rx("1049621")])

    assert result.classes == {OPIOID, DrugClass.BENZODIAZEPINE}
    assert result.source is CODE_LIST


# ----------------------------------------------------------------- whole-set properties


def test_every_buprenorphine_set_member_is_split_into_pain_or_moud(
    terminology: Terminology,
) -> None:
    for code in members("buprenorphine-medications"):
        classes = terminology.classify_medication([rx(code)]).classes
        assert len(classes & {BUP_MOUD, BUP_PAIN}) == 1, code
        assert OPIOID not in classes, code


def test_every_naloxone_set_member_is_rescue_naloxone_unless_combined(
    terminology: Terminology,
) -> None:
    for code, display in members("naloxone-medications").items():
        classes = terminology.classify_medication([rx(code)]).classes
        combined = "buprenorphine" in display.lower() or "pentazocine" in display.lower()
        assert (NALOXONE in classes) is not combined, display


def test_every_cdc_opioid_analgesic_is_an_opioid(terminology: Terminology) -> None:
    for code in members("opioid-analgesics-with-ambulatory-misuse-potential"):
        assert terminology.classify_medication([rx(code)]).is_opioid, code


def test_every_cns_set_member_is_handled_by_an_explicit_rule(terminology: Terminology) -> None:
    names = json.loads((DATA_DIR / "medication_names.json").read_text())
    explicit = set(names["dropped_cns_depressants"]["names"])
    for class_names in names["ingredients"].values():
        explicit |= set(class_names)
    for display in members("cns-depressant-medications").values():
        words = {w.strip("[](){},/").lower() for w in display.split()}
        assert words & explicit, display


def test_every_brand_maps_to_a_known_ingredient() -> None:
    names = json.loads((DATA_DIR / "medication_names.json").read_text())
    ingredients = {n for class_names in names["ingredients"].values() for n in class_names}
    assert set(names["brands"].values()) <= ingredients


# ----------------------------------------------------------------- ingredient codes and names


def test_ingredient_level_oxycodone_code_is_opioid_from_ingredient_code(
    terminology: Terminology,
) -> None:
    result = terminology.classify_medication([rx("7804", "oxycodone")])

    assert result.classes == {OPIOID}
    assert result.source is ClassSource.INGREDIENT_CODE
    assert result.ingredients == ("oxycodone",)
    assert result.long_acting is False


def test_ingredient_level_methadone_code_is_long_acting(terminology: Terminology) -> None:
    result = terminology.classify_medication([rx("6813")])

    assert result.classes == {OPIOID}
    assert result.long_acting is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("buprenorphine 8 mg SL tablet", BUP_MOUD, id="sublingual-text-is-moud"),
        pytest.param("Butrans 10 mcg/hr patch", BUP_PAIN, id="butrans-text-is-pain"),
        pytest.param(None, BUP_PAIN, id="no-formulation-is-pain"),
    ],
)
def test_ingredient_level_buprenorphine_uses_the_text_for_pain_or_moud(
    terminology: Terminology, text: str | None, expected: DrugClass
) -> None:
    result = terminology.classify_medication([rx("1819")], text)

    assert result.classes == {expected}
    assert result.source is ClassSource.INGREDIENT_CODE


NAME_CASES = [
    pytest.param("gabapentin 300 MG Oral Capsule", {DrugClass.GABAPENTINOID}, id="gabapentin"),
    pytest.param("GABAPENTIN 600MG TAB", {DrugClass.GABAPENTINOID}, id="gabapentin-upper-case"),
    pytest.param("gabapentin enacarbil 600 MG ER", {DrugClass.GABAPENTINOID}, id="enacarbil"),
    pytest.param("pregabalin 75 MG Oral Capsule [Lyrica]", {DrugClass.GABAPENTINOID}, id="lyrica"),
    pytest.param("Neurontin 300 mg", {DrugClass.GABAPENTINOID}, id="neurontin-brand"),
    pytest.param("Soma 350 mg tablet", {DrugClass.MUSCLE_RELAXANT}, id="soma-brand"),
    pytest.param("carisoprodol 350 MG Oral Tablet", {DrugClass.MUSCLE_RELAXANT}, id="carisoprodol"),
    pytest.param("cyclobenzaprine 10 mg", {DrugClass.MUSCLE_RELAXANT}, id="cyclobenzaprine"),
    pytest.param("tizanidine 4 MG Oral Tablet", {DrugClass.MUSCLE_RELAXANT}, id="tizanidine"),
    pytest.param("baclofen 10 mg", {DrugClass.MUSCLE_RELAXANT}, id="baclofen"),
    pytest.param("methocarbamol 750 mg", {DrugClass.MUSCLE_RELAXANT}, id="methocarbamol"),
    pytest.param("eszopiclone 3 MG Oral Tablet", {DrugClass.Z_DRUG}, id="eszopiclone"),
    pytest.param("Ambien CR 12.5 mg", {DrugClass.Z_DRUG}, id="ambien-brand"),
    pytest.param("suvorexant 10 mg [Belsomra]", {DrugClass.Z_DRUG}, id="suvorexant"),
    pytest.param("Xanax 1 mg", {DrugClass.BENZODIAZEPINE}, id="xanax-brand"),
    pytest.param("clonazepam 0.5 mg", {DrugClass.BENZODIAZEPINE}, id="clonazepam"),
    pytest.param("Fioricet", {DrugClass.BARBITURATE}, id="fioricet-brand"),
    pytest.param("nalmefene 2.7 MG nasal spray", {NALOXONE}, id="nalmefene-is-naloxone-class"),
    pytest.param("Narcan 4 mg nasal spray", {NALOXONE}, id="narcan-brand"),
    pytest.param("Suboxone 8-2 mg film", {BUP_MOUD}, id="suboxone-name-is-moud"),
    pytest.param("buprenorphine-naloxone 8-2 mg", {BUP_MOUD}, id="bup-nx-name-not-naloxone"),
    pytest.param("oxycodone-acetaminophen 5-325 mg", {OPIOID}, id="percocet-generic-name"),
    pytest.param("hydromorphone 2 mg", {OPIOID}, id="hydromorphone"),
    pytest.param("Methadose 40 mg dispersible tablet", {METHADONE_MOUD}, id="methadose-40"),
]


@pytest.mark.parametrize(("text", "classes"), NAME_CASES)
def test_unlisted_medication_is_classified_by_name(
    terminology: Terminology, text: str, classes: set[DrugClass]
) -> None:
    result = terminology.classify_medication([rx("99999999")], text)

    assert result.classes == classes
    assert result.source is NAME


def test_gabapentin_with_unlisted_rxcui_comes_from_the_name(terminology: Terminology) -> None:
    result = terminology.classify_medication([rx("310431", "gabapentin 300 MG Oral Capsule")])

    assert result.classes == {DrugClass.GABAPENTINOID}
    assert result.source is NAME
    assert result.ingredients == ("gabapentin",)


@pytest.mark.parametrize(
    ("text", "long_acting"),
    [
        pytest.param("OxyContin 20 mg", True, id="oxycontin-brand"),
        pytest.param("morphine ER 30 mg q12h", True, id="er-abbreviation"),
        pytest.param("MS Contin 15 mg", True, id="ms-contin"),
        pytest.param("oxycodone 5 mg tab", False, id="immediate-release"),
        pytest.param("oxycodone 5 mg every 4 HR", False, id="interval-is-not-duration"),
        pytest.param("12 HR oxycodone hydrochloride 10 MG", True, id="rxnorm-duration-prefix"),
    ],
)
def test_long_acting_flag_from_name(terminology: Terminology, text: str, long_acting: bool) -> None:
    result = terminology.classify_medication([], text)

    assert result.classes == {OPIOID}
    assert result.long_acting is long_acting


@pytest.mark.parametrize(
    ("text", "ingredients"),
    [
        pytest.param("dihydrocodeine 16 mg", ("dihydrocodeine",), id="dihydrocodeine-not-codeine"),
        pytest.param("hydromorphone 2 mg", ("hydromorphone",), id="hydromorphone-not-morphine"),
        pytest.param("benzhydrocodone 6.12 mg", ("benzhydrocodone",), id="not-hydrocodone"),
    ],
)
def test_names_match_whole_words_only(
    terminology: Terminology, text: str, ingredients: tuple[str, ...]
) -> None:
    assert terminology.classify_medication([], text).ingredients == ingredients


@pytest.mark.parametrize(
    ("codes", "text"),
    [
        pytest.param([rx("99999999")], None, id="unknown-code-no-text"),
        pytest.param([rx("99999999")], "acetaminophen 500 mg", id="non-opioid-text"),
        pytest.param([Code(system="http://example.org/local", code="7804")], None, id="local"),
        pytest.param([], None, id="nothing"),
    ],
)
def test_unmatched_medication_is_unknown_never_guessed(
    terminology: Terminology, codes: list[Code], text: str | None
) -> None:
    result = terminology.classify_medication(codes, text)

    assert result.classes == frozenset()
    assert result.source is ClassSource.UNKNOWN
    assert not result.is_known


# ----------------------------------------------------------------- OMTK drug table


def test_drug_ingredients_of_oxycodone_er(terminology: Terminology) -> None:
    (row,) = terminology.drug_ingredients("1049502")

    assert row == DrugIngredient(
        drug_rxcui="1049502",
        drug_name="12 HR oxycodone hydrochloride 10 MG Extended Release Oral Tablet",
        dose_form_rxcui="316945",
        dose_form_name="Extended Release Oral Tablet",
        ingredient_rxcui="7804",
        ingredient_name="Oxycodone",
        strength_value=10.0,
        strength_numerator_unit="MG",
        strength_denominator_unit=None,
        long_acting=True,
        sources=("cdc-omtk-3.0.0", "cosri", "cdc-omtk-2020"),
        notes=None,
    )


def test_drug_with_two_oxycodone_salts_has_two_rows(terminology: Terminology) -> None:
    rows = terminology.drug_ingredients("637540")

    assert sorted(r.strength_value for r in rows if r.strength_value is not None) == [0.38, 4.5]
    assert {r.ingredient_name for r in rows} == {"Oxycodone"}


def test_cosri_benzhydrocodone_row_for_codeine_product_is_dropped(
    terminology: Terminology,
) -> None:
    rows = terminology.drug_ingredients("993943")

    assert [(r.ingredient_rxcui, r.ingredient_name) for r in rows] == [("2670", "Codeine")]


def test_fentanyl_patch_strength_is_per_hour(terminology: Terminology) -> None:
    (row,) = terminology.drug_ingredients("245134")

    assert (row.strength_value, row.strength_numerator_unit) == (0.025, "MG")
    assert row.strength_denominator_unit == "HR"
    assert row.dose_form_rxcui == "316987"


def test_drug_without_omtk_row_has_no_ingredients(terminology: Terminology) -> None:
    assert terminology.drug_ingredients("197321") == ()


@pytest.mark.parametrize(
    ("rxcui", "name"),
    [
        pytest.param("7804", "Oxycodone", id="oxycodone"),
        pytest.param("2670", "Codeine", id="codeine"),
        pytest.param("787390", "Tapentadol", id="tapentadol-capitalised"),
        pytest.param("1819", "Buprenorphine", id="buprenorphine"),
        pytest.param("1049502", None, id="drug-code-is-not-an-ingredient"),
    ],
)
def test_ingredient_for_code(terminology: Terminology, rxcui: str, name: str | None) -> None:
    assert terminology.ingredient_for_code(rxcui) == name


def test_vendored_conversion_factors_are_present_with_their_header() -> None:
    path = DATA_DIR / "mme" / "conversion_factors.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))

    assert len(rows) == 66
    oxycodone = next(r for r in rows if r["ingredient"] == "Oxycodone")
    assert oxycodone["cdc_2022_factor"] == "1.5"


# ----------------------------------------------------------------- conditions

CONDITION_CASES = [
    pytest.param(ICD10CM, "F11.20", {ConditionGroup.OUD, ConditionGroup.SUD}, id="oud-dotted"),
    pytest.param(ICD10CM, "F1120", {ConditionGroup.OUD, ConditionGroup.SUD}, id="oud-no-dot"),
    pytest.param(ICD10CM, "f11.20", {ConditionGroup.OUD, ConditionGroup.SUD}, id="oud-lower"),
    pytest.param(ICD10CM, "F10.20", {ConditionGroup.SUD}, id="alcohol-dependence-is-sud"),
    pytest.param(ICD9CM, "304.00", {ConditionGroup.SUD}, id="icd9-opioid-dependence-sud"),
    pytest.param(ICD10CM, "F32.9", {ConditionGroup.DEPRESSION}, id="depression"),
    pytest.param(ICD9CM, "311", {ConditionGroup.DEPRESSION}, id="icd9-depression"),
    pytest.param(SNOMED, "36923009", {ConditionGroup.DEPRESSION}, id="snomed-major-depression"),
    pytest.param(ICD10CM, "F41.1", {ConditionGroup.ANXIETY}, id="generalised-anxiety"),
    pytest.param(ICD9CM, "300.02", {ConditionGroup.ANXIETY}, id="icd9-anxiety"),
    pytest.param(ICD10CM, "F43.10", {ConditionGroup.PTSD, ConditionGroup.ANXIETY}, id="ptsd-icd10"),
    pytest.param(ICD10CM, "F4312", {ConditionGroup.PTSD, ConditionGroup.ANXIETY}, id="ptsd-no-dot"),
    pytest.param(
        SNOMED, "47505003", {ConditionGroup.PTSD, ConditionGroup.ANXIETY}, id="ptsd-snomed"
    ),
    pytest.param(ICD9CM, "309.81", {ConditionGroup.PTSD}, id="ptsd-icd9"),
    pytest.param(ICD9CM, "30981", {ConditionGroup.PTSD}, id="ptsd-icd9-no-dot"),
    pytest.param(
        ICD10CM, "G47.33", {ConditionGroup.SLEEP_DISORDERED_BREATHING}, id="obstructive-apnoea"
    ),
    pytest.param(ICD10CM, "T40.2X1A", {ConditionGroup.OVERDOSE}, id="opioid-poisoning"),
    pytest.param(ICD10CM, "T14.91XA", {ConditionGroup.SUICIDE_ATTEMPT}, id="suicide-attempt"),
    pytest.param(ICD10CM, "C34.90", {ConditionGroup.CANCER}, id="lung-cancer"),
    pytest.param(ICD10CM, "Z51.5", {ConditionGroup.TERMINAL}, id="palliative-encounter"),
    pytest.param(SNOMED, "162607003", {ConditionGroup.TERMINAL}, id="limited-life-expectancy"),
    pytest.param(SNOMED, "170935008", {ConditionGroup.HOSPICE}, id="hospice-finding"),
    pytest.param(ICD10CM, "D57.00", {ConditionGroup.SICKLE_CELL}, id="sickle-cell-crisis"),
    pytest.param(ICD10CM, "Z33.1", {ConditionGroup.PREGNANCY}, id="pregnant-state"),
    pytest.param(ICD10CM, "G89.29", {ConditionGroup.CHRONIC_PAIN}, id="chronic-pain"),
    pytest.param(ICD10CM, "N18.6", {ConditionGroup.KIDNEY_FAILURE}, id="esrd"),
    pytest.param(ICD10CM, "K74.60", {ConditionGroup.LIVER_DISEASE}, id="cirrhosis"),
    pytest.param(
        "urn:oid:2.16.840.1.113883.6.90",
        "F11.20",
        {ConditionGroup.OUD, ConditionGroup.SUD},
        id="icd10-oid",
    ),
    pytest.param(ICD10CM, "I10", set(), id="hypertension-no-group"),
    pytest.param(SNOMED, "F11.20", set(), id="icd-code-under-wrong-system"),
]


@pytest.mark.parametrize(("system", "code", "groups"), CONDITION_CASES)
def test_condition_groups(
    terminology: Terminology, system: str, code: str, groups: set[ConditionGroup]
) -> None:
    assert terminology.condition_groups([Code(system=system, code=code)]) == groups


def test_condition_groups_of_several_codings_are_united(terminology: Terminology) -> None:
    codes = [Code(ICD10CM, "F11.20"), Code(SNOMED, "36923009")]

    assert terminology.condition_groups(codes) == {
        ConditionGroup.OUD,
        ConditionGroup.SUD,
        ConditionGroup.DEPRESSION,
    }


# ----------------------------------------------------------------- UDS, procedures, visits


@pytest.mark.parametrize(
    ("code", "targets"),
    [
        pytest.param("19295-5", {"any", "opioid", "opiate"}, id="opiates-screen"),
        pytest.param("3414-0", {"any", "opioid", "buprenorphine"}, id="buprenorphine"),
        pytest.param("16249-5", {"any", "opioid", "oxycodone"}, id="oxycodone"),
        pytest.param("14316-4", {"any", "benzodiazepine"}, id="benzodiazepine"),
        pytest.param("101808-4", {"any", "xylazine"}, id="xylazine-outside-the-all-set"),
        pytest.param("2345-7", set(), id="glucose-is-not-a-uds"),
    ],
)
def test_uds_targets(terminology: Terminology, code: str, targets: set[str]) -> None:
    result = terminology.uds_targets([Code(LOINC, code)])

    assert targets <= result
    if not targets:
        assert result == frozenset()


def test_every_uds_target_string_is_reachable(terminology: Terminology) -> None:
    sets = json.loads((DATA_DIR / "valuesets" / "uds.json").read_text())["valuesets"]
    seen: set[str] = set()
    for vs in sets:
        for code in vs["codes"][LOINC]:
            seen |= terminology.uds_targets([Code(LOINC, code)])
    expected = {
        "any", "opioid", "opiate", "oxycodone", "fentanyl", "methadone", "buprenorphine",
        "heroin", "synthetic-opioid", "benzodiazepine", "barbiturate", "amphetamine",
        "cocaine", "cannabinoid", "phencyclidine", "xylazine",
    }  # fmt: skip
    assert seen == expected


@pytest.mark.parametrize(
    ("system", "code", "groups"),
    [
        pytest.param(SNOMED, "461621000124108", {"pdmp-review"}, id="pdmp-review-procedure"),
        pytest.param(SNOMED, "461651000124104", {"pdmp-review"}, id="pdmp-data-reviewed"),
        pytest.param(SNOMED, "305336008", {"hospice"}, id="hospice-procedure"),
        pytest.param(SNOMED, "103735009", {"end-of-life"}, id="palliative-care"),
        pytest.param(SNOMED, "313071005", {"substance-misuse-counseling"}, id="counselling"),
        pytest.param(
            SNOMED,
            "454281000124100",
            {"opioid-misuse-assessment", "opioid-treatment-assessment"},
            id="opioid-misuse-assessment",
        ),
        pytest.param(
            SNOMED,
            "460831000124102",
            {"opioid-counseling", "opioid-treatment-assessment"},
            id="opioid-counselling",
        ),
        pytest.param(SNOMED, "408957008", {"pain-management"}, id="pain-management"),
        pytest.param(SNOMED, "73761001", set(), id="colonoscopy-no-group"),
    ],
)
def test_procedure_groups(
    terminology: Terminology, system: str, code: str, groups: set[str]
) -> None:
    assert terminology.procedure_groups([Code(system, code)]) == groups


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param(Code(CPT, "99213"), True, id="cpt-99213"),
        pytest.param(Code("urn:oid:2.16.840.1.113883.6.12", "99214"), True, id="cpt-oid"),
        pytest.param(Code(SNOMED, "185463005"), True, id="snomed-visit"),
        pytest.param(Code(CPT, "99285"), False, id="emergency-visit"),
    ],
)
def test_is_office_visit(terminology: Terminology, code: Code, expected: bool) -> None:
    assert terminology.is_office_visit([code]) is expected


def test_is_hospice_disposition(terminology: Terminology) -> None:
    assert terminology.is_hospice_disposition([Code(SNOMED, "385765002")])
    assert not terminology.is_hospice_disposition([Code(SNOMED, "306689006")])


def test_override_reasons_are_the_cdc_code_system(terminology: Terminology) -> None:
    reasons = terminology.override_reasons()
    url = "http://fhir.org/guides/cdc/opioid-cds/CodeSystem/opioidcds-overrideReasons"

    assert len(reasons) == 16
    assert {r.system for r in reasons} == {url}
    assert reasons[0] == Code(url, "snooze-1-month", "Snooze Alert for 1 Month")
    assert "decline-suggestion-with-comment" in {r.code for r in reasons}


# ----------------------------------------------------------------- loading


def test_load_terminology_is_built_once(terminology: Terminology) -> None:
    assert load_terminology() is terminology


def test_every_vendored_value_set_is_loaded_and_non_empty(terminology: Terminology) -> None:
    infos = terminology.value_sets()
    names = {i.name for i in infos}

    assert len(names) == len(infos) == 71
    assert all(i.size > 0 for i in infos)
    assert {"opioid-analgesics-with-ambulatory-misuse-potential", "ptsd", "office-visit"} <= names
    opioid = next(
        i for i in infos if i.name == "opioid-analgesics-with-ambulatory-misuse-potential"
    )
    assert (opioid.size, opioid.expansion) == (557, "2025-02-24")


@pytest.mark.parametrize(
    ("alias", "system"),
    [
        pytest.param("http://hl7.org/fhir/sid/icd-10", ICD10CM, id="who-icd10"),
        pytest.param("urn:oid:2.16.840.1.113883.6.96", SNOMED, id="snomed-oid"),
        pytest.param("http://example.org/x", "http://example.org/x", id="unknown-kept"),
    ],
)
def test_normalise_system(alias: str, system: str) -> None:
    assert normalise_system(alias) == system


def test_fresh_process_loads_terminology_quickly() -> None:
    script = (
        "import time; t = time.perf_counter();"
        "from app.clinical.terminology import load_terminology; load_terminology();"
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    # Budget is 0.3 s; allow headroom for a busy shared test machine.
    assert float(out) < 1.0


def test_newer_icd10_child_code_matches_through_its_listed_parent():
    from app.clinical.model import ICD10CM, Code, ConditionGroup
    from app.clinical.terminology import load_terminology

    terminology = load_terminology()
    # M54.50 (low back pain, unspecified; since Oct 2021) is a child of M54.5 in the VSAC set.
    assert ConditionGroup.CHRONIC_PAIN in terminology.condition_groups([Code(ICD10CM, "M54.50")])
    assert terminology.condition_groups([Code(ICD10CM, "Z99.99")]) == frozenset()
