"""Value-set membership: what a medication, condition, lab test or procedure code is.

Follows the CDC Opioid Prescribing Support IG value sets (cqframework/opioid-cds-r4) and the
VSAC sets of the AHRQ and COSRI pain-management summaries, vendored in `data/` (see
data/PROVENANCE.md). Everything is loaded once per process and indexed by (system, code), so a
lookup is a dict access.

Where the code lists leave gaps (gabapentinoids, muscle relaxants, Z-drugs, buprenorphine for
pain vs OUD, a CNS-depressant set that holds stimulants and anaesthetic gases, a naloxone set
that holds Suboxone), the class comes from ingredient or brand names in the RxNorm display or
the medication text (`data/medication_names.json`), and `Classification.source` says so. A
medication that nothing matches is `ClassSource.UNKNOWN`: it is never guessed.

ICD-10-CM and ICD-9-CM codes match with or without the dot (``F11.20`` and ``F1120``), since
charts write both. Common aliases of the code-system URIs (HL7 OIDs, WHO ICD-10, a trailing
slash on RxNorm) are accepted; other systems are compared as given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from app.clinical.model import (
    CNS_DEPRESSANT_SUBCLASSES,
    ICD9CM,
    ICD10CM,
    RXNORM,
    Classification,
    ClassSource,
    Code,
    ConditionGroup,
    DrugClass,
    normalise_system,
)

DATA_DIR = Path(__file__).parent / "data"
_ICD_SYSTEMS = frozenset({ICD10CM, ICD9CM})

# ----------------------------------------------------------------- value set -> meaning

#: Medication lists whose members are opioids (refined for buprenorphine and methadone).
_OPIOID_SETS = frozenset(
    {
        "opioid-analgesics-with-ambulatory-misuse-potential",
        "extended-release-opioid-with-ambulatory-misuse-potential",
        "non-synthetic-opioid-medications",
        "synthetic-opioid-medications",
        "oxycodone-medications",
        "fentanyl-type-medications",
        "buprenorphine-medications",
        "buprenorphine-and-methadone-medications",
        "methadone-medications",
        "vsac-opioid-pain-medications",
    }
)
#: Pseudo value-set name for "has a row in the vendored OMTK drug table".
OMTK_DRUGS = "omtk-drugs"
_LONG_ACTING_SET = "extended-release-opioid-with-ambulatory-misuse-potential"
_SIMPLE_MEDICATION_SETS: dict[str, DrugClass] = {
    "benzodiazepine-medications": DrugClass.BENZODIAZEPINE,
    "vsac-benzodiazepine-medications": DrugClass.BENZODIAZEPINE,
    "barbiturate-medications": DrugClass.BARBITURATE,
    "amphetamines-class-medications": DrugClass.STIMULANT,
    "vsac-carisoprodol": DrugClass.MUSCLE_RELAXANT,
}
_CNS_DEPRESSANT_SET = "cns-depressant-medications"
_NALOXONE_SET = "naloxone-medications"

CONDITION_SET_GROUPS: dict[str, frozenset[ConditionGroup]] = {
    "opioid-misuse-disorders": frozenset({ConditionGroup.OUD, ConditionGroup.SUD}),
    "conditions-documenting-substance-misuse": frozenset({ConditionGroup.SUD}),
    "vsac-substance-use-disorder": frozenset({ConditionGroup.SUD}),
    "conditions-documenting-sleep-disordered-breathing": frozenset(
        {ConditionGroup.SLEEP_DISORDERED_BREATHING}
    ),
    "vsac-sleep-disordered-breathing": frozenset({ConditionGroup.SLEEP_DISORDERED_BREATHING}),
    "cdc-malignant-cancer-conditions": frozenset({ConditionGroup.CANCER}),
    "conditions-likely-terminal-for-opioid-prescribing": frozenset({ConditionGroup.TERMINAL}),
    "limited-life-expectancy-conditions": frozenset({ConditionGroup.TERMINAL}),
    "hospice-finding": frozenset({ConditionGroup.HOSPICE}),
    "sickle-cell-diseases": frozenset({ConditionGroup.SICKLE_CELL}),
    "vsac-depression": frozenset({ConditionGroup.DEPRESSION}),
    "vsac-anxiety": frozenset({ConditionGroup.ANXIETY}),
    "ptsd": frozenset({ConditionGroup.PTSD}),
    "vsac-suicide-attempt": frozenset({ConditionGroup.SUICIDE_ATTEMPT}),
    "vsac-opioid-overdose": frozenset({ConditionGroup.OVERDOSE}),
    "vsac-pregnancy": frozenset({ConditionGroup.PREGNANCY}),
    "vsac-chronic-pain": frozenset({ConditionGroup.CHRONIC_PAIN}),
    "vsac-kidney-failure": frozenset({ConditionGroup.KIDNEY_FAILURE}),
    "vsac-liver-disease": frozenset({ConditionGroup.LIVER_DISEASE}),
}

#: UDS value set -> target substance. Every member of any of these sets is also "any".
UDS_SET_TARGETS: dict[str, str | None] = {
    "all-urine-drug-screening-tests": None,
    "vsac-urine-drug-screen-pain-management": None,
    "non-opioid-urine-drug-screening": None,
    "opioid-urine-drug-screening": "opioid",
    "general-opiate-urine-drug-screening-tests": "opiate",
    "opiate-specific-urine-drug-screening-tests": "opiate",
    "oxycodone-urine-drug-screening-tests": "oxycodone",
    "fentanyl-type-urine-drug-screening-tests": "fentanyl",
    "methadone-urine-drug-screening-tests": "methadone",
    "buprenorphine-urine-drug-screening-tests": "buprenorphine",
    "heroin-urine-drug-screening-tests": "heroin",
    "synthetic-opioid-urine-drug-screening-tests": "synthetic-opioid",
    "benzodiazepine-urine-drug-screening-tests": "benzodiazepine",
    "barbiturate-urine-drug-screening-tests": "barbiturate",
    "amphetamine-urine-drug-screening-tests": "amphetamine",
    "cocaine-urine-drug-screening-tests": "cocaine",
    "cannabinoid-urine-drug-screening-tests": "cannabinoid",
    "phencyclidine-urine-drug-screening-tests": "phencyclidine",
    "xylazine-urine-drug-screening-tests": "xylazine",
}

PROCEDURE_SET_GROUPS: dict[str, str] = {
    "pdmp-review-procedure": "pdmp-review",
    "pdmp-data-reviewed-finding": "pdmp-review",
    "hospice-procedure": "hospice",
    "therapies-indicating-end-of-life-care": "end-of-life",
    "opioid-counseling-procedure": "opioid-counseling",
    "substance-misuse-behavioral-counseling": "substance-misuse-counseling",
    "opioid-misuse-assessment-procedure": "opioid-misuse-assessment",
    "opioid-treatment-assessment-procedure": "opioid-treatment-assessment",
    "pain-management-procedure": "pain-management",
    "pain-treatment-plan": "pain-treatment-plan",
    "vsac-non-pharmacologic-pain-treatments": "non-pharmacologic-treatment",
}

_OPIOID_CLASSES = frozenset(
    {
        DrugClass.OPIOID_ANALGESIC,
        DrugClass.BUPRENORPHINE_MOUD,
        DrugClass.BUPRENORPHINE_PAIN,
        DrugClass.METHADONE_MOUD,
    }
)
#: Classes a name inside a listed product's display may add (combination products).
_SEDATIVE_CLASSES = CNS_DEPRESSANT_SUBCLASSES | {DrugClass.BENZODIAZEPINE}

_LONG_ACTING_WORDS = re.compile(
    r"\b(?:extended[- ]release|ER|XR|XL|CR|SR|LA|transdermal|patch)\b", re.IGNORECASE
)
#: RxNorm names of extended-release products start with the duration: "12 HR oxycodone ...".
_DURATION_PREFIX = re.compile(r"\s*\d+\s*HR\b", re.IGNORECASE)
_MG_PER_ML = re.compile(r"(\d+(?:\.\d+)?)\s*MG\s*/\s*ML", re.IGNORECASE)


# ----------------------------------------------------------------- public records


@dataclass(frozen=True, slots=True)
class DrugIngredient:
    """One OMTK drug-table row: one opioid ingredient of one RxNorm drug.

    `sources` names the OMTK tables holding the row ("cdc-omtk-3.0.0", "cosri",
    "cdc-omtk-2020"); `notes` carries the merged table's data notes (for example the fentanyl
    iontophoretic system, which is not a wearable patch).
    """

    drug_rxcui: str
    drug_name: str
    dose_form_rxcui: str | None
    dose_form_name: str | None
    ingredient_rxcui: str
    ingredient_name: str
    strength_value: float | None
    strength_numerator_unit: str | None
    strength_denominator_unit: str | None
    long_acting: bool
    sources: tuple[str, ...]
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class ValueSetInfo:
    """Where one vendored value set came from (for an about page and audits)."""

    name: str
    title: str | None
    url: str | None
    version: str | None
    expansion: str | None
    source: str
    size: int


def _key(system: str, code: str) -> tuple[str, str]:
    system = normalise_system(system)
    code = code.strip()
    if system in _ICD_SYSTEMS:
        code = code.replace(".", "").upper()
    return system, code


# ----------------------------------------------------------------- medication names


class MedicationNames:
    """Ingredient and brand names -> drug class, and the formulation rules that need names.

    Built from `data/medication_names.json`; every name is matched as a whole word,
    case-insensitively.
    """

    def __init__(self, table: Mapping[str, Any]) -> None:
        self.classes: dict[str, DrugClass] = {}
        for class_name, names in table["ingredients"].items():
            for name in names:
                self.classes[name] = DrugClass(class_name)
        self.brands: dict[str, str] = dict(table["brands"])
        self.dropped_cns: frozenset[str] = frozenset(table["dropped_cns_depressants"]["names"])
        self.long_acting_brands: frozenset[str] = frozenset(table["long_acting_brands"])
        self.bup_moud_brands: frozenset[str] = frozenset(table["buprenorphine_moud_brands"])
        self.bup_pain_brands: frozenset[str] = frozenset(table["buprenorphine_pain_brands"])
        self.non_analgesic: frozenset[str] = frozenset(table["non_analgesic_opioids"]["names"])
        self.set_ingredients: dict[str, str] = {
            k: v for k, v in table["set_ingredients"].items() if k != "about"
        }
        self.opioids: frozenset[str] = frozenset(
            n for n, c in self.classes.items() if c is DrugClass.OPIOID_ANALGESIC
        )
        words = set(self.classes) | set(self.brands) | self.dropped_cns | self.non_analgesic
        alternatives = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
        self._pattern = re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)

    def words_in(self, text: str) -> set[str]:
        """Known ingredient, brand and dropped names in `text`, lower case, as written."""
        return {m.group(0).lower() for m in self._pattern.finditer(text)}

    def ingredients_in(self, text: str) -> set[str]:
        """Ingredient names in `text`, with brands mapped to their ingredient."""
        return {self.brands.get(w, w) for w in self.words_in(text)}

    def is_long_acting(self, text: str) -> bool:
        """Extended-release / long-acting wording or brand in a medication text."""
        if _LONG_ACTING_WORDS.search(text) or _DURATION_PREFIX.match(text):
            return True
        return bool(self.words_in(text) & self.long_acting_brands)

    def buprenorphine_class(self, text: str) -> DrugClass:
        """Pain or OUD buprenorphine by formulation (MME.md section 7.4).

        OUD: any naloxone combination, sublingual, implant, extended-release injection
        (Sublocade, Brixadi; >= 50 mg/mL). Pain: transdermal, buccal film without naloxone
        (Belbuca), 0.3 mg/mL injection (Buprenex). A text that shows none of these is taken as
        pain, which keeps the medication in the COT scope and in the 2016 MME edition rather
        than dropping it (documented in PROVENANCE.md).
        """
        lower = text.lower()
        words = self.words_in(text)
        if "naloxone" in words or words & self.bup_moud_brands:
            return DrugClass.BUPRENORPHINE_MOUD
        if words & self.bup_pain_brands:
            return DrugClass.BUPRENORPHINE_PAIN
        if "sublingual" in lower or re.search(r"\bSL\b", text) or "implant" in lower:
            return DrugClass.BUPRENORPHINE_MOUD
        injectable = any(w in lower for w in ("inject", "syringe", "cartridge"))
        if injectable and "extended release" in lower:
            return DrugClass.BUPRENORPHINE_MOUD
        if injectable and any(float(m) >= 50 for m in _MG_PER_ML.findall(text)):
            return DrugClass.BUPRENORPHINE_MOUD
        return DrugClass.BUPRENORPHINE_PAIN

    @staticmethod
    def is_methadone_moud(text: str) -> bool:
        """Opioid-treatment-program methadone: 40 mg dispersible tablet, >= 10 mg/mL concentrate.

        Injectable solutions are analgesics whatever their strength.
        """
        lower = text.lower()
        if any(w in lower for w in ("tablet for oral suspension", "dispersible", "diskets")):
            return True
        if "inject" in lower:
            return False
        if "concentrate" in lower or "intensol" in lower:
            return True
        return "oral" in lower and any(float(m) >= 10 for m in _MG_PER_ML.findall(text))

    def opioid_classes(self, ingredients: set[str], text: str) -> set[DrugClass]:
        """Opioid classes of a product with these opioid ingredients and this name."""
        classes: set[DrugClass] = set()
        if "buprenorphine" in ingredients:
            classes.add(self.buprenorphine_class(text))
        if "methadone" in ingredients:
            moud = self.is_methadone_moud(text)
            classes.add(DrugClass.METHADONE_MOUD if moud else DrugClass.OPIOID_ANALGESIC)
        if ingredients & (self.opioids - {"buprenorphine", "methadone"}):
            classes.add(DrugClass.OPIOID_ANALGESIC)
        return classes

    def classify(self, texts: Sequence[str]) -> tuple[set[DrugClass], set[str], bool]:
        """Classes, explaining ingredients and long-acting flag from names in `texts`."""
        ingredients: set[str] = set()
        for text in texts:
            ingredients |= self.ingredients_in(text)
        joined = " | ".join(texts)
        classes = self.opioid_classes(ingredients, joined)
        for name in ingredients:
            cls = self.classes.get(name)
            if cls is not None and cls is not DrugClass.OPIOID_ANALGESIC:
                classes.add(cls)
        if ingredients & {"buprenorphine", "pentazocine"}:
            # buprenorphine/naloxone and pentazocine/naloxone are not rescue naloxone
            classes.discard(DrugClass.NALOXONE)
        long_acting = bool(classes & _OPIOID_CLASSES) and (
            "methadone" in ingredients or any(self.is_long_acting(t) for t in texts)
        )
        return classes, self.explaining(ingredients, classes), long_acting

    def explaining(self, ingredients: set[str], classes: Iterable[DrugClass]) -> set[str]:
        """The ingredient names that account for `classes`."""
        wanted = set(classes)
        if wanted & _OPIOID_CLASSES:
            wanted.add(DrugClass.OPIOID_ANALGESIC)
        return {n for n in ingredients if self.classes.get(n) in wanted}


# ----------------------------------------------------------------- the index


class Terminology:
    """All vendored code lists, indexed by (system, code). Build with `load_terminology()`."""

    def __init__(
        self,
        valuesets: Sequence[Mapping[str, Any]],
        drug_rows: Sequence[Sequence[Any]],
        override_reasons: Mapping[str, Any],
        names: MedicationNames,
    ) -> None:
        self.names = names
        self._members: dict[tuple[str, str], tuple[str, ...]] = {}
        self._infos: list[ValueSetInfo] = []
        rx_display: dict[str, str] = {}
        for vs in valuesets:
            size = 0
            for system, codes in vs["codes"].items():
                for code in codes:
                    key = _key(system, code)
                    self._members[key] = (*self._members.get(key, ()), vs["name"])
                    size += 1
            for code, display in vs.get("display", {}).items():
                rx_display.setdefault(code, display)
            self._infos.append(
                ValueSetInfo(
                    name=vs["name"],
                    title=vs.get("title"),
                    url=vs.get("url"),
                    version=vs.get("version"),
                    expansion=vs.get("expansion"),
                    source=vs["source"],
                    size=size,
                )
            )

        self._drugs: dict[str, tuple[DrugIngredient, ...]] = {}
        self._ingredients: dict[str, str] = {}
        for row in drug_rows:
            item = DrugIngredient(
                drug_rxcui=row[0],
                drug_name=row[1],
                dose_form_rxcui=row[2],
                dose_form_name=row[3],
                ingredient_rxcui=row[4],
                ingredient_name=row[5],
                strength_value=row[6],
                strength_numerator_unit=row[7],
                strength_denominator_unit=row[8],
                long_acting=bool(row[9]),
                sources=tuple(row[10]),
                notes=row[11],
            )
            self._drugs[item.drug_rxcui] = (*self._drugs.get(item.drug_rxcui, ()), item)
            self._ingredients[item.ingredient_rxcui] = item.ingredient_name
            rx_display.setdefault(item.drug_rxcui, item.drug_name)
        self._rx_display = rx_display

        self._override_reasons = tuple(
            Code(system=override_reasons["url"], code=code, display=display)
            for code, display in override_reasons["concepts"]
        )

        # Classify every listed RxNorm code once, so classify_medication is a lookup.
        self._rx_classes: dict[str, Classification] = {}
        listed = {code for (system, code) in self._members if system == RXNORM}
        for rxcui in listed | set(self._drugs):
            self._rx_classes[rxcui] = self._classify_listed(rxcui)

    # ------------------------------------------------------------- medications

    def _classify_listed(self, rxcui: str) -> Classification:
        """Classes of an RxNorm code found in the vendored lists, named by the lists."""
        sets = self._members.get((RXNORM, rxcui), ())
        rows = self._drugs.get(rxcui, ())
        if rows:
            sets = (*sets, OMTK_DRUGS)
        display = self._rx_display.get(rxcui, "")
        ingredients = self.names.ingredients_in(display)
        ingredients |= {row.ingredient_name.lower() for row in rows}
        ingredients |= {
            self.names.set_ingredients[vs] for vs in sets if vs in self.names.set_ingredients
        }
        classes: set[DrugClass] = {
            _SIMPLE_MEDICATION_SETS[vs] for vs in sets if vs in _SIMPLE_MEDICATION_SETS
        }
        opioid_listed = any(vs in _OPIOID_SETS for vs in sets)
        if opioid_listed or rows:
            opioid = self.names.opioid_classes(ingredients, display)
            if not opioid and opioid_listed and not ingredients:
                # A listed opioid with no name anywhere in our data: an opioid all the same.
                # (A named member with no opioid in its name, such as Lomotil or Donnatal in
                # the VSAC opioid set, gets no opioid class.)
                opioid = {DrugClass.OPIOID_ANALGESIC}
            classes |= opioid
        if _CNS_DEPRESSANT_SET in sets:
            named = {self.names.classes[n] for n in ingredients if n in self.names.classes}
            if named:
                classes |= named
            elif not ingredients & self.names.dropped_cns:
                # A member we have no rule for stays a sedative rather than vanishing.
                classes.add(DrugClass.OTHER_CNS_DEPRESSANT)
        if _NALOXONE_SET in sets and not ingredients & {"buprenorphine", "pentazocine"}:
            classes.add(DrugClass.NALOXONE)
        # Sedative ingredients of listed combination products (carisoprodol/aspirin/codeine).
        classes |= {
            self.names.classes[n]
            for n in ingredients
            if self.names.classes.get(n) in _SEDATIVE_CLASSES
        }
        if not classes and ingredients & self.names.non_analgesic:
            # Known and deliberately not an analgesic (Lomotil): not "unknown opioid, no MME".
            return Classification(
                source=ClassSource.CODE_LIST, rxcui=rxcui, value_sets=tuple(sorted(sets))
            )
        if not classes:
            # Only in lists that carry no class (adjuvant or non-opioid pain medications).
            return Classification(rxcui=rxcui, value_sets=tuple(sorted(sets)))
        long_acting = bool(classes & _OPIOID_CLASSES) and (
            _LONG_ACTING_SET in sets
            or any(row.long_acting for row in rows)
            or "methadone" in ingredients
        )
        return Classification(
            classes=frozenset(classes),
            long_acting=long_acting,
            source=ClassSource.CODE_LIST,
            rxcui=rxcui,
            ingredients=tuple(sorted(self.names.explaining(ingredients, classes))),
            value_sets=tuple(sorted(sets)),
        )

    def classify_medication(self, codes: Sequence[Code], text: str | None = None) -> Classification:
        """What a medication is, from its codings and text.

        Evidence, in order: RxNorm codes in the vendored lists or the OMTK drug table
        (CODE_LIST); ingredient-level RxCUIs of the OMTK table, e.g. 7804 oxycodone
        (INGREDIENT_CODE); ingredient or brand names in the text and coding displays (NAME).
        Nothing matched gives an empty classification with source UNKNOWN.

        Args:
            codes: the medication's codings (any systems; RxNorm ones are looked up).
            text: the medication text or best display, if any.

        Returns:
            The classification; `value_sets` names every vendored list the codes are in.
        """
        rxcuis = [c.code.strip() for c in codes if normalise_system(c.system) == RXNORM]
        texts = [t for t in (text, *(c.display for c in codes)) if t]
        listed = [self._rx_classes[r] for r in rxcuis if r in self._rx_classes]
        merged = _merge(listed) if listed else None
        if merged is not None and merged.classes:
            return merged

        for rxcui in rxcuis:
            name = self._ingredients.get(rxcui)
            if name is None:
                continue
            ingredient = name.lower()
            classes = self.names.opioid_classes({ingredient}, " | ".join(texts))
            if not classes:
                continue  # an OMTK ingredient that is no analgesic (diphenoxylate)
            long_acting = ingredient == "methadone" or any(
                self.names.is_long_acting(t) for t in texts
            )
            return Classification(
                classes=frozenset(classes),
                long_acting=long_acting,
                source=ClassSource.INGREDIENT_CODE,
                rxcui=rxcui,
                ingredients=(ingredient,),
                value_sets=merged.value_sets if merged else (),
            )

        classes, ingredients, long_acting = self.names.classify(texts)
        if classes:
            return Classification(
                classes=frozenset(classes),
                long_acting=long_acting,
                source=ClassSource.NAME,
                rxcui=merged.rxcui if merged else None,
                ingredients=tuple(sorted(ingredients)),
                value_sets=merged.value_sets if merged else (),
            )
        return merged if merged is not None else Classification()

    def drug_ingredients(self, rxcui: str) -> tuple[DrugIngredient, ...]:
        """OMTK rows (one per opioid ingredient) of a drug RxCUI; () when there is none."""
        return self._drugs.get(rxcui.strip(), ())

    def ingredient_for_code(self, rxcui: str) -> str | None:
        """Name of an ingredient-level opioid RxCUI (e.g. "7804" -> "Oxycodone"), else None."""
        return self._ingredients.get(rxcui.strip())

    def rxnorm_display(self, rxcui: str) -> str | None:
        """The RxNorm name the vendored lists give a code, if any."""
        return self._rx_display.get(rxcui.strip())

    # ------------------------------------------------------------- other code lists

    def value_sets_of(self, code: Code) -> tuple[str, ...]:
        """Names of the vendored value sets that contain this coding."""
        return self._members.get(_key(code.system, code.code), ())

    def in_value_set(self, name: str, codes: Iterable[Code]) -> bool:
        """True when any coding is a member of the named vendored value set."""
        return any(name in self.value_sets_of(c) for c in codes)

    def condition_groups(self, codes: Sequence[Code]) -> frozenset[ConditionGroup]:
        """Clinical groups of a condition's codings (ICD-10-CM, ICD-9-CM, SNOMED CT).

        ICD codes match with or without the dot. OUD codes are also SUD. An ICD-10-CM code that
        is in no set matches through its nearest listed parent (M54.50 through M54.5): the sets
        were expanded before newer, more specific child codes existed, and a child code is always
        a kind of its parent (the ICD-10-CM hierarchy); parents shorter than 3 characters are
        never used.
        """
        groups: set[ConditionGroup] = set()
        for code in codes:
            for vs in self._condition_sets_of(code):
                groups |= CONDITION_SET_GROUPS.get(vs, frozenset())
        return frozenset(groups)

    def _condition_sets_of(self, code: Code) -> tuple[str, ...]:
        found = self.value_sets_of(code)
        if found or normalise_system(code.system) != ICD10CM:
            return found
        compact = code.code.replace(".", "").upper()
        for length in range(len(compact) - 1, 2, -1):
            found = self._members.get(_key(ICD10CM, compact[:length]), ())
            if found:
                return found
        return ()

    def uds_targets(self, codes: Sequence[Code]) -> frozenset[str]:
        """Substances a urine drug test looks for, plus "any"; empty when it is no UDS test."""
        targets: set[str] = set()
        for code in codes:
            for vs in self.value_sets_of(code):
                if vs in UDS_SET_TARGETS:
                    targets.add("any")
                    target = UDS_SET_TARGETS[vs]
                    if target is not None:
                        targets.add(target)
        return frozenset(targets)

    def procedure_groups(self, codes: Sequence[Code]) -> frozenset[str]:
        """Procedure groups ("pdmp-review", "hospice", ...) of a procedure's codings."""
        return frozenset(
            PROCEDURE_SET_GROUPS[vs]
            for code in codes
            for vs in self.value_sets_of(code)
            if vs in PROCEDURE_SET_GROUPS
        )

    def is_office_visit(self, codes: Sequence[Code]) -> bool:
        """Encounter type in the CDC office-visit set (CPT or SNOMED CT)."""
        return self.in_value_set("office-visit", codes)

    def is_hospice_disposition(self, codes: Sequence[Code]) -> bool:
        """Discharge disposition in the CDC hospice-disposition set."""
        return self.in_value_set("hospice-disposition", codes)

    def is_oncology_specialty(self, codes: Sequence[Code]) -> bool:
        """Practitioner specialty in the CDC oncology-specialty set (NUCC taxonomy)."""
        return self.in_value_set("oncology-specialty-designations", codes)

    def override_reasons(self) -> tuple[Code, ...]:
        """The CDC Opioid IG override reasons; system is the CodeSystem URL."""
        return self._override_reasons

    def value_sets(self) -> tuple[ValueSetInfo, ...]:
        """Provenance of every vendored value set."""
        return tuple(self._infos)


def _merge(items: Sequence[Classification]) -> Classification:
    """Union of the classifications of several listed codings of one medication."""
    if len(items) == 1:
        return items[0]
    classes: frozenset[DrugClass] = frozenset().union(*(i.classes for i in items))
    known = [i for i in items if i.classes]
    return Classification(
        classes=classes,
        long_acting=any(i.long_acting for i in items),
        source=ClassSource.CODE_LIST
        if classes or any(i.is_known for i in items)
        else ClassSource.UNKNOWN,
        rxcui=(known or items)[0].rxcui,
        ingredients=tuple(sorted({n for i in items for n in i.ingredients})),
        value_sets=tuple(sorted({v for i in items for v in i.value_sets})),
    )


# ----------------------------------------------------------------- loading

_VALUESET_GROUPS = ("medications", "conditions", "uds", "procedures", "encounters")


def _read_json(name: str) -> Any:
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))


@cache
def load_terminology() -> Terminology:
    """Build the terminology index from the vendored files, once per process."""
    valuesets = [
        vs
        for group in _VALUESET_GROUPS
        for vs in _read_json(f"valuesets/{group}.json")["valuesets"]
    ]
    return Terminology(
        valuesets,
        _read_json("omtk_drugs.json")["rows"],
        _read_json("override_reasons.json"),
        MedicationNames(_read_json("medication_names.json")),
    )
