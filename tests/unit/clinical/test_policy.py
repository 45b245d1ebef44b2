"""Clinic policy: defaults, the shipped default file, and one-line errors for bad files."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.clinical.model import DrugClass
from app.clinical.policy import (
    ClinicPolicy,
    PolicyError,
    default_policy,
    default_policy_text,
    parse_policy,
)


def test_default_policy_equals_the_shipped_default_file():
    assert parse_policy(default_policy_text()) == default_policy()


def test_default_file_is_package_data_next_to_the_module():
    import app.clinical.policy as module

    path = Path(module.__file__).parent / "data" / "default_policy.yaml"
    assert path.read_text(encoding="utf-8") == default_policy_text()


def test_every_key_of_the_default_file_has_a_comment():
    lines = default_policy_text().splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.endswith(":"):
            continue
        # A key line is commented on the same line or on a comment line directly above.
        above = lines[index - 1].strip()
        assert "#" in line or above.startswith("#"), f"key without comment: {line!r}"


def test_default_values_match_the_contract():
    policy = default_policy()
    assert policy.cot.definition == "days-supplied"
    assert (policy.cot.lookback_days, policy.cot.min_days_supplied) == (90, 60)
    assert policy.mme.edition == "2022"
    assert policy.mme.thresholds == [50.0, 90.0]
    assert policy.mme.outside_2022_table == "compilation"
    monitoring = policy.monitoring
    assert (monitoring.uds_days, monitoring.agreement_days, monitoring.pdmp_days) == (365, 365, 90)
    assert (monitoring.opioid_visit_days, monitoring.peg_days, monitoring.phq9_days) == (
        90,
        182,
        182,
    )
    assert monitoring.due_soon_days == 30
    assert (policy.early_refill.tolerance_days, policy.early_refill.tolerance_percent) == (3, None)
    assert policy.early_refill.lookback_days == 180
    assert policy.sedatives.alert_classes == [
        DrugClass.BENZODIAZEPINE,
        DrugClass.GABAPENTINOID,
        DrugClass.Z_DRUG,
        DrugClass.MUSCLE_RELAXANT,
        DrugClass.BARBITURATE,
    ]
    assert (policy.prescribers.max_prescribers, policy.prescribers.max_pharmacies) == (3, 3)
    assert policy.prescribers.lookback_days == 180
    assert policy.naloxone.at_risk_mme == 50
    assert policy.snooze.choices_days == [30, 90, 182, 365]
    assert policy.exclusions.age_under == 18
    assert policy.exclusions.cancer and policy.exclusions.hospice and policy.exclusions.sickle_cell


def test_empty_file_gives_the_defaults():
    assert parse_policy("") == default_policy()
    assert parse_policy("# nothing decided yet\n") == default_policy()


def test_partial_file_keeps_defaults_for_the_rest():
    policy = parse_policy(
        "cot:\n  definition: cdc-2022-most-days\nmonitoring:\n  uds_days: 180\n"
        "sedatives:\n  alert_classes: [benzodiazepine]\nmme:\n  edition: 2016\n"
    )
    assert policy.cot.definition == "cdc-2022-most-days"
    assert policy.cot.lookback_days == 90
    assert policy.monitoring.uds_days == 180
    assert policy.monitoring.pdmp_days == 90
    assert policy.sedatives.alert_classes == [DrugClass.BENZODIAZEPINE]
    assert policy.mme.edition == "2016"  # unquoted year is read as the edition name


def test_policy_is_frozen():
    policy = default_policy()
    with pytest.raises(ValidationError):
        policy.cot.lookback_days = 30  # type: ignore[misc]


def test_tolerance_percent_may_be_set():
    assert (
        parse_policy("early_refill:\n  tolerance_percent: 10\n").early_refill.tolerance_percent
        == 10
    )


ALLOWED_SEDATIVES = (
    "benzodiazepine, barbiturate, gabapentinoid, muscle-relaxant, other-cns-depressant, z-drug"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "mme:\n  thresholds: [50, ninety]\n",
            "policy: mme.thresholds[1]: must be a number > 0, got 'ninety'",
            id="threshold-not-a-number",
        ),
        pytest.param(
            "mme:\n  thresholds: [50, -90]\n",
            "policy: mme.thresholds[1]: must be a number > 0, got -90",
            id="threshold-negative",
        ),
        pytest.param(
            "mme:\n  thresholds: [90, 50]\n",
            "policy: mme.thresholds: must be in ascending order without repeats, got [90.0, 50.0]",
            id="thresholds-not-sorted",
        ),
        pytest.param(
            "mme:\n  thresholds: []\n",
            "policy: mme.thresholds: must list at least one value",
            id="thresholds-empty",
        ),
        pytest.param(
            "cot:\n  lookbak_days: 90\n",
            "policy: cot.lookbak_days: unknown key "
            "(allowed: definition, lookback_days, min_days_supplied)",
            id="unknown-key",
        ),
        pytest.param(
            "montoring:\n  uds_days: 90\n",
            "policy: montoring: unknown key (allowed: cot, mme, monitoring, early_refill, "
            "sedatives, prescribers, naloxone, snooze, exclusions)",
            id="unknown-section",
        ),
        pytest.param(
            "monitoring:\n  uds_days: -30\n",
            "policy: monitoring.uds_days: must be a whole number of days > 0, got -30",
            id="negative-interval",
        ),
        pytest.param(
            "monitoring:\n  pdmp_days: 0\n",
            "policy: monitoring.pdmp_days: must be a whole number of days > 0, got 0",
            id="zero-interval",
        ),
        pytest.param(
            "monitoring:\n  uds_days: '365'\n",
            "policy: monitoring.uds_days: must be a whole number of days > 0, got '365'",
            id="interval-as-text",
        ),
        pytest.param(
            "monitoring:\n  uds_days: 36.5\n",
            "policy: monitoring.uds_days: must be a whole number of days > 0, got 36.5",
            id="interval-fraction",
        ),
        pytest.param(
            "monitoring:\n  uds_days: true\n",
            "policy: monitoring.uds_days: must be a whole number of days > 0, got true",
            id="interval-boolean",
        ),
        pytest.param(
            "sedatives:\n  alert_classes: [benzodiazepine, opiates]\n",
            f"policy: sedatives.alert_classes[1]: must be one of {ALLOWED_SEDATIVES}, "
            "got 'opiates'",
            id="unknown-sedative-class",
        ),
        pytest.param(
            "sedatives:\n  alert_classes: [opioid-analgesic]\n",
            f"policy: sedatives.alert_classes[0]: must be one of {ALLOWED_SEDATIVES}, "
            "got 'opioid-analgesic'",
            id="non-sedative-drug-class",
        ),
        pytest.param(
            "sedatives:\n  alert_classes: [z-drug, z-drug]\n",
            "policy: sedatives.alert_classes: lists z-drug more than once",
            id="sedative-class-twice",
        ),
        pytest.param(
            "cot:\n  definition: cdc-2016\n",
            "policy: cot.definition: must be one of days-supplied, cdc-2022-most-days, "
            "got 'cdc-2016'",
            id="unknown-cot-definition",
        ),
        pytest.param(
            "cot:\n  min_days_supplied: 100\n",
            "policy: cot: min_days_supplied (100) must not exceed lookback_days (90)",
            id="min-days-over-lookback",
        ),
        pytest.param(
            "mme:\n  edition: '2019'\n",
            "policy: mme.edition: must be one of '2022', '2016', got '2019'",
            id="unknown-edition",
        ),
        pytest.param(
            "early_refill:\n  tolerance_percent: 150\n",
            "policy: early_refill.tolerance_percent: must be a number > 0 and <= 100, or null, "
            "got 150",
            id="percent-over-100",
        ),
        pytest.param(
            "early_refill:\n  tolerance_days: -1\n",
            "policy: early_refill.tolerance_days: must be a whole number of days >= 0, got -1",
            id="negative-tolerance",
        ),
        pytest.param(
            "exclusions:\n  cancer: sometimes\n",
            "policy: exclusions.cancer: must be true or false, got 'sometimes'",
            id="flag-not-boolean",
        ),
        pytest.param(
            "snooze:\n  choices_days: [90, 30]\n",
            "policy: snooze.choices_days: must be in ascending order without repeats, got [90, 30]",
            id="snooze-not-sorted",
        ),
        pytest.param(
            "cot: 90\n",
            "policy: cot: must be a mapping with keys definition, lookback_days, "
            "min_days_supplied, got 90",
            id="section-not-a-mapping",
        ),
        pytest.param(
            "- cot\n",
            "policy: must be a mapping of sections (cot, mme, monitoring, early_refill, "
            'sedatives, prescribers, naloxone, snooze, exclusions), got ["cot"]',
            id="file-not-a-mapping",
        ),
        pytest.param(
            "cot:\n  lookback_days: [90\n",
            "policy: not valid YAML at line 3, column 1: "
            "expected ',' or ']', but got '<stream end>'",
            id="not-yaml",
        ),
    ],
)
def test_bad_policy_gives_one_line_error_naming_key_and_value(text, message):
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_several_problems_report_the_first_and_count_the_rest():
    with pytest.raises(PolicyError) as caught:
        parse_policy("monitoring:\n  uds_days: -1\n  pdmp_days: -2\n")
    assert str(caught.value) == (
        "policy: monitoring.uds_days: must be a whole number of days > 0, got -1 (and 1 more)"
    )


def test_policy_error_is_a_value_error():
    assert issubclass(PolicyError, ValueError)


def test_model_can_be_built_in_code_for_tests_and_other_modules():
    policy = ClinicPolicy.model_validate({"monitoring": {"due_soon_days": 0}})
    assert policy.monitoring.due_soon_days == 0


def test_a_key_given_twice_is_an_error_not_a_silent_override():
    with pytest.raises(PolicyError) as caught:
        parse_policy("cot:\n  lookback_days: 90\n  lookback_days: 30\n")
    assert str(caught.value) == "policy: lookback_days: key given twice (second time at line 3)"
