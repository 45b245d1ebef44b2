"""Opioid + benzodiazepine / other CNS depressant co-prescribing and the triple threat."""

from datetime import timedelta

import pytest

from app.clinical.model import Chart, DrugClass, Severity
from app.clinical.policy import parse_policy
from app.clinical.rules.coprescribing import COPRESCRIBING_LOOKBACK_DAYS, CoprescribingRule
from tests.unit.clinical._rules_factory import (
    AS_OF,
    PATIENT,
    codes,
    context,
    days_before,
    med,
    opioid,
)


def _ctx(*records, drafts=(), policy=None):
    return context(Chart(patient=PATIENT, medications=records), drafts=drafts, policy=policy)


def test_current_opioid_and_benzodiazepine_give_overlap_dates():
    oxy = opioid("MedicationRequest/oxy", days_before(20), 30)  # days -20 .. +9
    benzo = med(
        "MedicationRequest/alp", DrugClass.BENZODIAZEPINE, days_before(10), 30
    )  # -10 .. +19
    (finding,) = CoprescribingRule().evaluate(_ctx(oxy, benzo))
    assert finding.code == "opioid-benzo-coprescribing"
    assert finding.severity is Severity.MODERATE
    assert finding.data["overlap_start"] == days_before(10).isoformat()
    assert finding.data["overlap_end"] == (AS_OF + timedelta(days=9)).isoformat()
    assert finding.data["overlap_days"] == 20
    assert set(finding.evidence) == {"MedicationRequest/oxy", "MedicationRequest/alp"}
    assert "Recommendation 11" in finding.citation.label


@pytest.mark.parametrize(
    ("benzo_start_days_ago", "expected_days"),
    [
        pytest.param(30, 0, id="touching-no-overlap"),
        pytest.param(31, 1, id="one-day-overlap"),
    ],
)
def test_windows_that_only_touch_do_not_overlap(benzo_start_days_ago, expected_days):
    # Opioid covers days -60 .. -31; a benzodiazepine from day -30 only touches it.
    oxy = opioid("MedicationRequest/oxy", days_before(60), 30)  # -60 .. -31
    benzo = med(
        "MedicationRequest/alp", DrugClass.BENZODIAZEPINE, days_before(benzo_start_days_ago), 30
    )
    findings = CoprescribingRule().evaluate(_ctx(oxy, benzo))
    if expected_days == 0:
        assert findings == ()
    else:
        assert findings[0].data["overlap_days"] == expected_days


@pytest.mark.parametrize(
    ("overlap_last_day_ago", "alerts"),
    [
        pytest.param(COPRESCRIBING_LOOKBACK_DAYS, True, id="ended-day-90-alerts"),
        pytest.param(COPRESCRIBING_LOOKBACK_DAYS + 1, False, id="ended-day-91-history"),
    ],
)
def test_past_overlap_alerts_only_within_the_lookback(overlap_last_day_ago, alerts):
    start = days_before(overlap_last_day_ago + 29)
    oxy = opioid("MedicationRequest/oxy", start, 30)
    benzo = med("MedicationRequest/alp", DrugClass.BENZODIAZEPINE, start, 30)
    findings = CoprescribingRule().evaluate(_ctx(oxy, benzo))
    assert bool(findings) is alerts
    if alerts:
        assert findings[0].data["overlap_days"] == 1
        assert findings[0].data["overlap_end"] == days_before(overlap_last_day_ago).isoformat()


def test_draft_opioid_counts_as_active_from_as_of():
    benzo = med("MedicationRequest/alp", DrugClass.BENZODIAZEPINE, days_before(5), 30)  # -5 .. +24
    draft = opioid("MedicationRequest/new", AS_OF, 7, status="draft")  # 0 .. +6
    (finding,) = CoprescribingRule().evaluate(_ctx(benzo, drafts=(draft,)))
    assert finding.data["overlap_start"] == AS_OF.isoformat()
    assert finding.data["overlap_days"] == 7
    assert "MedicationRequest/new" in finding.evidence


def test_draft_benzodiazepine_after_opioid_ran_out_does_not_alert():
    oxy = opioid("MedicationRequest/oxy", days_before(30), 30)  # -30 .. -1
    draft = med("MedicationRequest/new", DrugClass.BENZODIAZEPINE, AS_OF, 30, status="draft")
    assert CoprescribingRule().evaluate(_ctx(oxy, drafts=(draft,))) == ()


@pytest.mark.parametrize(
    "drug_class",
    [
        DrugClass.GABAPENTINOID,
        DrugClass.Z_DRUG,
        DrugClass.MUSCLE_RELAXANT,
        DrugClass.BARBITURATE,
    ],
    ids=str,
)
def test_other_cns_depressant_gives_one_finding_per_subclass(drug_class):
    oxy = opioid("MedicationRequest/oxy", days_before(5), 30)
    other = med("MedicationRequest/s", drug_class, days_before(5), 30)
    (finding,) = CoprescribingRule().evaluate(_ctx(oxy, other))
    assert finding.code == "opioid-cns-depressant-coprescribing"
    assert finding.data["subclass"] == str(drug_class)


def test_two_subclasses_give_two_findings():
    oxy = opioid("MedicationRequest/oxy", days_before(5), 30)
    gaba = med("MedicationRequest/g", DrugClass.GABAPENTINOID, days_before(5), 30)
    zolp = med("MedicationRequest/z", DrugClass.Z_DRUG, days_before(5), 30)
    findings = CoprescribingRule().evaluate(_ctx(oxy, gaba, zolp))
    assert sorted(f.data["subclass"] for f in findings) == ["gabapentinoid", "z-drug"]


def test_class_not_in_policy_alert_classes_does_not_alert():
    policy = parse_policy("sedatives:\n  alert_classes: [benzodiazepine]\n")
    oxy = opioid("MedicationRequest/oxy", days_before(5), 30)
    gaba = med("MedicationRequest/g", DrugClass.GABAPENTINOID, days_before(5), 30)
    assert CoprescribingRule().evaluate(_ctx(oxy, gaba, policy=policy)) == ()


def test_other_cns_depressant_alerts_when_the_policy_lists_it():
    policy = parse_policy("sedatives:\n  alert_classes: [other-cns-depressant]\n")
    oxy = opioid("MedicationRequest/oxy", days_before(5), 30)
    other = med("MedicationRequest/h", DrugClass.OTHER_CNS_DEPRESSANT, days_before(5), 30)
    (finding,) = CoprescribingRule().evaluate(_ctx(oxy, other, policy=policy))
    assert finding.data["subclass"] == "other-cns-depressant"


def test_opioid_benzodiazepine_and_muscle_relaxant_overlap_is_a_triple_threat():
    oxy = opioid("MedicationRequest/oxy", days_before(20), 30)  # -20 .. +9
    benzo = med("MedicationRequest/alp", DrugClass.BENZODIAZEPINE, days_before(10), 30)  # -10 ..
    soma = med("MedicationRequest/soma", DrugClass.MUSCLE_RELAXANT, days_before(2), 5)  # -2 .. +2
    findings = CoprescribingRule().evaluate(_ctx(oxy, benzo, soma))
    assert sorted(codes(findings)) == [
        "opioid-benzo-coprescribing",
        "opioid-cns-depressant-coprescribing",
        "triple-threat",
    ]
    triple = next(f for f in findings if f.code == "triple-threat")
    assert triple.severity is Severity.HIGH
    assert triple.data["overlap_days"] == 5
    assert set(triple.evidence) == {
        "MedicationRequest/oxy",
        "MedicationRequest/alp",
        "MedicationRequest/soma",
    }


def test_three_drugs_without_a_common_day_are_not_a_triple_threat():
    oxy = opioid("MedicationRequest/oxy", days_before(20), 30)
    benzo = med("MedicationRequest/alp", DrugClass.BENZODIAZEPINE, days_before(20), 5)  # -20 .. -16
    soma = med("MedicationRequest/soma", DrugClass.MUSCLE_RELAXANT, days_before(10), 5)  # -10 .. -6
    assert "triple-threat" not in codes(CoprescribingRule().evaluate(_ctx(oxy, benzo, soma)))


def test_moud_with_benzodiazepine_is_not_an_opioid_coprescribing_alert():
    bup = med("MedicationRequest/bup", DrugClass.BUPRENORPHINE_MOUD, days_before(5), 30)
    benzo = med("MedicationRequest/alp", DrugClass.BENZODIAZEPINE, days_before(5), 30)
    assert CoprescribingRule().evaluate(_ctx(bup, benzo)) == ()


def test_cancelled_benzodiazepine_does_not_alert():
    oxy = opioid("MedicationRequest/oxy", days_before(5), 30)
    benzo = med(
        "MedicationRequest/alp", DrugClass.BENZODIAZEPINE, days_before(5), 30, status="cancelled"
    )
    assert CoprescribingRule().evaluate(_ctx(oxy, benzo)) == ()


def test_current_overlap_reads_as_current_and_names_each_drug_once():
    fills = [opioid(f"MedicationRequest/oxy-{n}", days_before(20 + 30 * n), 30) for n in range(3)]
    benzo = med("MedicationRequest/alp", DrugClass.BENZODIAZEPINE, days_before(70), 90)
    (finding,) = CoprescribingRule().evaluate(_ctx(*fills, benzo))
    assert f"since {days_before(70).isoformat()} (current)" in finding.text
    assert finding.text.count("oxycodone") == 1


def test_past_overlap_reads_as_a_date_range():
    oxy = opioid("MedicationRequest/oxy", days_before(60), 30)  # -60 .. -31
    benzo = med("MedicationRequest/alp", DrugClass.BENZODIAZEPINE, days_before(40), 30)
    (finding,) = CoprescribingRule().evaluate(_ctx(oxy, benzo))
    assert f"{days_before(40).isoformat()} to {days_before(31).isoformat()}" in finding.text
