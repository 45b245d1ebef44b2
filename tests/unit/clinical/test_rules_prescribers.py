"""multiple-opioid-prescribers and multiple-pharmacies."""

import pytest

from app.clinical.model import Chart, MedicationKind, Severity
from app.clinical.rules.prescribers import MultipleSourcesRule
from tests.unit.clinical._rules_factory import AS_OF, PATIENT, codes, context, days_before, opioid


def _ctx(*records, drafts=()):
    return context(Chart(patient=PATIENT, medications=records), drafts=drafts)


def _rx(n, prescriber, day_ago=30):
    return opioid(f"MedicationRequest/rx{n}", days_before(day_ago), 30, prescriber=prescriber)


@pytest.mark.parametrize(
    ("prescribers", "alerts"),
    [pytest.param(2, False, id="2-prescribers"), pytest.param(3, True, id="3-prescribers")],
)
def test_distinct_prescribers_at_or_above_policy_maximum_alert(prescribers, alerts):
    records = [_rx(n, f"Practitioner/dr{n}") for n in range(prescribers)]
    records.append(_rx(9, "Practitioner/dr0"))  # a repeat prescriber is not a new one
    findings = MultipleSourcesRule().evaluate(_ctx(*records))
    assert bool(findings) is alerts
    if alerts:
        (finding,) = findings
        assert finding.code == "multiple-opioid-prescribers"
        assert finding.severity is Severity.MODERATE
        assert finding.data["count"] == 3
        assert len(finding.evidence) == 4


@pytest.mark.parametrize(
    ("day_ago", "alerts"),
    [pytest.param(180, True, id="day-180-in"), pytest.param(181, False, id="day-181-out")],
)
def test_prescribers_counted_within_lookback(day_ago, alerts):
    records = [
        _rx(1, "Practitioner/a"),
        _rx(2, "Practitioner/b"),
        _rx(3, "Practitioner/c", day_ago),
    ]
    assert bool(MultipleSourcesRule().evaluate(_ctx(*records))) is alerts


def test_draft_prescriber_counts():
    records = [_rx(1, "Practitioner/a"), _rx(2, "Practitioner/b")]
    draft = opioid("MedicationRequest/new", AS_OF, 30, status="draft", prescriber="Practitioner/c")
    assert codes(MultipleSourcesRule().evaluate(_ctx(*records, drafts=(draft,)))) == [
        "multiple-opioid-prescribers"
    ]


def test_records_without_prescriber_are_listed_not_counted():
    records = [_rx(1, "Practitioner/a"), _rx(2, "Practitioner/b"), _rx(3, None)]
    assert MultipleSourcesRule().evaluate(_ctx(*records)) == ()
    records.append(_rx(4, "Practitioner/c"))
    (finding,) = MultipleSourcesRule().evaluate(_ctx(*records))
    assert finding.data["unknown_prescriber_refs"] == ["MedicationRequest/rx3"]


def _dispense(n, pharmacy, authorizing=None):
    return opioid(
        f"MedicationDispense/d{n}",
        days_before(20 + n),
        30,
        kind=MedicationKind.DISPENSE,
        pharmacy=pharmacy,
        prescriber=None,
        authorizing_prescription=authorizing,
    )


@pytest.mark.parametrize(
    ("pharmacies", "alerts"),
    [pytest.param(2, False, id="2-pharmacies"), pytest.param(3, True, id="3-pharmacies")],
)
def test_distinct_pharmacies_at_or_above_policy_maximum_alert(pharmacies, alerts):
    rx = _rx(1, "Practitioner/a")
    records = [rx] + [_dispense(n, f"Organization/ph{n}", rx.ref) for n in range(pharmacies)]
    found = codes(MultipleSourcesRule().evaluate(_ctx(*records)))
    assert found == (["multiple-pharmacies"] if alerts else [])


def test_prescriptions_alone_never_give_multiple_pharmacies():
    records = [_rx(n, "Practitioner/a") for n in range(5)]
    assert MultipleSourcesRule().evaluate(_ctx(*records)) == ()


def test_dispense_of_a_prescription_is_not_a_second_prescriber():
    rx = _rx(1, "Practitioner/a")
    fills = [_dispense(n, "Organization/ph", rx.ref) for n in range(3)]
    assert MultipleSourcesRule().evaluate(_ctx(rx, *fills)) == ()
