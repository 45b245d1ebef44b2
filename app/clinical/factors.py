"""CDC MME conversion factors, per ingredient, dose form and edition.

Reads the vendored `data/mme/conversion_factors.csv` (see /work/shared/reference/mme/MME.md
section 1 and section 7, and data/PROVENANCE.md). Two editions are offered: "2022" (CDC 2022
guideline table, the default) and "2016" (CDC 2016 table plus the CDC/CMS compilation for the drugs
it lacks). A factor multiplies the daily amount in `per` units: "mg" (mg/day), "mcg" (mcg/day,
transmucosal fentanyl) or "mcg/hr" (fentanyl patch rate worn).

A lookup never invents a value: a missing factor is `None` with a sentence saying why.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from app.clinical.model import MedicationRecord
    from app.clinical.terminology import DrugIngredient, Terminology

FACTORS_CSV = Path(__file__).parent / "data" / "mme" / "conversion_factors.csv"

Edition = Literal["2022", "2016"]
EDITIONS: tuple[str, ...] = ("2022", "2016")

#: What to do under 2022 with a drug that the 2022 table lacks (MME.md 7.1).
OutsideTable = Literal["compilation", "not-computable"]

TRANSDERMAL_SYSTEM = "316987"
FENTANYL = "4337"
METHADONE = "6813"
BUPRENORPHINE = "1819"

NOT_IN_2022_TABLE = "factor not in 2022 table"


@dataclass(frozen=True, slots=True)
class FactorRow:
    """One row of conversion_factors.csv, parsed."""

    ingredient: str
    ingredient_rxcui: str
    condition: str
    dose_form_rxcuis: frozenset[str]  # empty: applies to any dose form not named elsewhere
    per: str  # "mg", "mcg" or "mcg/hr"
    factor_2016: float | None
    source_2016: str
    factor_2022: float | None
    excluded_2022: bool  # "EXCLUDE" in the 2022 column (buprenorphine)
    methadone_band_max_mg: float | None  # upper edge of a 2016 methadone band (inf for the last)


@dataclass(frozen=True, slots=True)
class FactorChoice:
    """The factor for one ingredient in one dose form, or why there is none.

    Attributes:
        value: the factor, or None when there is none to use.
        per: unit of the daily amount the factor multiplies: "mg", "mcg" or "mcg/hr".
        source: where the value comes from ("guideline-2022", "guideline-2016",
            "cdc-cms-compilation"), or "" when there is none.
        excluded: True for buprenorphine under 2022 (not converted, not counted).
        notes: sentences for the user (e.g. "factor not in 2022 table").
    """

    value: float | None
    per: str
    source: str
    excluded: bool = False
    notes: tuple[str, ...] = ()


def resolve_terminology(terminology: Terminology | None) -> Terminology:
    """The given terminology, or the process-wide one."""
    if terminology is not None:
        return terminology
    from app.clinical.terminology import load_terminology  # lazy: built once per process

    return load_terminology()


def drug_rows(
    record: MedicationRecord, terminology: Terminology
) -> tuple[str | None, tuple[DrugIngredient, ...]]:
    """The OMTK rows of a record: the first RxNorm code that has rows, as both peers do (MME.md 4).

    Returns:
        (the RxCUI used, its rows); (None, ()) when no code of the record has a row.
    """
    candidates = list(record.rxnorm_codes)
    if record.classification.rxcui and record.classification.rxcui not in candidates:
        candidates.append(record.classification.rxcui)
    for rxcui in candidates:
        rows = terminology.drug_ingredients(rxcui)
        if rows:
            return rxcui, rows
    return None, ()


def _float_or_none(text: str) -> float | None:
    text = text.strip()
    if not text or text.upper() == "EXCLUDE":
        return None
    return float(text)


def _dose_forms(text: str) -> frozenset[str]:
    # "970789;317007;316992 (COSRI also 1294702)": the codes before the parenthesis apply.
    head = text.split("(", 1)[0]
    return frozenset(part.strip() for part in head.split(";") if part.strip().isdigit())


def _per(daily_dose_unit: str) -> str:
    unit = daily_dose_unit.lower()
    if unit.startswith("mcg/hr"):
        return "mcg/hr"
    if unit.startswith("mcg"):
        return "mcg"
    return "mg"


_BAND = re.compile(r"(\d+)\s*-\s*(\d+)\s*mg/day")
_BAND_OPEN = re.compile(r">=\s*(\d+)\s*mg/day")


def _methadone_band_max(condition: str) -> float | None:
    # D8: bands written in whole mg (1-20, 21-40, 41-60, >= 61) are read upper-inclusive.
    if match := _BAND.search(condition):
        return float(match.group(2))
    if _BAND_OPEN.search(condition):
        return math.inf
    return None


@cache
def factor_rows() -> tuple[FactorRow, ...]:
    """All rows of the vendored factor table (read once per process)."""
    rows: list[FactorRow] = []
    with FACTORS_CSV.open(encoding="utf-8", newline="") as handle:
        for raw in csv.DictReader(handle):
            if not raw["ingredient_rxcui"].strip():
                continue
            rows.append(
                FactorRow(
                    ingredient=raw["ingredient"],
                    ingredient_rxcui=raw["ingredient_rxcui"].strip(),
                    condition=raw["dose_form_condition"],
                    dose_form_rxcuis=_dose_forms(raw["dose_form_rxcuis"]),
                    per=_per(raw["daily_dose_unit"]),
                    factor_2016=_float_or_none(raw["cdc_2016_factor"]),
                    source_2016=raw["cdc_2016_source"].split(" (", 1)[0].strip(),
                    factor_2022=_float_or_none(raw["cdc_2022_factor"]),
                    excluded_2022=raw["cdc_2022_factor"].strip().upper() == "EXCLUDE",
                    methadone_band_max_mg=_methadone_band_max(raw["dose_form_condition"]),
                )
            )
    return tuple(rows)


def _row_for(ingredient_rxcui: str, dose_form_rxcui: str | None) -> FactorRow | None:
    rows = [r for r in factor_rows() if r.ingredient_rxcui == ingredient_rxcui]
    for row in rows:
        if dose_form_rxcui is not None and dose_form_rxcui in row.dose_form_rxcuis:
            return row
    if ingredient_rxcui == FENTANYL:
        # Fentanyl factors exist per dose form only; other forms (injection, topical) have none.
        return None
    generic = [r for r in rows if not r.dose_form_rxcuis]
    return generic[0] if generic else None


def methadone_factor_2016(methadone_mg_per_day: float) -> float | None:
    """2016 methadone factor for one prescription's methadone dose (MME.md 7.2).

    Args:
        methadone_mg_per_day: methadone mg/day of the prescription.

    Returns:
        4, 8, 10 or 12 with upper-inclusive bands (0 < x <= 20, <= 40, <= 60, > 60); None
        for a dose of 0 or less.
    """
    if not methadone_mg_per_day > 0:
        return None
    bands = sorted(
        (r for r in factor_rows() if r.methadone_band_max_mg is not None),
        key=lambda r: r.methadone_band_max_mg or 0.0,
    )
    for band in bands:
        assert band.methadone_band_max_mg is not None  # noqa: S101 - filtered above
        if methadone_mg_per_day <= band.methadone_band_max_mg:
            return band.factor_2016
    return None


def conversion_factor(
    ingredient_rxcui: str,
    dose_form_rxcui: str | None,
    *,
    edition: str = "2022",
    outside_2022_table: str = "compilation",
    methadone_mg_per_day: float | None = None,
) -> FactorChoice:
    """Pick the conversion factor for one opioid ingredient (MME.md section 7).

    Args:
        ingredient_rxcui: ingredient-level RxCUI from the OMTK row (e.g. "7804").
        dose_form_rxcui: dose-form RxCUI from the OMTK row (e.g. "316987"), if known.
        edition: "2022" (default) or "2016".
        outside_2022_table: under 2022, "compilation" uses the CDC/CMS compilation value for
            drugs the 2022 table lacks (noted); "not-computable" gives no factor (D7).
        methadone_mg_per_day: methadone dose of the prescription; needed for 2016 tiers.

    Returns:
        The factor and its unit, or a FactorChoice with value None and a note saying why.
    """
    if edition not in EDITIONS:
        return FactorChoice(None, "mg", "", notes=(f"unknown MME edition {edition!r}",))
    row = _row_for(ingredient_rxcui, dose_form_rxcui)
    if row is None:
        return FactorChoice(
            None, "mg", "", notes=("no CDC conversion factor for this ingredient and dose form",)
        )
    if row.ingredient_rxcui == BUPRENORPHINE:
        # D9: buprenorphine is never converted; it is listed apart in both editions.
        return FactorChoice(None, row.per, "guideline-2022", excluded=True)
    if row.ingredient_rxcui == METHADONE:
        return _methadone(edition, methadone_mg_per_day)
    if edition == "2016":
        if row.factor_2016 is None:
            return FactorChoice(None, row.per, "", notes=("no 2016 conversion factor",))
        return FactorChoice(row.factor_2016, row.per, row.source_2016)
    if row.factor_2022 is not None:
        return FactorChoice(row.factor_2022, row.per, "guideline-2022")
    # D7: drug outside the 2022 table.
    if row.factor_2016 is None or row.source_2016 != "cdc-cms-compilation":
        return FactorChoice(None, row.per, "", notes=(f"{NOT_IN_2022_TABLE}, and no other factor",))
    if outside_2022_table == "not-computable":
        return FactorChoice(
            None, row.per, "", notes=(f"{NOT_IN_2022_TABLE}; clinic policy: not computable",)
        )
    return FactorChoice(
        row.factor_2016,
        row.per,
        "cdc-cms-compilation",
        notes=(f"{NOT_IN_2022_TABLE}: CDC/CMS compilation value {row.factor_2016:g} used",),
    )


def _methadone(edition: str, methadone_mg_per_day: float | None) -> FactorChoice:
    if edition == "2022":
        value = next(r.factor_2022 for r in factor_rows() if r.ingredient_rxcui == METHADONE)
        return FactorChoice(value, "mg", "guideline-2022")
    if methadone_mg_per_day is None:
        return FactorChoice(None, "mg", "", notes=("methadone dose unknown: no 2016 tier",))
    value = methadone_factor_2016(methadone_mg_per_day)
    if value is None:
        return FactorChoice(None, "mg", "", notes=("methadone dose of 0 mg/day: no 2016 tier",))
    return FactorChoice(
        value,
        "mg",
        "guideline-2016",
        notes=(f"2016 methadone tier for {methadone_mg_per_day:g} mg/day: factor {value:g}",),
    )
