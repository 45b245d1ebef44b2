"""MME per medication, total at an as-of date and daily series (MME.md; D1-D10).

Every expected value is worked by hand in the comment next to it: dose x administrations per day
x strength = daily amount, x CDC factor = MME/day.
"""

import time
from datetime import date, timedelta

import pytest

from app.clinical.mme import daily_mme_series, format_mme, medication_mme, total_mme
from app.clinical.model import (
    ICD10CM,
    RXNORM,
    Classification,
    ClassSource,
    Code,
    DoseInstruction,
    DrugClass,
    MedicationKind,
    MedicationRecord,
    Quantity,
)

AS_OF = date(2026, 11, 1)

OXYCODONE_5_MG_TAB = "1049621"
OXYCODONE_10_MG_TAB = "1049683"
HYDROCODONE_10_APAP_325 = "856999"
MORPHINE_2_MG_PER_ML = "892589"
FENTANYL_25_MCG_HR_PATCH = "245134"
METHADONE_10_MG_TAB = "864706"
METHADONE_40_MG_DISPERSIBLE = "864978"
TRAMADOL_50_MG_TAB = "835603"
HYDROMORPHONE_2_MG_TAB = "897696"
FENTANYL_200_MCG_BUCCAL_TAB = "668364"
FENTANYL_200_MCG_LOZENGE = "310295"
FENTANYL_200_MCG_BUCCAL_FILM = "858092"
FENTANYL_100_MCG_NASAL_SPRAY = "1115573"
FENTANYL_100_MCG_SUBLINGUAL_SPRAY = "1237050"
FENTANYL_IONTOPHORETIC = "1666831"
LEVORPHANOL_2_MG_TAB = "197873"
ASPIRIN_OXYCODONE_TWO_SALTS = "637540"
BENZHYDROCODONE_APAP = "2118728"
BUPRENORPHINE_NALOXONE_SL = "351266"
BUPRENORPHINE_10_MCG_HR_PATCH = "904870"
UNKNOWN_RXCUI = "99999999"

OPIOID = Classification(
    classes=frozenset({DrugClass.OPIOID_ANALGESIC}), source=ClassSource.CODE_LIST
)


def tablets(n: float) -> Quantity:
    return Quantity(n, "tablet", "TAB")


def sig(**fields) -> DoseInstruction:
    return DoseInstruction(**fields)


def rx(
    rxcui: str,
    *dosages: DoseInstruction,
    ref: str | None = None,
    classification: Classification = OPIOID,
    **fields,
) -> MedicationRecord:
    """A MedicationRequest authored on Oct 20 with 30 days supply (covers Oct 20 - Nov 18)."""
    values = {
        "codes": (Code(RXNORM, rxcui),),
        "classification": classification,
        "status": "active",
        "authored_on": date(2026, 10, 20),
        "expected_supply_days": 30,
        "dosages": dosages,
    }
    values.update(fields)
    return MedicationRecord(
        ref=ref or f"MedicationRequest/{rxcui}", kind=MedicationKind.REQUEST, **values
    )


def fill(ref: str, rxcui: str, handed_over: date, days: float, *dosages, **fields):
    return MedicationRecord(
        ref=ref,
        kind=MedicationKind.DISPENSE,
        codes=(Code(RXNORM, rxcui),),
        classification=OPIOID,
        status="completed",
        handed_over=handed_over,
        days_supply=days,
        dosages=dosages,
        **fields,
    )


def mme(record: MedicationRecord, edition: str = "2022", **kwargs):
    return medication_mme(record, as_of=AS_OF, edition=edition, **kwargs)


# --------------------------------------------------------------- MME.md section 9 worked examples

WORKED_EXAMPLES = [
    # Oxycodone 5 mg, 2 tablets q4-6h PRN: 6/day x 2 x 5 mg = 60 mg x 1.5 = 90.
    pytest.param(
        rx(
            OXYCODONE_5_MG_TAB,
            sig(
                dose=tablets(2),
                frequency=1,
                period=4,
                period_max=6,
                period_unit="h",
                as_needed=True,
            ),
        ),
        "2022",
        90.0,
        id="oxycodone-5mg-2-tabs-q4-6h-prn-90",
    ),
    # Hydrocodone 10 mg / APAP 325 mg, 1 tablet QID: 4 x 10 mg = 40 mg x 1 = 40.
    pytest.param(
        rx(HYDROCODONE_10_APAP_325, sig(dose=tablets(1), timing_code="QID")),
        "2022",
        40.0,
        id="hydrocodone-apap-10-325-qid-40",
    ),
    # Morphine 2 mg/mL, 5 mL q6h: 4 x 5 mL x 2 mg/mL = 40 mg x 1 = 40.
    pytest.param(
        rx(
            MORPHINE_2_MG_PER_ML,
            sig(dose=Quantity(5, "mL", "mL"), frequency=1, period=6, period_unit="h"),
        ),
        "2022",
        40.0,
        id="morphine-2mg-per-ml-5ml-q6h-40",
    ),
    # Fentanyl 25 mcg/hr, 1 patch q72h: 1 x 25 x 2.4 = 60.
    pytest.param(
        rx(
            FENTANYL_25_MCG_HR_PATCH,
            sig(dose=Quantity(1, "patch"), frequency=1, period=72, period_unit="h"),
        ),
        "2022",
        60.0,
        id="fentanyl-25mcg-patch-q72h-60",
    ),
    # Same patch q48h: the change interval does not matter, 1 x 25 x 2.4 = 60 (COSRI says 90).
    pytest.param(
        rx(
            FENTANYL_25_MCG_HR_PATCH,
            sig(dose=Quantity(1, "{patch}"), frequency=1, period=48, period_unit="h"),
        ),
        "2022",
        60.0,
        id="fentanyl-25mcg-patch-q48h-60",
    ),
    # Methadone 10 mg TID: 30 mg/day; 2016 tier 21-40 -> 8: 240.
    pytest.param(
        rx(METHADONE_10_MG_TAB, sig(dose=tablets(1), timing_code="TID")),
        "2016",
        240.0,
        id="methadone-10mg-tid-2016-240",
    ),
    # Same: 2022 flat 4.7: 30 x 4.7 = 141.
    pytest.param(
        rx(METHADONE_10_MG_TAB, sig(dose=tablets(1), timing_code="TID")),
        "2022",
        141.0,
        id="methadone-10mg-tid-2022-141",
    ),
    # Tramadol 50 mg, 2 tablets BID: 200 mg/day; 2022 x 0.2 = 40.
    pytest.param(
        rx(TRAMADOL_50_MG_TAB, sig(dose=tablets(2), timing_code="BID")),
        "2022",
        40.0,
        id="tramadol-50mg-2-tabs-bid-2022-40",
    ),
    # Same under 2016 (compilation 0.1): 20.
    pytest.param(
        rx(TRAMADOL_50_MG_TAB, sig(dose=tablets(2), timing_code="BID")),
        "2016",
        20.0,
        id="tramadol-50mg-2-tabs-bid-2016-20",
    ),
]


@pytest.mark.parametrize(("record", "edition", "expected"), WORKED_EXAMPLES)
def test_worked_examples_of_the_mme_spec(record, edition, expected):
    line = mme(record, edition)
    assert line.mme_per_day == pytest.approx(expected)
    assert line.complete is True
    assert line.counted is True


def test_prn_line_says_the_maximum_allowed_was_used():
    line = mme(WORKED_EXAMPLES[0].values[0])
    assert "PRN, maximum allowed used" in line.notes


def test_patch_line_reports_the_rate_worn():
    line = mme(WORKED_EXAMPLES[3].values[0])
    assert (line.daily_dose, line.unit) == (pytest.approx(25.0), "ug/h")
    assert line.ingredients[0].factor == 2.4


# --------------------------------------------------------------- dosage forms and editions

FORMS = [
    # Hydromorphone 2 mg QID: 8 mg x 5 (2022) = 40.
    pytest.param(
        rx(HYDROMORPHONE_2_MG_TAB, sig(dose=tablets(1), timing_code="QID")),
        "2022",
        40.0,
        id="hydromorphone-2022-factor-5",
    ),
    # Same under 2016: 8 mg x 4 = 32.
    pytest.param(
        rx(HYDROMORPHONE_2_MG_TAB, sig(dose=tablets(1), timing_code="QID")),
        "2016",
        32.0,
        id="hydromorphone-2016-factor-4",
    ),
    # Dose in mg: oxycodone 10 mg q12h = 20 mg x 1.5 = 30 (tablet size irrelevant).
    pytest.param(
        rx(OXYCODONE_5_MG_TAB, sig(dose=Quantity(10, "mg", "mg"), timing_code="Q12H")),
        "2022",
        30.0,
        id="dose-in-mg",
    ),
    # Fentanyl buccal tablet 0.2 mg BID: 0.4 mg = 400 mcg x 0.13 = 52 (COSRI: 0.052).
    pytest.param(
        rx(FENTANYL_200_MCG_BUCCAL_TAB, sig(dose=tablets(1), timing_code="BID")),
        "2022",
        52.0,
        id="fentanyl-buccal-tablet-mg-strength-to-mcg",
    ),
    # Same drug, dose written as 200 mcg BID: 400 mcg x 0.13 = 52.
    pytest.param(
        rx(FENTANYL_200_MCG_BUCCAL_TAB, sig(dose=Quantity(200, "mcg"), timing_code="BID")),
        "2022",
        52.0,
        id="fentanyl-buccal-dose-in-mcg",
    ),
    # Lozenge 0.2 mg QID: 800 mcg x 0.13 = 104.
    pytest.param(
        rx(FENTANYL_200_MCG_LOZENGE, sig(dose=Quantity(1, "lozenge"), timing_code="QID")),
        "2022",
        104.0,
        id="fentanyl-lozenge",
    ),
    # Buccal film 0.2 mg BID: 400 mcg x 0.18 = 72.
    pytest.param(
        rx(FENTANYL_200_MCG_BUCCAL_FILM, sig(dose=Quantity(1, "film"), timing_code="BID")),
        "2022",
        72.0,
        id="fentanyl-buccal-film",
    ),
    # Nasal spray 0.1 mg/actuation, 2 sprays BID: 4 x 100 mcg = 400 mcg x 0.16 = 64.
    pytest.param(
        rx(FENTANYL_100_MCG_NASAL_SPRAY, sig(dose=Quantity(2, "spray"), timing_code="BID")),
        "2022",
        64.0,
        id="fentanyl-nasal-spray",
    ),
    # Sublingual (mucosal) spray 0.1 mg/actuation QID: 400 mcg x 0.18 (oral spray) = 72.
    pytest.param(
        rx(FENTANYL_100_MCG_SUBLINGUAL_SPRAY, sig(dose=Quantity(1, "{actuat}"), timing_code="QID")),
        "2022",
        72.0,
        id="fentanyl-sublingual-spray",
    ),
    # Two patches of 25 mcg/hr worn together: 50 x 2.4 = 120.
    pytest.param(
        rx(
            FENTANYL_25_MCG_HR_PATCH,
            sig(dose=Quantity(2, "patch"), frequency=1, period=72, period_unit="h"),
        ),
        "2022",
        120.0,
        id="fentanyl-two-patches-worn",
    ),
    # Aspirin / oxycodone HCl 4.5 mg / oxycodone terephthalate 0.38 mg, 1 tablet QID: both salts
    # count: (4.5 + 0.38) x 4 = 19.52 mg x 1.5 = 29.28.
    pytest.param(
        rx(ASPIRIN_OXYCODONE_TWO_SALTS, sig(dose=tablets(1), timing_code="QID")),
        "2022",
        29.28,
        id="combination-with-two-opioid-rows",
    ),
    # Levorphanol 2 mg BID: 4 mg x 11 (compilation) = 44.
    pytest.param(
        rx(LEVORPHANOL_2_MG_TAB, sig(dose=tablets(1), timing_code="BID")),
        "2022",
        44.0,
        id="levorphanol-compilation-factor",
    ),
    # Oxycodone 5 mg, 1 tablet at MORN and NIGHT (2 `when` codes): 10 mg x 1.5 = 15.
    pytest.param(
        rx(OXYCODONE_5_MG_TAB, sig(dose=tablets(1), when_count=2)),
        "2022",
        15.0,
        id="when-codes",
    ),
    # Oxycodone 5 mg, 1-2 tablets q6h: upper bound 2 x 4 x 5 mg = 40 mg x 1.5 = 60.
    pytest.param(
        rx(
            OXYCODONE_5_MG_TAB,
            sig(dose_low=tablets(1), dose_high=tablets(2), frequency=1, period=6, period_unit="h"),
        ),
        "2022",
        60.0,
        id="dose-range-upper-bound",
    ),
    # Oxycodone 5 mg, "2" without unit BID: 2 tablets x 2 x 5 mg = 20 mg x 1.5 = 30.
    pytest.param(
        rx(OXYCODONE_5_MG_TAB, sig(dose=Quantity(2), timing_code="BID")),
        "2022",
        30.0,
        id="unitless-dose-on-tablet-form",
    ),
]


@pytest.mark.parametrize(("record", "edition", "expected"), FORMS)
def test_dosage_forms_and_editions(record, edition, expected):
    line = mme(record, edition)
    assert line.mme_per_day == pytest.approx(expected)
    assert line.complete is True


def test_transmucosal_fentanyl_is_reported_in_micrograms_with_a_note():
    line = mme(rx(FENTANYL_100_MCG_NASAL_SPRAY, sig(dose=Quantity(2, "spray"), timing_code="BID")))
    assert (line.unit, line.daily_dose) == ("ug/d", pytest.approx(400.0))
    assert any("factor not in 2022 table" in note for note in line.notes)


def test_policy_can_make_drugs_outside_2022_table_not_computable():
    record = rx(LEVORPHANOL_2_MG_TAB, sig(dose=tablets(1), timing_code="BID"))
    line = mme(record, outside_2022_table="not-computable")
    assert line.mme_per_day is None
    assert line.complete is False


def test_ionsys_iontophoretic_system_is_not_a_patch_and_not_computable():
    line = mme(rx(FENTANYL_IONTOPHORETIC, sig(dose=Quantity(1, "{actuat}"), timing_code="Q4H")))
    assert line.mme_per_day is None
    assert line.complete is False


def test_opioid_without_a_factor_is_not_computable_never_zero():
    line = mme(rx(BENZHYDROCODONE_APAP, sig(dose=tablets(1), timing_code="BID")))
    assert line.mme_per_day is None
    assert line.complete is False
    assert any("no factor for Benzhydrocodone" in note for note in line.notes)


# --------------------------------------------------------------- PRN and maxDosePerPeriod (D5)


def test_prn_maximum_is_capped_by_max_dose_per_period():
    # Oxycodone 5 mg, 2 tabs q4h PRN = 12 tabs/day, but max 6 tabs/day: 30 mg x 1.5 = 45.
    record = rx(
        OXYCODONE_5_MG_TAB,
        sig(
            dose=tablets(2),
            frequency=1,
            period=4,
            period_unit="h",
            as_needed=True,
            max_dose_per_period=tablets(6),
            max_dose_period_days=1,
        ),
    )
    line = mme(record)
    assert line.mme_per_day == pytest.approx(45.0)
    assert "capped by maximum dose per period" in line.notes


def test_larger_max_dose_per_period_does_not_raise_the_dose():
    # 1 tab q6h PRN = 4 tabs = 20 mg x 1.5 = 30; max 8 tabs/day is larger and does not apply.
    record = rx(
        OXYCODONE_5_MG_TAB,
        sig(
            dose=tablets(1),
            timing_code="Q6H",
            as_needed=True,
            max_dose_per_period=tablets(8),
            max_dose_period_days=1,
        ),
    )
    assert mme(record).mme_per_day == pytest.approx(30.0)


def test_prn_without_frequency_uses_max_dose_per_period():
    # 1 tab PRN, max 40 mg per day: 40 mg x 1.5 = 60.
    record = rx(
        OXYCODONE_5_MG_TAB,
        sig(
            dose=tablets(1),
            as_needed=True,
            max_dose_per_period=Quantity(40, "mg"),
            max_dose_period_days=1,
        ),
    )
    line = mme(record)
    assert line.mme_per_day == pytest.approx(60.0)
    assert line.complete is True


# --------------------------------------------------------------- missing dose and timing (D3, D4)


def test_missing_dose_on_tablet_assumes_one_and_is_incomplete():
    # No dose, BID: 1 tablet assumed, 2 x 5 mg = 10 mg x 1.5 = 15.
    line = mme(rx(OXYCODONE_5_MG_TAB, sig(timing_code="BID")))
    assert line.mme_per_day == pytest.approx(15.0)
    assert line.complete is False
    assert "dose not stated, 1 assumed" in line.notes


def test_missing_dose_on_liquid_is_not_computable():
    line = mme(rx(MORPHINE_2_MG_PER_ML, sig(frequency=1, period=6, period_unit="h")))
    assert line.mme_per_day is None
    assert line.complete is False


def test_missing_timing_is_estimated_from_supply_and_flagged():
    # 60 tablets for 30 days = 2 tablets/day x 5 mg = 10 mg x 1.5 = 15.
    record = rx(OXYCODONE_5_MG_TAB, sig(dose=tablets(1)), dispense_quantity=tablets(60))
    line = mme(record)
    assert line.mme_per_day == pytest.approx(15.0)
    assert line.complete is False
    assert "daily dose estimated from supply" in line.notes


def test_missing_timing_of_liquid_is_estimated_from_millilitres_supplied():
    # 300 mL of 2 mg/mL for 30 days = 10 mL/day = 20 mg x 1 = 20.
    record = rx(MORPHINE_2_MG_PER_ML, dispense_quantity=Quantity(300, "mL"))
    assert mme(record).mme_per_day == pytest.approx(20.0)


def test_missing_timing_without_supply_is_not_computable_never_zero():
    line = mme(rx(OXYCODONE_5_MG_TAB, sig(dose=tablets(1))))
    assert line.mme_per_day is None
    assert line.complete is False
    assert "frequency not stated" in line.notes


def test_record_without_any_dosage_is_not_computable():
    line = mme(rx(OXYCODONE_5_MG_TAB))
    assert line.mme_per_day is None
    assert line.complete is False


def test_dose_in_unknown_unit_is_not_computable():
    line = mme(rx(OXYCODONE_5_MG_TAB, sig(dose=Quantity(1, "tsp"), timing_code="BID")))
    assert line.mme_per_day is None
    assert "dose unit 'tsp' not understood" in line.notes


def test_dose_in_millilitres_for_a_tablet_is_not_computable():
    line = mme(rx(OXYCODONE_5_MG_TAB, sig(dose=Quantity(5, "mL"), timing_code="BID")))
    assert line.mme_per_day is None
    assert line.complete is False


def test_patch_without_dose_derives_patches_worn_from_supply():
    # 10 patches for 30 days, 72 HR wear: 10 / 30 x 3 = 1 patch worn: 25 x 2.4 = 60.
    record = rx(
        FENTANYL_25_MCG_HR_PATCH,
        sig(frequency=1, period=72, period_unit="h"),
        dispense_quantity=Quantity(10, "patch"),
    )
    line = mme(record)
    assert line.mme_per_day == pytest.approx(60.0)
    assert line.complete is False
    assert any("estimated from supply" in note for note in line.notes)


@pytest.mark.parametrize("unit", ["ug/h", "mcg/hr", "{mcg/h}"])
def test_patch_dose_written_as_a_rate_is_the_rate_worn(unit):
    # "50 mcg/hr" of a 25 mcg/hr patch: 2 patches worn, 50 x 2.4 = 120.
    record = rx(FENTANYL_25_MCG_HR_PATCH, sig(dose=Quantity(50, unit), timing_code="Q72H"))
    line = mme(record)
    assert line.mme_per_day == pytest.approx(120.0)
    assert line.complete is True


def test_patch_dose_in_mg_is_not_computable():
    line = mme(rx(FENTANYL_25_MCG_HR_PATCH, sig(dose=Quantity(2, "mg"), timing_code="Q72H")))
    assert line.mme_per_day is None
    assert line.complete is False


def test_active_statement_of_ongoing_use_counts():
    statement = MedicationRecord(
        ref="MedicationStatement/s",
        kind=MedicationKind.STATEMENT,
        codes=(Code(RXNORM, OXYCODONE_5_MG_TAB),),
        classification=OPIOID,
        status="active",
        effective_start=date(2026, 1, 1),
        dosages=(sig(dose=tablets(1), timing_code="TID"),),
    )
    # 3 x 5 mg = 15 mg x 1.5 = 22.5.
    assert total_mme([statement], as_of=AS_OF).total_mme == pytest.approx(22.5)


def test_patch_without_dose_or_supply_assumes_one_patch_and_is_incomplete():
    record = rx(FENTANYL_25_MCG_HR_PATCH, sig(timing_code="Q72H"))
    line = mme(record)
    assert line.mme_per_day == pytest.approx(60.0)
    assert line.complete is False


# --------------------------------------------------------------- several instructions (D2)


def test_concurrent_instructions_are_summed():
    # 1 tab AM + 2 tabs at bedtime = 3 x 5 mg = 15 mg x 1.5 = 22.5.
    record = rx(
        OXYCODONE_5_MG_TAB,
        sig(dose=tablets(1), timing_code="AM"),
        sig(dose=tablets(2), timing_code="BED"),
    )
    assert mme(record).mme_per_day == pytest.approx(22.5)


def test_sequenced_phase_current_at_as_of_is_used():
    # Phase 2 (from Oct 16) is current on Nov 1: 1 tab BID = 10 mg x 1.5 = 15.
    record = rx(
        OXYCODONE_5_MG_TAB,
        sig(sequence=1, dose=tablets(2), timing_code="QID", bounds_end=date(2026, 10, 15)),
        sig(sequence=2, dose=tablets(1), timing_code="BID", bounds_start=date(2026, 10, 16)),
    )
    line = mme(record)
    assert line.mme_per_day == pytest.approx(15.0)
    assert "dosage phase current at the as-of date used" in line.notes


def test_sequenced_phases_without_dates_use_the_largest():
    # Phase 1: 2 tabs QID = 40 mg x 1.5 = 60; phase 2: 15. The largest, 60, is used.
    record = rx(
        OXYCODONE_5_MG_TAB,
        sig(sequence=1, dose=tablets(2), timing_code="QID"),
        sig(sequence=2, dose=tablets(1), timing_code="BID"),
    )
    line = mme(record)
    assert line.mme_per_day == pytest.approx(60.0)
    assert "successive dosage phases: the largest MME used" in line.notes


def test_sequenced_phases_with_one_unreadable_phase_are_incomplete():
    record = rx(
        OXYCODONE_5_MG_TAB,
        sig(sequence=1, dose=tablets(2), timing_code="QID"),
        sig(sequence=2, dose=Quantity(1, "tsp"), timing_code="BID"),
    )
    line = mme(record)
    assert line.mme_per_day == pytest.approx(60.0)
    assert line.complete is False


# --------------------------------------------------------------- classification and exclusions


def test_unknown_code_of_an_opioid_is_incomplete_and_named():
    record = rx(UNKNOWN_RXCUI, sig(dose=tablets(1), timing_code="BID"), text="Oxycodone 7.5 mg")
    line = mme(record)
    assert (line.mme_per_day, line.complete, line.counted) == (None, False, True)
    total = total_mme([record], as_of=AS_OF)
    assert total.complete is False
    assert total.reasons[0].startswith("Oxycodone 7.5 mg: MME not computable")


def test_non_opioid_is_not_an_mme_line():
    gabapentin = Classification(
        classes=frozenset({DrugClass.GABAPENTINOID}), source=ClassSource.CODE_LIST
    )
    record = rx("310431", sig(dose=tablets(1), timing_code="TID"), classification=gabapentin)
    assert mme(record).counted is False
    total = total_mme([record], as_of=AS_OF)
    assert (total.lines, total.excluded, total.complete, total.total_mme) == ((), (), True, 0.0)


def test_unclassified_record_with_an_omtk_row_is_treated_as_opioid():
    record = rx(
        OXYCODONE_5_MG_TAB, sig(dose=tablets(1), timing_code="BID"), classification=Classification()
    )
    assert mme(record).mme_per_day == pytest.approx(15.0)


@pytest.mark.parametrize(
    ("rxcui", "classes", "label"),
    [
        pytest.param(
            BUPRENORPHINE_NALOXONE_SL,
            {DrugClass.BUPRENORPHINE_MOUD},
            "buprenorphine (OUD)",
            id="suboxone-oud",
        ),
        pytest.param(
            BUPRENORPHINE_10_MCG_HR_PATCH,
            {DrugClass.BUPRENORPHINE_PAIN},
            "buprenorphine (pain)",
            id="butrans-pain",
        ),
        pytest.param(
            BUPRENORPHINE_10_MCG_HR_PATCH, set(), "buprenorphine (pain)", id="patch-by-form"
        ),
        pytest.param(
            BUPRENORPHINE_NALOXONE_SL, set(), "buprenorphine (OUD)", id="naloxone-by-form"
        ),
    ],
)
def test_buprenorphine_is_excluded_and_labelled(rxcui, classes, label):
    classification = Classification(
        classes=frozenset(classes) or frozenset({DrugClass.OPIOID_ANALGESIC}),
        source=ClassSource.CODE_LIST,
    )
    record = rx(rxcui, sig(dose=tablets(1), timing_code="QD"), classification=classification)
    oxycodone = rx(OXYCODONE_5_MG_TAB, sig(dose=tablets(1), timing_code="BID"))
    for edition in ("2022", "2016"):
        total = total_mme([record, oxycodone], as_of=AS_OF, edition=edition)
        # Only oxycodone counts: 10 mg x 1.5 = 15; buprenorphine is listed apart.
        assert total.total_mme == pytest.approx(15.0)
        assert total.complete is True
        assert [line.ref for line in total.excluded] == [record.ref]
        excluded = total.excluded[0]
        assert (excluded.counted, excluded.mme_per_day) == (False, None)
        assert excluded.notes[0].startswith(label)


def test_methadone_for_oud_is_never_converted():
    moud = Classification(
        classes=frozenset({DrugClass.METHADONE_MOUD}), source=ClassSource.CODE_LIST
    )
    record = rx(
        METHADONE_40_MG_DISPERSIBLE, sig(dose=tablets(2), timing_code="QD"), classification=moud
    )
    total = total_mme([record], as_of=AS_OF, edition="2016")
    assert total.total_mme == 0.0
    assert total.excluded[0].notes[0].startswith("methadone for opioid use disorder")
    assert total.excluded[0].daily_dose == pytest.approx(80.0)


def test_methadone_tablets_with_an_oud_reason_are_not_converted():
    record = rx(
        METHADONE_10_MG_TAB,
        sig(dose=tablets(6), timing_code="QD"),
        reason_codes=(Code(ICD10CM, "F11.20"),),
    )
    line = mme(record)
    assert (line.counted, line.mme_per_day) == (False, None)


def test_methadone_prescriptions_are_tiered_separately_not_pooled():
    # D8: 30 mg/day and 20 mg/day: 30 x 8 + 20 x 4 = 320 (pooled 50 mg x 10 would be 500).
    a = rx(METHADONE_10_MG_TAB, sig(dose=tablets(1), timing_code="TID"), ref="MedicationRequest/a")
    b = rx("864718", sig(dose=tablets(2), timing_code="BID"), ref="MedicationRequest/b")
    total = total_mme([a, b], as_of=AS_OF, edition="2016")
    assert total.total_mme == pytest.approx(320.0)


# --------------------------------------------------------------- scope and total (D1)


def test_total_adds_medications_in_scope():
    # 15 (oxycodone 5 mg BID) + 40 (hydrocodone 10 mg QID) = 55.
    records = [
        rx(OXYCODONE_5_MG_TAB, sig(dose=tablets(1), timing_code="BID")),
        rx(HYDROCODONE_10_APAP_325, sig(dose=tablets(1), timing_code="QID")),
    ]
    total = total_mme(records, as_of=AS_OF)
    assert total.total_mme == pytest.approx(55.0)
    assert total.complete is True
    assert (total.as_of, total.edition, len(total.lines)) == (AS_OF, "2022", 2)


def test_records_whose_supply_does_not_cover_as_of_are_out_of_scope():
    # Authored Sep 1 with 30 days: covers Sep 1 - Sep 30, not Nov 1.
    old = rx(
        OXYCODONE_5_MG_TAB, sig(dose=tablets(1), timing_code="BID"), authored_on=date(2026, 9, 1)
    )
    assert total_mme([old], as_of=AS_OF).lines == ()


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "draft"])
def test_excluded_statuses_are_out_of_scope(status):
    record = rx(OXYCODONE_5_MG_TAB, sig(dose=tablets(1), timing_code="BID"), status=status)
    assert total_mme([record], as_of=AS_OF).lines == ()


def test_opioid_without_supply_dates_is_not_in_scope_at_as_of():
    record = rx(OXYCODONE_5_MG_TAB, sig(dose=tablets(1), timing_code="BID"), authored_on=None)
    assert total_mme([record], as_of=AS_OF).lines == ()


def test_draft_order_counts_from_as_of():
    draft = rx(
        OXYCODONE_10_MG_TAB,
        sig(dose=tablets(1), timing_code="BID"),
        status="draft",
        authored_on=None,
    )
    current = rx(OXYCODONE_5_MG_TAB, sig(dose=tablets(1), timing_code="BID"))
    # 15 (current) + 20 mg x 1.5 = 30 (draft) = 45.
    total = total_mme([current], as_of=AS_OF, drafts=[draft])
    assert total.total_mme == pytest.approx(45.0)


def test_draft_renewal_of_the_same_drug_counts_once():
    current = rx(OXYCODONE_5_MG_TAB, sig(dose=tablets(1), timing_code="BID"))
    draft = rx(
        OXYCODONE_5_MG_TAB,
        sig(dose=tablets(1), timing_code="TID"),
        ref="MedicationRequest/draft",
        status="draft",
    )
    # The draft (3 x 5 mg = 15 mg x 1.5 = 22.5) replaces the current order.
    total = total_mme([current], as_of=AS_OF, drafts=[draft])
    assert total.total_mme == pytest.approx(22.5)
    assert [line.ref for line in total.lines] == ["MedicationRequest/draft"]


def test_two_drafts_of_the_same_drug_are_separate_orders_and_both_count():
    # A different drug, so the current line stays: hydrocodone 10 mg TID = 30 MME.
    current = rx(HYDROCODONE_10_APAP_325, sig(dose=tablets(1), timing_code="TID"))
    first = rx(
        OXYCODONE_5_MG_TAB,
        sig(dose=tablets(2), timing_code="BID"),
        ref="MedicationRequest/draft-1",
        status="draft",
        authored_on=None,
    )
    second = rx(
        OXYCODONE_5_MG_TAB,
        sig(dose=tablets(2), timing_code="QID"),
        ref="MedicationRequest/draft-2",
        status="draft",
        authored_on=None,
    )
    # 30 (current) + 20 mg x 1.5 = 30 (draft 1) + 40 mg x 1.5 = 60 (draft 2) = 120.
    total = total_mme([current], as_of=AS_OF, drafts=[first, second])
    assert total.total_mme == pytest.approx(120.0)
    assert {line.ref for line in total.lines} == {
        f"MedicationRequest/{HYDROCODONE_10_APAP_325}",
        "MedicationRequest/draft-1",
        "MedicationRequest/draft-2",
    }


def test_two_identical_drafts_both_count():
    drafts = [
        rx(
            OXYCODONE_5_MG_TAB,
            sig(dose=tablets(2), timing_code="TID"),
            ref=f"MedicationRequest/draft-{n}",
            status="draft",
            authored_on=None,
        )
        for n in (1, 2)
    ]
    # 2 x (30 mg x 1.5 = 45) = 90.
    assert total_mme([], as_of=AS_OF, drafts=drafts).total_mme == pytest.approx(90.0)


def test_drafts_of_the_same_drug_both_replace_the_current_order_only():
    current = rx(OXYCODONE_5_MG_TAB, sig(dose=tablets(1), timing_code="BID"))
    drafts = [
        rx(
            OXYCODONE_5_MG_TAB,
            sig(dose=tablets(1), timing_code=code),
            ref=f"MedicationRequest/draft-{code}",
            status="draft",
            authored_on=None,
        )
        for code in ("BID", "TID")
    ]
    # Current (15) is renewed; the drafts 15 + 22.5 both count.
    total = total_mme([current], as_of=AS_OF, drafts=drafts)
    assert total.total_mme == pytest.approx(37.5)
    assert sorted(line.ref for line in total.lines) == [
        "MedicationRequest/draft-BID",
        "MedicationRequest/draft-TID",
    ]


def test_overlapping_requests_for_the_same_drug_count_once_as_renewal():
    first = rx(
        OXYCODONE_5_MG_TAB,
        sig(dose=tablets(1), timing_code="BID"),
        ref="MedicationRequest/first",
        authored_on=date(2026, 10, 10),
    )
    renewal = rx(
        OXYCODONE_5_MG_TAB,
        sig(dose=tablets(1), timing_code="TID"),
        ref="MedicationRequest/renewal",
        authored_on=date(2026, 10, 28),
    )
    total = total_mme([first, renewal], as_of=AS_OF)
    # Only the renewal: 3 x 5 mg = 15 mg x 1.5 = 22.5.
    assert total.total_mme == pytest.approx(22.5)
    assert [line.ref for line in total.lines] == ["MedicationRequest/renewal"]
    assert any("renewal of MedicationRequest/first" in note for note in total.lines[0].notes)


def test_overlapping_requests_for_different_drugs_both_count():
    five = rx(OXYCODONE_5_MG_TAB, sig(dose=tablets(1), timing_code="BID"))
    ten = rx(OXYCODONE_10_MG_TAB, sig(dose=tablets(1), timing_code="BID"))
    # 15 + 30 = 45.
    assert total_mme([five, ten], as_of=AS_OF).total_mme == pytest.approx(45.0)


def test_overlapping_dispenses_of_the_same_drug_both_count():
    bid = sig(dose=tablets(1), timing_code="BID")
    fills = [
        fill("MedicationDispense/1", OXYCODONE_5_MG_TAB, date(2026, 10, 10), 30, bid),
        fill("MedicationDispense/2", OXYCODONE_5_MG_TAB, date(2026, 10, 25), 30, bid),
    ]
    # Both supplies are in hand on Nov 1: 15 + 15 = 30.
    assert total_mme(fills, as_of=AS_OF).total_mme == pytest.approx(30.0)


def test_dispense_without_sig_uses_its_prescription_sig():
    request = rx(
        OXYCODONE_5_MG_TAB, sig(dose=tablets(1), timing_code="QID"), ref="MedicationRequest/p"
    )
    dispense = MedicationRecord(
        ref="MedicationDispense/x",
        kind=MedicationKind.DISPENSE,
        status="completed",
        handed_over=date(2026, 10, 25),
        days_supply=30,
        authorizing_prescription="MedicationRequest/p",
    )
    total = total_mme([request, dispense], as_of=AS_OF)
    # The dispense stands for the request: 4 x 5 mg = 20 mg x 1.5 = 30.
    assert total.total_mme == pytest.approx(30.0)
    assert [line.ref for line in total.lines] == ["MedicationDispense/x"]


def test_incomplete_line_keeps_the_computable_part_of_the_total():
    records = [
        rx(OXYCODONE_5_MG_TAB, sig(dose=tablets(1), timing_code="BID")),
        rx(BENZHYDROCODONE_APAP, sig(dose=tablets(1), timing_code="BID")),
    ]
    total = total_mme(records, as_of=AS_OF)
    assert total.total_mme == pytest.approx(15.0)
    assert total.complete is False
    assert len(total.reasons) == 1


def test_assumed_dose_makes_the_total_incomplete():
    total = total_mme([rx(OXYCODONE_5_MG_TAB, sig(timing_code="BID"))], as_of=AS_OF)
    assert total.total_mme == pytest.approx(15.0)
    assert total.complete is False
    assert "dose not stated, 1 assumed" in total.reasons[0]


# --------------------------------------------------------------- rounding (D10)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(49.95, "50.0", id="half-up"),
        pytest.param(49.94, "49.9", id="down"),
        pytest.param(89.99999820, "90.0", id="ig-example"),
        pytest.param(0.0, "0.0", id="zero"),
        pytest.param(None, "not computable", id="none"),
    ],
)
def test_format_mme_rounds_for_display_only(value, shown):
    assert format_mme(value) == shown


def test_total_is_not_rounded():
    # Tramadol 50 mg, 4.995 tablets/day: 249.75 mg x 0.2 = 49.95: shown "50.0", still < 50.
    record = rx(TRAMADOL_50_MG_TAB, sig(dose=Quantity(249.75, "mg"), timing_code="QD"))
    total = total_mme([record], as_of=AS_OF)
    assert total.total_mme < 50
    assert format_mme(total.total_mme) == "50.0"


# --------------------------------------------------------------- daily series


def test_daily_series_follows_supply_windows():
    bid = sig(dose=tablets(1), timing_code="BID")
    records = [
        fill("MedicationDispense/1", OXYCODONE_5_MG_TAB, date(2026, 1, 1), 10, bid),
        fill("MedicationDispense/2", HYDROCODONE_10_APAP_325, date(2026, 1, 6), 10, bid),
    ]
    series = daily_mme_series(records, start=date(2026, 1, 1), end=date(2026, 1, 20))
    values = {day: value for day, value, _ in series}
    assert len(series) == 20
    assert values[date(2026, 1, 1)] == pytest.approx(15.0)  # oxycodone only
    assert values[date(2026, 1, 6)] == pytest.approx(35.0)  # 15 + hydrocodone 20
    assert values[date(2026, 1, 10)] == pytest.approx(35.0)  # last day of the first fill
    assert values[date(2026, 1, 11)] == pytest.approx(20.0)
    assert values[date(2026, 1, 16)] == 0.0
    assert all(complete for _, _, complete in series)


def test_daily_series_marks_days_with_an_incomplete_line():
    records = [rx(BENZHYDROCODONE_APAP, sig(dose=tablets(1), timing_code="BID"))]
    series = dict(
        (day, complete)
        for day, _, complete in daily_mme_series(
            records, start=date(2026, 10, 19), end=date(2026, 10, 21)
        )
    )
    assert series == {
        date(2026, 10, 19): True,
        date(2026, 10, 20): False,
        date(2026, 10, 21): False,
    }


def test_daily_series_of_an_empty_range_is_empty():
    assert daily_mme_series([], start=date(2026, 1, 2), end=date(2026, 1, 1)) == ()


def _busy_patient(n_records: int) -> list[MedicationRecord]:
    """Requests and fills of several drugs over two years, with renewals and early refills."""
    drugs = [
        OXYCODONE_5_MG_TAB,
        HYDROCODONE_10_APAP_325,
        FENTANYL_25_MCG_HR_PATCH,
        TRAMADOL_50_MG_TAB,
    ]
    records: list[MedicationRecord] = []
    start = date(2025, 1, 1)
    for i in range(n_records):
        drug = drugs[i % len(drugs)]
        day = start + timedelta(days=(i * 7) % 700)
        dosage = sig(
            dose=Quantity(1, "patch" if drug == FENTANYL_25_MCG_HR_PATCH else "tablet"),
            timing_code="Q72H" if drug == FENTANYL_25_MCG_HR_PATCH else "TID",
        )
        if i % 3 == 0:
            records.append(rx(drug, dosage, ref=f"MedicationRequest/{i}", authored_on=day))
        else:
            records.append(fill(f"MedicationDispense/{i}", drug, day, 28 + i % 5, dosage))
    return records


def test_daily_series_equals_the_total_on_every_day():
    records = _busy_patient(60)
    series = daily_mme_series(records, start=date(2025, 1, 1), end=date(2025, 12, 31))
    for day, value, complete in series[::7]:
        total = total_mme(records, as_of=day)
        assert value == pytest.approx(total.total_mme, abs=1e-6), day
        assert complete == total.complete


def test_daily_series_of_a_busy_patient_is_fast():
    records = _busy_patient(320)
    total_mme(records, as_of=date(2025, 6, 1))  # terminology loaded once
    started = time.perf_counter()
    series = daily_mme_series(records, start=date(2025, 1, 1), end=date(2026, 12, 31))
    elapsed = time.perf_counter() - started
    assert len(series) == 730
    # Measured about 10 ms on the development machine; generous bound for shared CI cores.
    assert elapsed < 0.5
