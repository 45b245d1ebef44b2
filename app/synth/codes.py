"""Code tables for the synthetic cohort, embedded so generation never reads reference files.

Opioid, benzodiazepine, Z-drug and naloxone RxNorm codes and names come from the CDC Opioid
Prescribing Support IG value sets (cqframework/opioid-cds-r4) and the OMTK drug table; UDS
LOINC codes from the CDC urine drug screening value sets; OUD, sleep apnea, cancer and
palliative codes from the CDC condition value sets; depression, anxiety, PTSD, osteoarthritis
and fibromyalgia codes from the VSAC expansions used by the AHRQ and COSRI pain summaries.
Chronic low back pain uses M54.50 as charts write it since FY2022 (the VSAC chronic-pain
expansion still lists the retired M54.5), and polyneuropathy G62.9. Gabapentinoids,
carisoprodol and cyclobenzaprine have no named public list there: they use RxNorm clinical
drug (SCD) codes (carisoprodol 197446 is in the COSRI "Carisoprodol" value set).
`UNKNOWN_RXCUI` lies above every RxCUI RxNorm has assigned (below 3 million in 2025): readers
must report it as not computable, never guess it.
"""

from __future__ import annotations

from dataclasses import dataclass

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V3_ORDERABLE_DRUG_FORM = "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
MEDREQ_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
MEDSTATEMENT_CATEGORY = "http://terminology.hl7.org/CodeSystem/medication-statement-category"
DOCREF_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
SYNTHETIC_TAG_SYSTEM = "urn:ppact-cot:tags"
SYNTHETIC_TAG_CODE = "synthetic-cohort"
MRN_SYSTEM = "urn:ppact-cot:mrn"


@dataclass(frozen=True, slots=True)
class Drug:
    """One RxNorm clinical drug the cohort prescribes.

    Args:
        key: stable short name used by regimen builders.
        rxcui: RxNorm code (SCD or SBD).
        display: RxNorm name, as the OMTK table or value set spells it.
        unit: dispensing unit for doseQuantity and quantity ("tablet", "patch" ...).
        ucum: UCUM annotation code for `unit`.
        kind: "opioid", "moud", "benzodiazepine", "gabapentinoid", "z-drug",
            "muscle-relaxant", "naloxone", "non-opioid".
    """

    key: str
    rxcui: str
    display: str
    unit: str
    ucum: str
    kind: str


#: key, RxNorm code, kind, RxNorm name. The dispensing unit follows from the dose form.
_DRUG_TABLE = """
# Opioid analgesics (OMTK drug table; CDC opioid-analgesics-with-ambulatory-misuse-potential)
oxy-ir-5       1049621 opioid  oxycodone hydrochloride 5 MG Oral Tablet
oxy-ir-10      1049683 opioid  oxycodone hydrochloride 10 MG Oral Tablet
oxy-ir-15      1049611 opioid  oxycodone hydrochloride 15 MG Oral Tablet
oxy-ir-30      1049618 opioid  oxycodone hydrochloride 30 MG Oral Tablet
oxy-er-10      1049502 opioid  12 HR oxycodone hydrochloride 10 MG Extended Release Oral Tablet
oxy-er-15      1049543 opioid  12 HR oxycodone hydrochloride 15 MG Extended Release Oral Tablet
oxy-er-30      1049574 opioid  12 HR oxycodone hydrochloride 30 MG Extended Release Oral Tablet
oxy-er-60      1049593 opioid  12 HR oxycodone hydrochloride 60 MG Extended Release Oral Tablet
hc-apap-5      857002  opioid  acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet
hc-apap-7.5    857005  opioid  acetaminophen 325 MG / hydrocodone bitartrate 7.5 MG Oral Tablet
hc-apap-10     856999  opioid  acetaminophen 325 MG / hydrocodone bitartrate 10 MG Oral Tablet
mor-er-15      891878  opioid  12 HR morphine sulfate 15 MG Extended Release Oral Tablet
mor-er-30      891885  opioid  12 HR morphine sulfate 30 MG Extended Release Oral Tablet
mor-er-60      891890  opioid  12 HR morphine sulfate 60 MG Extended Release Oral Tablet
mor-ir-15      892582  opioid  morphine sulfate 15 MG Oral Tablet
hm-2           897696  opioid  hydromorphone hydrochloride 2 MG Oral Tablet
hm-4           897702  opioid  hydromorphone hydrochloride 4 MG Oral Tablet
fent-12        577057  opioid  72 HR fentanyl 0.012 MG/HR Transdermal System
fent-25        245134  opioid  72 HR fentanyl 0.025 MG/HR Transdermal System
fent-50        245135  opioid  72 HR fentanyl 0.05 MG/HR Transdermal System
fent-75        197696  opioid  72 HR fentanyl 0.075 MG/HR Transdermal System
fent-100       245136  opioid  72 HR fentanyl 0.1 MG/HR Transdermal System
mtd-5          864718  opioid  methadone hydrochloride 5 MG Oral Tablet
mtd-10         864706  opioid  methadone hydrochloride 10 MG Oral Tablet
tram-50        835603  opioid  tramadol hydrochloride 50 MG Oral Tablet
tram-er-100    833709  opioid  24 HR tramadol hydrochloride 100 MG Extended Release Oral Tablet
tap-50         825411  opioid  tapentadol 50 MG Oral Tablet
tap-er-100     1148797 opioid  12 HR tapentadol 100 MG Extended Release Oral Tablet
bup-patch-5    904882  opioid  168 HR buprenorphine 0.005 MG/HR Transdermal System [BuTrans]
bup-patch-10   904874  opioid  168 HR buprenorphine 0.01 MG/HR Transdermal System [BuTrans]
bup-patch-20   904878  opioid  168 HR buprenorphine 0.02 MG/HR Transdermal System [BuTrans]
# Buprenorphine/naloxone for OUD (Suboxone film)
bup-nx-8       1010606 moud    buprenorphine 8 MG / naloxone 2 MG Sublingual Film [Suboxone]
bup-nx-2       1010603 moud    buprenorphine 2 MG / naloxone 0.5 MG Sublingual Film [Suboxone]
# Benzodiazepines (CDC benzodiazepine-medications)
alprazolam-0.5 308048  benzodiazepine alprazolam 0.5 MG Oral Tablet
alprazolam-1   197321  benzodiazepine alprazolam 1 MG Oral Tablet
lorazepam-1    197901  benzodiazepine lorazepam 1 MG Oral Tablet
clonazepam-0.5 197527  benzodiazepine clonazepam 0.5 MG Oral Tablet
clonazepam-1   197528  benzodiazepine clonazepam 1 MG Oral Tablet
diazepam-5     197591  benzodiazepine diazepam 5 MG Oral Tablet
# Z-drug (CDC cns-depressant-medications)
zolpidem-10    854873  z-drug  zolpidem tartrate 10 MG Oral Tablet
# Gabapentinoids (RxNorm SCDs; in VSAC lists without names)
gabapentin-300 310431  gabapentinoid gabapentin 300 MG Oral Capsule
pregabalin-75  483450  gabapentinoid pregabalin 75 MG Oral Capsule
pregabalin-150 483440  gabapentinoid pregabalin 150 MG Oral Capsule
# Muscle relaxants (carisoprodol 197446: COSRI Carisoprodol value set)
carisoprodol-350 197446  muscle-relaxant carisoprodol 350 MG Oral Tablet
cyclobenzaprine-10 828348  muscle-relaxant cyclobenzaprine hydrochloride 10 MG Oral Tablet
# Non-opioid analgesics (SNRI, NSAID; in the AHRQ pain management summary value sets)
duloxetine-60  596930  non-opioid duloxetine 60 MG Delayed Release Oral Capsule
naproxen-500   198013  non-opioid naproxen 500 MG Oral Tablet
# Rescue naloxone (CDC naloxone-medications; not buprenorphine/naloxone)
naloxone-4     1725059 naloxone naloxone hydrochloride 40 MG/ML Nasal Spray
narcan-4       1725064 naloxone naloxone hydrochloride 40 MG/ML Nasal Spray [Narcan]
"""


def _unit(display: str) -> tuple[str, str]:
    """Dispensing unit and its UCUM annotation, from the RxNorm dose form in the name."""
    for form, unit in (
        ("Transdermal System", ("patch", "{patch}")),
        ("Sublingual Film", ("film", "{film}")),
        ("Oral Capsule", ("capsule", "{cap}")),
        ("Nasal Spray", ("package", "{package}")),
    ):
        if form in display:
            return unit
    return ("tablet", "{tbl}")


def _parse_drugs(table: str) -> tuple[Drug, ...]:
    rows = []
    for line in table.strip().splitlines():
        if line.startswith("#"):
            continue
        key, rxcui, kind, display = line.split(maxsplit=3)
        unit, ucum = _unit(display)
        rows.append(Drug(key, rxcui, display, unit, ucum, kind))
    return tuple(rows)


_DRUG_ROWS: tuple[Drug, ...] = _parse_drugs(_DRUG_TABLE)

DRUGS: dict[str, Drug] = {drug.key: drug for drug in _DRUG_ROWS}

#: A code that is not an RxNorm concept: the "unknown code" of the messy charts.
UNKNOWN_RXCUI = "9999991"
UNKNOWN_DRUG_TEXT = "oxycodone 7.5 mg compounded capsule (outside pharmacy)"


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A problem-list condition coded in ICD-10-CM and SNOMED CT."""

    key: str
    icd10: str
    icd10_display: str
    snomed: str | None
    snomed_display: str | None


_DIAGNOSIS_ROWS: tuple[Diagnosis, ...] = (
    Diagnosis(
        "chronic-back-pain",
        "M54.50",
        "Low back pain, unspecified",
        "278860009",
        "Chronic low back pain (finding)",
    ),
    Diagnosis("chronic-pain", "G89.29", "Other chronic pain", "82423001", "Chronic pain (finding)"),
    Diagnosis(
        "oa-knee",
        "M17.11",
        "Unilateral primary osteoarthritis, right knee",
        "239873007",
        "Osteoarthritis of knee (disorder)",
    ),
    Diagnosis("fibromyalgia", "M79.7", "Fibromyalgia", "203082005", "Fibromyalgia (disorder)"),
    Diagnosis(
        "neuropathy",
        "G62.9",
        "Polyneuropathy, unspecified",
        "42345000",
        "Polyneuropathy (disorder)",
    ),
    Diagnosis(
        "depression",
        "F33.1",
        "Major depressive disorder, recurrent, moderate",
        "370143000",
        "Major depressive disorder (disorder)",
    ),
    Diagnosis(
        "anxiety",
        "F41.1",
        "Generalized anxiety disorder",
        "21897009",
        "Generalized anxiety disorder (disorder)",
    ),
    Diagnosis(
        "ptsd",
        "F43.10",
        "Post-traumatic stress disorder, unspecified",
        "47505003",
        "Posttraumatic stress disorder (disorder)",
    ),
    Diagnosis(
        "oud",
        "F11.20",
        "Opioid dependence, uncomplicated",
        "75544000",
        "Opioid dependence (disorder)",
    ),
    Diagnosis(
        "sleep-apnea",
        "G47.33",
        "Obstructive sleep apnea (adult) (pediatric)",
        "78275009",
        "Obstructive sleep apnea syndrome (disorder)",
    ),
    Diagnosis(
        "lung-cancer",
        "C34.90",
        "Malignant neoplasm of unspecified part of unspecified bronchus or lung",
        "363358000",
        "Malignant tumor of lung (disorder)",
    ),
    Diagnosis(
        "pancreas-cancer",
        "C25.9",
        "Malignant neoplasm of pancreas, unspecified",
        "363418001",
        "Malignant tumor of pancreas (disorder)",
    ),
    Diagnosis(
        "palliative",
        "Z51.5",
        "Encounter for palliative care",
        "103735009",
        "Palliative care (regime/therapy)",
    ),
    Diagnosis(
        "forearm-fracture",
        "S52.501A",
        "Unspecified fracture of the lower end of right radius, initial encounter",
        None,
        None,
    ),
)

DIAGNOSES: dict[str, Diagnosis] = {row.key: row for row in _DIAGNOSIS_ROWS}


@dataclass(frozen=True, slots=True)
class UdsTest:
    """A urine drug screen LOINC code and the drug targets it detects."""

    key: str
    loinc: str
    display: str


_UDS_ROWS: tuple[UdsTest, ...] = (
    UdsTest("opiates", "19295-5", "Opiates [Presence] in Urine by Screen method"),
    UdsTest("oxycodone", "19642-8", "oxyCODONE [Presence] in Urine by Screen method"),
    UdsTest("fentanyl", "59673-4", "fentaNYL [Presence] in Urine by Screen method"),
    UdsTest("methadone", "19550-3", "Methadone [Presence] in Urine by Screen method"),
    UdsTest("buprenorphine", "93494-3", "Buprenorphine [Presence] in Urine by Screen method"),
    UdsTest("benzodiazepine", "14316-4", "Benzodiazepines [Presence] in Urine by Screen method"),
    UdsTest("cocaine", "14314-9", "Benzoylecgonine [Presence] in Urine by Screen method"),
    UdsTest("cannabinoid", "18282-4", "Cannabinoids [Presence] in Urine by Screen method"),
    UdsTest("amphetamine", "19261-7", "Amphetamines [Presence] in Urine by Screen method"),
    UdsTest("phencyclidine", "19659-2", "Phencyclidine [Presence] in Urine by Screen method"),
    UdsTest(
        "heroin", "19321-9", "6-Monoacetylmorphine (6-MAM) [Presence] in Urine by Screen method"
    ),
    UdsTest("panel-5", "65750-2", "Drugs of abuse 5 panel - Urine by Screen method"),
)

UDS_TESTS: dict[str, UdsTest] = {row.key: row for row in _UDS_ROWS}

#: Analytes of the 5-drug panel, reported as components.
UDS_PANEL_COMPONENTS: tuple[str, ...] = (
    "opiates",
    "cocaine",
    "cannabinoid",
    "amphetamine",
    "phencyclidine",
)

POSITIVE = (SNOMED, "10828004", "Positive (qualifier value)")
NEGATIVE = (SNOMED, "260385009", "Negative (qualifier value)")

# Patient-reported outcomes (codes agreed with the PRO readers).
PEG_TOTAL = "91148-7"
PEG_PAIN = "91145-3"
PEG_ENJOYMENT = "91146-1"
PEG_ACTIVITY = "91147-9"
PHQ9_TOTAL = "44261-6"
PHQ9_TOTAL_DISPLAY = "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"
PHQ9_PANEL = "44249-1"
PHQ9_PANEL_DISPLAY = "PHQ-9 quick depression assessment panel [Reported.PHQ]"
GAD7_TOTAL = "70274-6"
GAD7_TOTAL_DISPLAY = "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]"
GAD7_PANEL = "69737-5"
GAD7_PANEL_DISPLAY = "Generalized anxiety disorder 7 item (GAD-7)"

# Documents.
AGREEMENT_LOINC = "94136-9"
PROGRESS_NOTE_LOINC = "11506-3"
PROGRESS_NOTE_DISPLAY = "Progress note"

# Procedures (CDC pdmp-review-procedure, pdmp-data-reviewed-finding, hospice-procedure,
# opioid-counseling-procedure).
PDMP_REVIEW = (
    "461621000124108",
    "Review of prescription drug monitoring program record (procedure)",
)
PDMP_REVIEWED_FINDING = (
    "461651000124104",
    "Review of prescription drug monitoring program record done (situation)",
)
HOSPICE_ADMISSION = ("305336008", "Admission to hospice (procedure)")
HOSPICE_CARE = ("385763009", "Hospice care (regime/therapy)")
OPIOID_COUNSELING = ("460831000124102", "Counseling about opioid safety (procedure)")

# Encounters (CPT codes from the office-visit value set).
OFFICE_VISIT_CPT = ("99213", "99214")
