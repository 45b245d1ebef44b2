"""Regenerate the vendored terminology files in app/clinical/data/ from the shared reference.

A development tool: the product never runs it and never reads the shared reference at run
time. It reads the CDC opioid CDS value sets (cqframework/opioid-cds-r4), the VSAC expansions
used by the AHRQ and COSRI pain-summary apps, the CDC override-reason CodeSystem and the merged
OMTK drug table, keeps only what `app/clinical/terminology.py` needs, and writes compact JSON.
What is kept, merged or dropped is described in app/clinical/data/PROVENANCE.md.

Usage::

    python scripts/vendor_terminology.py [--reference /work/shared/reference]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "app" / "clinical" / "data"
CDC_SOURCE = "cqframework/opioid-cds-r4@b29bdcbf6db6f3de26486dbc3820572ee9a78b89"
AHRQ_SOURCE = "AHRQ-CDS/AHRQ-CDS-Connect-PAIN-MANAGEMENT-SUMMARY src/cql/valueset-db.json"
COSRI_SOURCE = "uwcirg/cosri-pain-management-summary src/cql/valueset-db.json"

#: CDC value set files per vendored group (file stem in valuesets/).
CDC_GROUPS: dict[str, tuple[str, ...]] = {
    "medications": (
        "opioid-analgesics-with-ambulatory-misuse-potential",
        "extended-release-opioid-with-ambulatory-misuse-potential",
        "non-synthetic-opioid-medications",
        "synthetic-opioid-medications",
        "oxycodone-medications",
        "fentanyl-type-medications",
        "buprenorphine-medications",
        "buprenorphine-and-methadone-medications",
        "methadone-medications",
        "benzodiazepine-medications",
        "barbiturate-medications",
        "cns-depressant-medications",
        "naloxone-medications",
        "amphetamines-class-medications",
    ),
    "conditions": (
        "opioid-misuse-disorders",
        "conditions-documenting-substance-misuse",
        "conditions-documenting-sleep-disordered-breathing",
        "cdc-malignant-cancer-conditions",
        "conditions-likely-terminal-for-opioid-prescribing",
        "limited-life-expectancy-conditions",
        "hospice-finding",
        "sickle-cell-diseases",
    ),
    "uds": (
        "all-urine-drug-screening-tests",
        "opioid-urine-drug-screening",
        "general-opiate-urine-drug-screening-tests",
        "opiate-specific-urine-drug-screening-tests",
        "oxycodone-urine-drug-screening-tests",
        "fentanyl-type-urine-drug-screening-tests",
        "methadone-urine-drug-screening-tests",
        "buprenorphine-urine-drug-screening-tests",
        "heroin-urine-drug-screening-tests",
        "synthetic-opioid-urine-drug-screening-tests",
        "benzodiazepine-urine-drug-screening-tests",
        "barbiturate-urine-drug-screening-tests",
        "amphetamine-urine-drug-screening-tests",
        "cocaine-urine-drug-screening-tests",
        "cannabinoid-urine-drug-screening-tests",
        "phencyclidine-urine-drug-screening-tests",
        "xylazine-urine-drug-screening-tests",
        "non-opioid-urine-drug-screening",
    ),
    "procedures": (
        "pdmp-review-procedure",
        "pdmp-data-reviewed-finding",
        "hospice-procedure",
        "therapies-indicating-end-of-life-care",
        "opioid-counseling-procedure",
        "substance-misuse-behavioral-counseling",
        "opioid-misuse-assessment-procedure",
        "opioid-treatment-assessment-procedure",
        "pain-management-procedure",
        "pain-treatment-plan",
    ),
    "encounters": (
        "valueset-office-visit",
        "valueset-hospice-disposition",
        "oncology-specialty-designations",
    ),
}

#: VSAC value sets per vendored group: (our name, title, OIDs merged into it).
VSAC_GROUPS: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "medications": (
        (
            "vsac-opioid-pain-medications",
            "Opioid pain medications",
            ("2.16.840.1.113762.1.4.1032.34",),
        ),
        (
            "vsac-benzodiazepine-medications",
            "Benzodiazepine medications",
            ("2.16.840.1.113762.1.4.1032.43",),
        ),
        (
            "vsac-carisoprodol",
            "Carisoprodol; aspirin/carisoprodol",
            (
                "2.16.840.1.113883.3.464.1003.196.11.1152",
                "2.16.840.1.113883.3.464.1003.196.11.1314",
            ),
        ),
        (
            "vsac-adjuvant-pain-medications",
            "Adjuvant pain medications",
            ("2.16.840.1.113762.1.4.1032.54",),
        ),
        (
            "vsac-non-opioid-pain-medications",
            "Non-opioid pain medications",
            ("2.16.840.1.113762.1.4.1032.26",),
        ),
    ),
    "conditions": (
        (
            "vsac-depression",
            "Major depression; depression diagnosis (ICD-9)",
            ("2.16.840.1.113883.3.464.1003.105.12.1007", "2.16.840.1.113883.3.600.143"),
        ),
        (
            "vsac-anxiety",
            "Anxiety; anxiety disorders (ICD-9)",
            ("2.16.840.1.113762.1.4.1032.52", "2.16.840.1.113883.3.1240.2017.3.2.1015"),
        ),
        (
            "vsac-substance-use-disorder",
            "Substance use disorder; substance abuse (ICD-9)",
            (
                "2.16.840.1.113883.3.464.1003.106.12.1004",
                "2.16.840.1.113883.3.464.1003.106.11.1010",
            ),
        ),
        ("vsac-suicide-attempt", "Suicide attempt", ("2.16.840.1.113762.1.4.1032.102",)),
        (
            "vsac-sleep-disordered-breathing",
            "Sleep-disordered breathing",
            ("2.16.840.1.113762.1.4.1032.53",),
        ),
        ("vsac-kidney-failure", "Kidney failure", ("2.16.840.1.113883.3.464.1003.109.12.1028",)),
        (
            "vsac-liver-disease",
            "Chronic liver disease; liver disease",
            ("2.16.840.1.113883.3.464.1003.199.12.1035", "2.16.840.1.113762.1.4.1047.42"),
        ),
        (
            "vsac-pregnancy",
            "CDS pregnancy; pregnancy; pregnancy (ICD-10 2018-2019)",
            (
                "2.16.840.1.113762.1.4.1032.264",
                "2.16.840.1.113883.3.526.3.378",
                "2.16.840.1.113762.1.4.1032.80",
            ),
        ),
        (
            "vsac-opioid-overdose",
            "Opioid overdose and poisoning (ICD-10-CM, SNOMED)",
            ("2.16.840.1.113762.1.4.1146.1008", "2.16.840.1.113762.1.4.1146.1063"),
        ),
        (
            "vsac-chronic-pain",
            "Conditions associated with chronic pain",
            ("2.16.840.1.113762.1.4.1021.95", "2.16.840.1.113762.1.4.1032.37"),
        ),
    ),
    "uds": (
        (
            "vsac-urine-drug-screen-pain-management",
            "Urine drug screen for pain management",
            ("2.16.840.1.113762.1.4.1032.28",),
        ),
    ),
    "procedures": (
        (
            "vsac-non-pharmacologic-pain-treatments",
            "Non-pharmacologic treatments for chronic pain",
            ("2.16.840.1.113762.1.4.1032.36",),
        ),
    ),
}

#: PTSD members of the VSAC anxiety set (2.16.840.1.113762.1.4.1032.52); the script checks that
#: each is still a member. Displays are for readers only.
PTSD_FROM_ANXIETY: tuple[tuple[str, str, str], ...] = (
    ("http://hl7.org/fhir/sid/icd-10-cm", "F43.10", "Post-traumatic stress disorder, unspecified"),
    ("http://hl7.org/fhir/sid/icd-10-cm", "F43.11", "Post-traumatic stress disorder, acute"),
    ("http://hl7.org/fhir/sid/icd-10-cm", "F43.12", "Post-traumatic stress disorder, chronic"),
    ("http://snomed.info/sct", "47505003", "Posttraumatic stress disorder"),
    ("http://snomed.info/sct", "313182004", "Chronic post-traumatic stress disorder"),
    ("http://snomed.info/sct", "318784009", "Posttraumatic stress disorder, delayed onset"),
    ("http://snomed.info/sct", "446175003", "Acute PTSD following military combat"),
    ("http://snomed.info/sct", "446180007", "Delayed PTSD following military combat"),
    ("http://snomed.info/sct", "699241002", "Chronic PTSD following military combat"),
)
#: Hand-added PTSD codes that no vendored set holds (the ICD-9 anxiety set lacks 309.81).
PTSD_EXTRA: tuple[tuple[str, str, str], ...] = (
    ("http://hl7.org/fhir/sid/icd-9-cm", "309.81", "Posttraumatic stress disorder"),
    ("http://snomed.info/sct", "443919007", "Complex posttraumatic stress disorder"),
)

DRUG_COLUMNS = (
    "drug_rxcui",
    "drug_name",
    "dose_form_rxcui",
    "dose_form_name",
    "ingredient_rxcui",
    "ingredient_name",
    "strength_value",
    "strength_numerator_unit",
    "strength_denominator_unit",
    "long_acting",
    "sources",
    "notes",
)
SOURCE_COLUMNS = (
    ("in_cdc_omtkdata_3_0_0", "cdc-omtk-3.0.0"),
    ("in_cosri_omtkdata_js", "cosri"),
    ("in_cdc_omtkdata2020", "cdc-omtk-2020"),
)
#: MME.md section 12 item 11: COSRI codes this codeine product as benzhydrocodone.
DROPPED_ROWS = {("993943", "2001352")}


def _date(timestamp: str | None) -> str | None:
    return timestamp[:10] if timestamp else None


def _cdc_valueset(path: Path, *, with_display: bool) -> dict[str, Any]:
    resource = json.loads(path.read_text(encoding="utf-8"))
    expansion = resource["expansion"]
    codes: dict[str, list[str]] = {}
    display: dict[str, str] = {}

    def walk(entries: Iterable[dict[str, Any]]) -> None:
        for entry in entries:
            if "code" in entry:
                codes.setdefault(entry["system"], []).append(entry["code"])
                if with_display and entry.get("display"):
                    display[entry["code"]] = entry["display"]
            walk(entry.get("contains", ()))

    walk(expansion.get("contains", ()))
    name = path.stem.removeprefix("valueset-")
    out: dict[str, Any] = {
        "name": name,
        "title": resource.get("title") or resource.get("name"),
        "url": resource["url"],
        "version": resource.get("version"),
        "expansion": _date(expansion.get("timestamp")),
        "source": CDC_SOURCE,
        "codes": {system: sorted(set(values)) for system, values in codes.items()},
    }
    if with_display:
        out["display"] = dict(sorted(display.items()))
    return out


def _vsac_valueset(
    name: str, title: str, oids: tuple[str, ...], dbs: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    codes: dict[str, set[str]] = {}
    versions: list[str] = []
    for oid in oids:
        found = False
        for label, db in dbs.items():
            for version, entries in db.get(oid, {}).items():
                found = True
                versions.append(f"{oid}|{version} ({label})")
                for entry in entries:
                    codes.setdefault(entry["system"], set()).add(entry["code"])
        if not found:
            raise SystemExit(f"VSAC value set {oid} not found")
    return {
        "name": name,
        "title": title,
        "url": " ".join(f"urn:oid:{oid}" for oid in oids),
        "version": "; ".join(versions),
        "expansion": None,
        "source": "VSAC via " + " and ".join(sorted(dbs)),
        "codes": {system: sorted(values) for system, values in sorted(codes.items())},
    }


def _ptsd_valueset(anxiety: dict[str, Any]) -> dict[str, Any]:
    codes: dict[str, list[str]] = {}
    for system, code, _ in PTSD_FROM_ANXIETY:
        if code not in anxiety["codes"].get(system, ()):
            raise SystemExit(f"PTSD code {code} is no longer in the VSAC anxiety set")
        codes.setdefault(system, []).append(code)
    for system, code, _ in PTSD_EXTRA:
        codes.setdefault(system, []).append(code)
    return {
        "name": "ptsd",
        "title": "Post-traumatic stress disorder (hand-made, see PROVENANCE.md)",
        "url": None,
        "version": None,
        "expansion": None,
        "source": "hand-made: VSAC anxiety-set PTSD codes + ICD-9-CM 309.81 + SNOMED 443919007",
        "codes": codes,
    }


def _ingredient_name(name: str) -> str:
    """Spell ingredients as conversion_factors.csv does ("tapentadol" -> "Tapentadol")."""
    return name[:1].upper() + name[1:]


def _drug_rows(path: Path) -> list[list[Any]]:
    by_drug: dict[str, list[dict[str, str]]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if (row["drug_rxcui"], row["ingredient_rxcui"]) in DROPPED_ROWS:
                continue
            by_drug.setdefault(row["drug_rxcui"], []).append(row)
    out: list[list[Any]] = []
    for drug_rxcui in sorted(by_drug, key=int):
        rows = by_drug[drug_rxcui]
        # Where sources disagree on one drug, the CDC 3.0.0 row is the reference, then COSRI,
        # then the CDC 2020 snapshot (MME.md section 12 item 11).
        for column, _ in SOURCE_COLUMNS:
            chosen = [row for row in rows if row[column] == "Y"]
            if chosen:
                break
        for row in chosen:
            sources = [label for column, label in SOURCE_COLUMNS if row[column] == "Y"]
            out.append(
                [
                    row["drug_rxcui"],
                    row["drug_name"],
                    row["dose_form_rxcui"] or None,
                    row["dose_form_name"] or None,
                    row["ingredient_rxcui"],
                    _ingredient_name(row["ingredient_name"]),
                    float(row["strength_value"]) if row["strength_value"] else None,
                    row["strength_numerator_unit"] or None,
                    row["strength_denominator_unit"] or None,
                    row["er_la"] == "Y",
                    sources,
                    row["notes"] or None,
                ]
            )
    return out


def _write_json(path: Path, payload: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    path.write_text(text + "\n", encoding="utf-8")


def vendor(reference: Path) -> None:
    """Write every vendored file under app/clinical/data/ from `reference`."""
    dbs = {
        "AHRQ": json.loads(
            (reference / "vsac" / "ahrq-pain-management-summary-valueset-db.json").read_text(
                encoding="utf-8"
            )
        ),
        "COSRI": json.loads(
            (reference / "vsac" / "cosri-valueset-db.json").read_text(encoding="utf-8")
        ),
    }
    for group, stems in CDC_GROUPS.items():
        sets = [
            _cdc_valueset(
                reference / "valuesets" / f"{stem}.json", with_display=group == "medications"
            )
            for stem in stems
        ]
        sets += [_vsac_valueset(*spec, dbs) for spec in VSAC_GROUPS.get(group, ())]
        if group == "conditions":
            anxiety = next(s for s in sets if s["name"] == "vsac-anxiety")
            sets.append(_ptsd_valueset(anxiety))
        _write_json(DATA / "valuesets" / f"{group}.json", {"valuesets": sets})

    override = json.loads(
        (reference / "codesystems" / "opioidcds-overrideReasons.json").read_text(encoding="utf-8")
    )
    _write_json(
        DATA / "override_reasons.json",
        {
            "url": override["url"],
            "source": CDC_SOURCE,
            "concepts": [[c["code"], c["display"]] for c in override["concept"]],
        },
    )
    _write_json(
        DATA / "omtk_drugs.json",
        {"columns": list(DRUG_COLUMNS), "rows": _drug_rows(reference / "mme" / "drugs.csv")},
    )
    (DATA / "mme").mkdir(parents=True, exist_ok=True)
    target = DATA / "mme" / "conversion_factors.csv"
    shutil.copyfile(reference / "mme" / "conversion_factors.csv", target)
    target.chmod(0o644)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=Path("/work/shared/reference"))
    args = parser.parse_args(argv)
    vendor(args.reference)
    sys.stdout.write(f"vendored terminology into {DATA}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
