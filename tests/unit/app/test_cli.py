"""The `ppact` command: stable JSON contracts and one-line errors with a non-zero exit."""

import json
from pathlib import Path

import pytest

from app.cli import main
from app.synth import generate_cohort, most_complex_patient_id


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture(scope="module")
def complex_bundle_file(tmp_path_factory) -> Path:
    target = most_complex_patient_id()
    bundle = next(
        b
        for b in generate_cohort(patients=2, seed=7)
        if any(e["resource"].get("id") == target for e in b["entry"])
    )
    path = tmp_path_factory.mktemp("bundles") / "complex.json"
    path.write_text(json.dumps(bundle))
    return path


def _bundle(*resources: dict) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


OXY_ORDER = {
    "resourceType": "MedicationRequest",
    "id": "oxy",
    "status": "active",
    "intent": "order",
    "subject": {"reference": "Patient/p1"},
    "authoredOn": "2026-10-20",
    "medicationCodeableConcept": {
        "coding": [
            {
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "1049621",
                "display": "oxycodone hydrochloride 5 MG Oral Tablet",
            }
        ]
    },
    "dosageInstruction": [
        {
            "timing": {"repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}},
            "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "tablet"}}],
        }
    ],
    "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "unit": "days"}},
}


def test_mme_json_is_the_stable_contract(tmp_path: Path, capsys):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(_bundle({"resourceType": "Patient", "id": "p1"}, OXY_ORDER)))
    code, out, _ = run(capsys, "mme", "--bundle", str(path), "--as-of", "2026-11-01", "--json")
    assert code == 0
    payload = json.loads(out)
    assert {"as_of", "edition", "total_mme", "complete", "medications"} <= payload.keys()
    assert payload["as_of"] == "2026-11-01"
    assert payload["edition"] == "2022"
    # 5 mg x 2 tablets x 4 a day = 40 mg oxycodone x 1.5 = 60 MME/day.
    assert payload["total_mme"] == pytest.approx(60.0)
    assert payload["complete"] is True
    (med,) = payload["medications"]
    keys = {"code", "display", "mme_per_day", "daily_dose", "unit", "complete", "notes"}
    assert keys <= med.keys()
    assert med["code"] == "1049621"
    assert med["daily_dose"] == pytest.approx(40.0)


def test_mme_with_the_2016_edition_uses_its_factors(tmp_path: Path, capsys):
    methadone = dict(
        OXY_ORDER,
        id="mtd",
        medicationCodeableConcept={
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "864706",
                    "display": "methadone hydrochloride 10 MG Oral Tablet",
                }
            ]
        },
        dosageInstruction=[
            {
                "timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
            }
        ],
    )
    path = tmp_path / "mtd.json"
    path.write_text(json.dumps(_bundle({"resourceType": "Patient", "id": "p1"}, methadone)))
    args = ("mme", "--bundle", str(path), "--as-of", "2026-11-01", "--json")
    # 30 mg/day methadone: 2016 tier 21-40 mg -> x8 = 240; 2022 flat 4.7 -> 141.
    assert json.loads(run(capsys, *args, "--edition", "2016")[1])["total_mme"] == pytest.approx(240)
    assert json.loads(run(capsys, *args)[1])["total_mme"] == pytest.approx(141)


def test_unknown_opioid_code_makes_the_total_incomplete_not_zero(tmp_path: Path, capsys):
    unknown = dict(
        OXY_ORDER,
        id="mystery",
        medicationCodeableConcept={
            "coding": [
                {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "99999999"}
            ],
            "text": "oxycodone 7.5 mg tablet (compounded)",
        },
    )
    path = tmp_path / "unknown.json"
    path.write_text(json.dumps(_bundle({"resourceType": "Patient", "id": "p1"}, unknown)))
    payload = json.loads(
        run(capsys, "mme", "--bundle", str(path), "--as-of", "2026-11-01", "--json")[1]
    )
    assert payload["complete"] is False
    (med,) = payload["medications"]
    assert med["mme_per_day"] is None
    assert med["complete"] is False
    assert payload["incomplete_reasons"]


def test_mme_text_output_for_the_most_complex_patient(complex_bundle_file: Path, capsys):
    code, out, _ = run(capsys, "mme", "--bundle", str(complex_bundle_file), "--as-of", "2026-11-01")
    assert code == 0
    assert "Total:" in out
    assert "fentanyl" in out


def test_findings_json_lists_codes_citations_and_evidence(complex_bundle_file: Path, capsys):
    code, out, _ = run(
        capsys, "findings", "--bundle", str(complex_bundle_file), "--as-of", "2026-11-01", "--json"
    )
    assert code == 0
    payload = json.loads(out)
    codes = {f["code"] for f in payload["findings"]}
    assert {"triple-threat", "mme-at-or-above-threshold", "early-refill"} <= codes
    for finding in payload["findings"]:
        assert finding["citation"]["url"].startswith("https://")
        assert finding["evidence"]


def test_findings_with_a_bad_policy_file_names_the_key(complex_bundle_file: Path, tmp_path, capsys):
    policy = tmp_path / "policy.yaml"
    policy.write_text("monitoring:\n  uds_days: -5\n")
    code, _, err = run(
        capsys, "findings", "--bundle", str(complex_bundle_file), "--policy", str(policy)
    )
    assert code == 2
    assert err.count("\n") == 1
    assert "monitoring.uds_days" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("not json", "not JSON", id="not-json"),
        pytest.param(
            '{"resourceType": "Patient", "id": "p1"}', "not a FHIR Bundle", id="not-bundle"
        ),
        pytest.param("[1, 2]", "not a FHIR Bundle", id="json-array"),
        pytest.param(
            json.dumps(
                _bundle(
                    {"resourceType": "Patient", "id": "a"}, {"resourceType": "Patient", "id": "b"}
                )
            ),
            "more than one Patient",
            id="two-patients",
        ),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(tmp_path: Path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    for command in ("mme", "findings"):
        code, out, err = run(capsys, command, "--bundle", str(path))
        assert code == 2
        assert out == ""
        assert err.count("\n") == 1
        assert message in err


def test_missing_file_is_a_one_line_error(tmp_path: Path, capsys):
    code, _, err = run(capsys, "mme", "--bundle", str(tmp_path / "nope.json"))
    assert code == 2
    assert "cannot be read" in err


def test_synth_writes_deterministic_bundles(tmp_path: Path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    assert run(capsys, "synth", "--patients", "3", "--seed", "11", "--out", str(first))[0] == 0
    assert run(capsys, "synth", "--patients", "3", "--seed", "11", "--out", str(second))[0] == 0
    names = sorted(p.name for p in first.iterdir())
    assert len(names) == 3
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_serve_with_a_bad_setting_exits_with_one_line(monkeypatch, capsys):
    monkeypatch.setenv("PPACT_LOG_LEVEL", "chatty")
    code, _, err = run(capsys, "serve", "--port", "0")
    assert code == 2
    assert err.count("\n") == 1
    assert "log_level" in err or "port" in err


def test_medication_with_neither_known_code_nor_name_makes_the_total_incomplete(
    tmp_path: Path, capsys
):
    unresolved = dict(OXY_ORDER, id="unresolved")
    del unresolved["medicationCodeableConcept"]
    unresolved["medicationReference"] = {"reference": "Medication/not-in-bundle"}
    path = tmp_path / "unresolved.json"
    path.write_text(json.dumps(_bundle({"resourceType": "Patient", "id": "p1"}, unresolved)))
    payload = json.loads(
        run(capsys, "mme", "--bundle", str(path), "--as-of", "2026-11-01", "--json")[1]
    )
    assert payload["complete"] is False
    (med,) = payload["medications"]
    assert med["mme_per_day"] is None
    assert any("could not be identified" in note for note in med["notes"])


def test_named_drug_without_an_opioid_ingredient_is_not_an_opioid(tmp_path: Path, capsys):
    lisinopril = dict(
        OXY_ORDER,
        id="acei",
        medicationCodeableConcept={
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "314076"}],
            "text": "lisinopril 10 MG Oral Tablet",
        },
    )
    path = tmp_path / "acei.json"
    path.write_text(json.dumps(_bundle({"resourceType": "Patient", "id": "p1"}, lisinopril)))
    payload = json.loads(
        run(capsys, "mme", "--bundle", str(path), "--as-of", "2026-11-01", "--json")[1]
    )
    assert payload["complete"] is True
    assert payload["medications"] == []


@pytest.mark.parametrize(
    ("bundle", "message"),
    [
        pytest.param({"resourceType": "Bundle", "type": "collection"}, "no entries", id="empty"),
        pytest.param(
            {"resourceType": "Bundle", "type": "collection", "entry": "x"}, "no entries", id="bad"
        ),
        pytest.param(
            {"resourceType": "Bundle", "type": "history", "entry": [{"resource": {}}]},
            "Bundle type 'history'",
            id="history",
        ),
    ],
)
def test_empty_or_unsupported_bundles_are_refused(tmp_path: Path, capsys, bundle, message):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    code, out, err = run(capsys, "mme", "--bundle", str(path))
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["mme", "--bundle", "x.json", "--as-of", "2026-13-01"], id="bad-date"),
        pytest.param(["mme", "--bundle", "x.json", "--as-of", "9999-12-31"], id="far-date"),
        pytest.param(["mme", "--bundle", "x.json", "--edition", "2019"], id="bad-edition"),
        pytest.param(["serve", "--port", "0"], id="bad-port"),
    ],
)
def test_usage_errors_are_one_line(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("ppact ")
