"""D1 addendum: a prescription or dispense is counted instead of a patient-reported statement of
the same drug that covers the same days; the statement counts when nothing prescribed does."""

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.clinical.mme import daily_mme_series, total_mme
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

OXYCODONE_5 = "1049621"
OPIOID = Classification(
    classes=frozenset({DrugClass.OPIOID_ANALGESIC}), source=ClassSource.CODE_LIST
)
START = date(2026, 10, 1)


def _dose(tablets: float) -> tuple[DoseInstruction, ...]:
    every_6_hours = {"frequency": 1, "period": 6, "period_unit": "h"}
    return (DoseInstruction(dose=Quantity(tablets, "tablet"), **every_6_hours),)


def request(rid: str, day: date, *, tablets: float = 1, days: int = 30) -> MedicationRecord:
    return MedicationRecord(
        ref=f"MedicationRequest/{rid}",
        kind=MedicationKind.REQUEST,
        codes=(Code(RXNORM, OXYCODONE_5),),
        classification=OPIOID,
        status="active",
        authored_on=day,
        expected_supply_days=days,
        dosages=_dose(tablets),
    )


def dispense(did: str, day: date, rid: str, *, days: int = 30) -> MedicationRecord:
    return MedicationRecord(
        ref=f"MedicationDispense/{did}",
        kind=MedicationKind.DISPENSE,
        codes=(Code(RXNORM, OXYCODONE_5),),
        classification=OPIOID,
        status="completed",
        handed_over=day,
        days_supply=days,
        authorizing_prescription=f"MedicationRequest/{rid}",
    )


def statement(sid: str, start: date, *, tablets: float = 2, end: date | None = None):
    return MedicationRecord(
        ref=f"MedicationStatement/{sid}",
        kind=MedicationKind.STATEMENT,
        codes=(Code(RXNORM, OXYCODONE_5),),
        classification=OPIOID,
        status="active",
        effective_start=start,
        effective_end=end,
        dosages=_dose(tablets),
        reported=True,
    )


def test_a_later_statement_does_not_replace_the_dispensed_prescription():
    records = [
        request("r1", START, tablets=1),
        dispense("d1", START, "r1"),
        statement("s1", START + timedelta(days=14), tablets=2),  # recorded at a later visit
    ]
    total = total_mme(records, as_of=START + timedelta(days=20))
    (line,) = total.lines
    assert line.ref == "MedicationDispense/d1"
    assert total.total_mme == 30.0  # 4 x 5 mg x 1.5 (the prescription), not the reported 60
    assert any("also reported in MedicationStatement/s1" in note for note in line.notes)


def test_a_later_prescription_still_replaces_a_statement():
    records = [statement("s1", START - timedelta(days=90)), request("r1", START)]
    (line,) = total_mme(records, as_of=START + timedelta(days=5)).lines
    assert line.ref == "MedicationRequest/r1"


def test_the_statement_counts_once_the_supply_has_run_out():
    records = [
        request("r1", START),
        dispense("d1", START, "r1"),
        statement("s1", START + timedelta(days=14)),
    ]
    (line,) = total_mme(records, as_of=START + timedelta(days=40)).lines
    assert line.ref == "MedicationStatement/s1"
    assert line.mme_per_day == 60.0


kinds = st.sampled_from(["request", "dispensed", "statement"])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            kinds,
            st.integers(min_value=0, max_value=60),
            st.integers(min_value=1, max_value=40),
            st.integers(min_value=1, max_value=3),
        ),
        min_size=1,
        max_size=7,
    ),
    st.integers(min_value=0, max_value=90),
)
def test_daily_series_agrees_with_the_total_for_mixed_sources(items, offset):
    records: list[MedicationRecord] = []
    for n, (kind, begin, length, tablets) in enumerate(items):
        day = START + timedelta(days=begin)
        if kind == "statement":
            records.append(
                statement(f"s{n}", day, tablets=tablets, end=day + timedelta(days=length))
            )
            continue
        records.append(request(f"r{n}", day, tablets=tablets, days=length))
        if kind == "dispensed":
            records.append(dispense(f"d{n}", day, f"r{n}", days=length))
    day = START + timedelta(days=offset)
    series = daily_mme_series(records, start=day, end=day)
    total = total_mme(records, as_of=day)
    assert abs(series[0][1] - total.total_mme) < 1e-6
    assert series[0][2] == total.complete
