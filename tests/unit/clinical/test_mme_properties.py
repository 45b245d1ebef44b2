"""Properties of the MME engine: never negative, additive across medications, monotone in dose,
and the daily series agrees with the as-of total."""

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.clinical.mme import daily_mme_series, medication_mme, total_mme
from app.clinical.model import (
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
OPIOID = Classification(
    classes=frozenset({DrugClass.OPIOID_ANALGESIC}), source=ClassSource.CODE_LIST
)

#: (RxCUI, dose unit): tablets, a liquid, a patch, transmucosal fentanyl, methadone, a combination.
DRUGS = [
    ("1049621", "tablet"),  # oxycodone 5 mg tablet
    ("856999", "tablet"),  # hydrocodone 10 mg / APAP 325 mg
    ("892589", "mL"),  # morphine 2 mg/mL solution
    ("245134", "patch"),  # fentanyl 25 mcg/hr patch
    ("668364", "tablet"),  # fentanyl 0.2 mg buccal tablet
    ("864706", "tablet"),  # methadone 10 mg
    ("835603", "tablet"),  # tramadol 50 mg
    ("197873", "tablet"),  # levorphanol 2 mg
    ("637540", "tablet"),  # aspirin / two oxycodone salts
]

doses = st.floats(min_value=0.01, max_value=20, allow_nan=False, allow_infinity=False)
timings = st.one_of(
    st.builds(
        lambda f, p, unit: {"frequency": f, "period": p, "period_unit": unit},
        st.integers(min_value=1, max_value=6),
        st.floats(min_value=0.5, max_value=72, allow_nan=False),
        st.sampled_from(["h", "d", "wk"]),
    ),
    st.sampled_from([{"timing_code": c} for c in ["BID", "TID", "QID", "QD", "Q4H", "QOD"]]),
    st.builds(lambda n: {"when_count": n}, st.integers(min_value=1, max_value=4)),
)


def record(drug_index: int, dose: float, timing: dict, *, ref: str | None = None, **extra):
    rxcui, unit = DRUGS[drug_index]
    return MedicationRecord(
        ref=ref or f"MedicationRequest/{drug_index}",
        kind=MedicationKind.REQUEST,
        codes=(Code(RXNORM, rxcui),),
        classification=OPIOID,
        status="active",
        authored_on=date(2026, 10, 20),
        expected_supply_days=30,
        dosages=(DoseInstruction(dose=Quantity(dose, unit), **timing, **extra),),
    )


drug_indexes = st.integers(min_value=0, max_value=len(DRUGS) - 1)
editions = st.sampled_from(["2022", "2016"])


@settings(max_examples=80, deadline=None)
@given(drug_indexes, doses, timings, editions, st.booleans())
def test_mme_is_never_negative(drug_index, dose, timing, edition, as_needed):
    line = medication_mme(
        record(drug_index, dose, timing, as_needed=as_needed), as_of=AS_OF, edition=edition
    )
    assert line.mme_per_day is None or line.mme_per_day >= 0
    assert line.mme_per_day is not None  # every drug in DRUGS has a factor and a readable sig


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(drug_indexes, doses, timings), min_size=1, max_size=5, unique_by=lambda t: t[0]
    ),
    editions,
)
def test_total_is_the_sum_of_the_medications(items, edition):
    records = [record(i, dose, timing) for i, dose, timing in items]
    total = total_mme(records, as_of=AS_OF, edition=edition)
    separately = [medication_mme(r, as_of=AS_OF, edition=edition).mme_per_day for r in records]
    assert total.total_mme >= 0
    assert abs(total.total_mme - sum(v for v in separately if v is not None)) < 1e-9
    assert len(total.lines) == len(records)


@settings(max_examples=80, deadline=None)
@given(drug_indexes, doses, doses, timings, editions)
def test_mme_is_monotone_in_dose(drug_index, dose_a, dose_b, timing, edition):
    low, high = sorted((dose_a, dose_b))
    mme_low = medication_mme(record(drug_index, low, timing), as_of=AS_OF, edition=edition)
    mme_high = medication_mme(record(drug_index, high, timing), as_of=AS_OF, edition=edition)
    assert mme_low.mme_per_day <= mme_high.mme_per_day + 1e-9


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            drug_indexes,
            doses,
            timings,
            st.integers(min_value=0, max_value=60),
            st.integers(min_value=1, max_value=40),
        ),
        min_size=1,
        max_size=8,
    ),
    st.integers(min_value=0, max_value=90),
)
def test_daily_series_agrees_with_the_total(items, offset):
    start = date(2026, 9, 1)
    records = [
        MedicationRecord(
            ref=f"MedicationRequest/{n}",
            kind=MedicationKind.REQUEST,
            codes=(Code(RXNORM, DRUGS[i][0]),),
            classification=OPIOID,
            status="active",
            authored_on=start + timedelta(days=begin),
            expected_supply_days=length,
            dosages=(DoseInstruction(dose=Quantity(dose, DRUGS[i][1]), **timing),),
        )
        for n, (i, dose, timing, begin, length) in enumerate(items)
    ]
    day = start + timedelta(days=offset)
    series = daily_mme_series(records, start=day, end=day)
    total = total_mme(records, as_of=day)
    assert series[0][0] == day
    assert abs(series[0][1] - total.total_mme) < 1e-6
    assert series[0][2] == total.complete
