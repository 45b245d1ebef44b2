"""Plain records the clinical core works on, and the findings it returns.

Everything here is a frozen dataclass built from FHIR R4 JSON by `chart.py` and
`medications.py`. The core never sees a dict or a network: the edges (FHIR client, CDS
prefetch, CLI bundle reader) turn JSON into these records, and every surface (summary,
dashboard, CDS cards, registry) reads the same records through the same rules.

Messy data is never an exception: a record that could not be read fully carries
`notes` saying what was wrong, and is kept.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD9CM = "http://hl7.org/fhir/sid/icd-9-cm"
CPT = "http://www.ama-assn.org/go/cpt"

#: Aliases seen in real charts (OIDs, WHO ICD URIs, a trailing slash) for the code systems the
#: value sets use.
SYSTEM_ALIASES: dict[str, str] = {
    "urn:oid:2.16.840.1.113883.6.88": RXNORM,
    RXNORM + "/": RXNORM,
    "urn:oid:2.16.840.1.113883.6.90": ICD10CM,
    "http://hl7.org/fhir/sid/icd-10": ICD10CM,
    "urn:oid:2.16.840.1.113883.6.103": ICD9CM,
    "http://hl7.org/fhir/sid/icd-9": ICD9CM,
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "urn:oid:2.16.840.1.113883.6.1": LOINC,
    "urn:oid:2.16.840.1.113883.6.12": CPT,
}


def normalise_system(system: str) -> str:
    """Map a known alias of a code-system URI to the URI the value sets use."""
    system = system.strip()
    return SYSTEM_ALIASES.get(system, system)


#: As-of dates the core accepts. Lookbacks and horizons add years to the as-of date, so the
#: edges (CLI flags, page query parameters) refuse dates outside this range.
AS_OF_MIN = date(1900, 1, 1)
AS_OF_MAX = date(2999, 12, 31)


@dataclass(frozen=True, slots=True)
class Code:
    """One Coding: system + code (+ display). Systems are compared as given."""

    system: str
    code: str
    display: str | None = None


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value with the unit as the chart wrote it (`unit`) and its code (`code`)."""

    value: float
    unit: str | None = None
    code: str | None = None
    system: str | None = None


# --------------------------------------------------------------------------- terminology


class DrugClass(StrEnum):
    """Classes a medication can fall into (a combination product can have several)."""

    OPIOID_ANALGESIC = "opioid-analgesic"
    BUPRENORPHINE_MOUD = "buprenorphine-moud"  # buprenorphine for opioid use disorder
    BUPRENORPHINE_PAIN = "buprenorphine-pain"  # transdermal patch, buccal film w/o naloxone
    METHADONE_MOUD = "methadone-moud"  # OTP formulations (dispersible 40 mg, concentrate)
    BENZODIAZEPINE = "benzodiazepine"
    GABAPENTINOID = "gabapentinoid"
    Z_DRUG = "z-drug"  # zolpidem, zaleplon, eszopiclone and other sleep agents
    MUSCLE_RELAXANT = "muscle-relaxant"  # incl. carisoprodol
    BARBITURATE = "barbiturate"
    OTHER_CNS_DEPRESSANT = "other-cns-depressant"
    NALOXONE = "naloxone"  # rescue naloxone / nalmefene (not buprenorphine/naloxone)
    STIMULANT = "stimulant"


#: Classes that count as "other CNS depressants" for co-prescribing rules.
CNS_DEPRESSANT_SUBCLASSES: frozenset[DrugClass] = frozenset(
    {
        DrugClass.GABAPENTINOID,
        DrugClass.Z_DRUG,
        DrugClass.MUSCLE_RELAXANT,
        DrugClass.BARBITURATE,
        DrugClass.OTHER_CNS_DEPRESSANT,
    }
)


class ClassSource(StrEnum):
    """Where a classification came from; shown to the user and kept for audit."""

    CODE_LIST = "code-list"  # exact system+code in a vendored value set
    INGREDIENT_CODE = "ingredient-code"  # ingredient-level RxCUI mapped via the OMTK table
    NAME = "name"  # ingredient name found in the RxNorm display / text
    UNKNOWN = "unknown"  # no code list or name matched


@dataclass(frozen=True, slots=True)
class Classification:
    """What a medication is, and how we know."""

    classes: frozenset[DrugClass] = frozenset()
    long_acting: bool = False
    source: ClassSource = ClassSource.UNKNOWN
    rxcui: str | None = None  # the RxNorm code that matched, if any
    ingredients: tuple[str, ...] = ()  # ingredient names, lower case
    value_sets: tuple[str, ...] = ()  # names of the vendored value sets that matched

    @property
    def is_opioid(self) -> bool:
        """Opioid analgesic or buprenorphine/methadone of any use."""
        return bool(
            self.classes
            & {
                DrugClass.OPIOID_ANALGESIC,
                DrugClass.BUPRENORPHINE_MOUD,
                DrugClass.BUPRENORPHINE_PAIN,
                DrugClass.METHADONE_MOUD,
            }
        )

    @property
    def is_known(self) -> bool:
        return self.source is not ClassSource.UNKNOWN


class ConditionGroup(StrEnum):
    """Clinical groups a condition code can belong to (from CDC and VSAC value sets)."""

    DEPRESSION = "depression"
    ANXIETY = "anxiety"
    PTSD = "ptsd"
    OUD = "oud"
    SUD = "sud"  # any substance use disorder, OUD included
    SLEEP_DISORDERED_BREATHING = "sleep-disordered-breathing"
    OVERDOSE = "overdose"
    SUICIDE_ATTEMPT = "suicide-attempt"
    CANCER = "cancer"
    TERMINAL = "terminal"  # conditions likely terminal / limited life expectancy
    HOSPICE = "hospice"  # hospice or palliative care finding/procedure
    SICKLE_CELL = "sickle-cell"
    PREGNANCY = "pregnancy"
    CHRONIC_PAIN = "chronic-pain"
    KIDNEY_FAILURE = "kidney-failure"
    LIVER_DISEASE = "liver-disease"


# --------------------------------------------------------------------------- medications


class MedicationKind(StrEnum):
    REQUEST = "MedicationRequest"
    DISPENSE = "MedicationDispense"
    STATEMENT = "MedicationStatement"


@dataclass(frozen=True, slots=True)
class DoseInstruction:
    """One FHIR Dosage, reduced to what MME and supply computations need.

    Frequencies are as written; `sig.py` turns them into administrations per day.
    """

    sequence: int | None = None
    text: str | None = None
    dose: Quantity | None = None  # doseQuantity, or the chosen doseAndRate entry
    dose_low: Quantity | None = None  # doseRange.low
    dose_high: Quantity | None = None  # doseRange.high
    frequency: float | None = None
    frequency_max: float | None = None
    period: float | None = None
    period_max: float | None = None
    period_unit: str | None = None  # UCUM s|min|h|d|wk|mo|a as written
    timing_code: str | None = None  # e.g. BID, TID, Q6H
    when_count: int = 0  # distinct timing.repeat.when codes
    time_of_day_count: int = 0
    as_needed: bool = False
    max_dose_per_period: Quantity | None = None  # numerator of maxDosePerPeriod
    max_dose_period_days: float | None = None  # denominator converted to days
    bounds_start: date | None = None
    bounds_end: date | None = None


@dataclass(frozen=True, slots=True)
class MedicationRecord:
    """A MedicationRequest, MedicationDispense or MedicationStatement, normalised.

    `ref` is "ResourceType/id" (used as evidence). `notes` hold every data problem met
    while reading it (text-only sig, unresolved reference, units spelled oddly ...).
    """

    ref: str
    kind: MedicationKind
    codes: tuple[Code, ...] = ()
    text: str | None = None  # medication text or best display
    classification: Classification = field(default_factory=Classification)
    status: str | None = None
    intent: str | None = None
    categories: tuple[str, ...] = ()  # category codes, e.g. community, outpatient
    authored_on: date | None = None
    validity_start: date | None = None
    validity_end: date | None = None
    prescriber: str | None = None  # reference or display of the requester / performer
    prescriber_display: str | None = None
    pharmacy: str | None = None  # dispense performer / location
    dosages: tuple[DoseInstruction, ...] = ()
    sig_text: str | None = None  # joined free-text sig
    dispense_quantity: Quantity | None = None  # dispenseRequest.quantity or dispense quantity
    expected_supply_days: float | None = None  # dispenseRequest.expectedSupplyDuration in days
    repeats_allowed: int | None = None
    handed_over: date | None = None  # dispense whenHandedOver (else whenPrepared)
    days_supply: float | None = None  # dispense daysSupply in days
    effective_start: date | None = None  # statement effective[x]
    effective_end: date | None = None
    authorizing_prescription: str | None = None  # dispense -> "MedicationRequest/id"
    reason_codes: tuple[Code, ...] = ()
    reported: bool = False  # reportedBoolean / patient-reported
    notes: tuple[str, ...] = ()

    @property
    def rxnorm_codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.codes if c.system == RXNORM)

    @property
    def entered_in_error(self) -> bool:
        return self.status == "entered-in-error"


# --------------------------------------------------------------------------- other records


@dataclass(frozen=True, slots=True)
class PatientInfo:
    ref: str
    name: str | None = None
    birth_date: date | None = None
    gender: str | None = None
    mrn: str | None = None
    deceased: bool = False


@dataclass(frozen=True, slots=True)
class ConditionRecord:
    ref: str
    codes: tuple[Code, ...] = ()
    text: str | None = None
    groups: frozenset[ConditionGroup] = frozenset()
    clinical_status: str | None = None  # active, recurrence, relapse, inactive, resolved ...
    verification_status: str | None = None
    categories: tuple[str, ...] = ()  # problem-list-item, encounter-diagnosis, health-concern
    onset: date | None = None
    abatement: date | None = None
    recorded: date | None = None
    notes: tuple[str, ...] = ()

    @property
    def is_active(self) -> bool:
        """Active unless stated otherwise, refuted or entered in error."""
        if self.verification_status in {"refuted", "entered-in-error"}:
            return False
        if self.clinical_status is None:
            return self.abatement is None
        return self.clinical_status in {"active", "recurrence", "relapse"}


@dataclass(frozen=True, slots=True)
class ObservationComponent:
    codes: tuple[Code, ...]
    value_quantity: Quantity | None = None
    value_codes: tuple[Code, ...] = ()
    value_string: str | None = None
    interpretation: tuple[Code, ...] = ()
    reference_high: Quantity | None = None  # referenceRange.high; for a drug test, the cutoff


@dataclass(frozen=True, slots=True)
class ObservationRecord:
    ref: str
    codes: tuple[Code, ...] = ()
    text: str | None = None
    status: str | None = None
    categories: tuple[str, ...] = ()
    effective: date | None = None
    value_quantity: Quantity | None = None
    value_codes: tuple[Code, ...] = ()  # valueCodeableConcept codings
    value_string: str | None = None
    value_boolean: bool | None = None
    interpretation: tuple[Code, ...] = ()
    components: tuple[ObservationComponent, ...] = ()
    has_member: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    reference_high: Quantity | None = None  # referenceRange.high; for a drug test, the cutoff


@dataclass(frozen=True, slots=True)
class QuestionnaireAnswer:
    link_id: str
    codes: tuple[Code, ...] = ()  # item.code
    value: float | None = None  # numeric value or answer-coding ordinal when present
    value_code: Code | None = None
    value_string: str | None = None


@dataclass(frozen=True, slots=True)
class QuestionnaireResponseRecord:
    ref: str
    questionnaire: str | None = None  # canonical URL
    status: str | None = None
    authored: date | None = None
    answers: tuple[QuestionnaireAnswer, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProcedureRecord:
    ref: str
    codes: tuple[Code, ...] = ()
    text: str | None = None
    status: str | None = None
    performed: date | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """DocumentReference: treatment agreements (LOINC 94136-9), progress notes."""

    ref: str
    type_codes: tuple[Code, ...] = ()
    category_codes: tuple[Code, ...] = ()
    text: str | None = None  # type text / description
    status: str | None = None
    doc_status: str | None = None
    date: date | None = None
    period_end: _dt.date | None = None  # context.period.end (agreement expiry when given)
    author: str | None = None
    content_type: str | None = None
    content_text: str | None = None  # decoded text/plain attachment, if small
    content_url: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EncounterRecord:
    ref: str
    status: str | None = None
    class_code: str | None = None  # AMB, IMP, VR ...
    type_codes: tuple[Code, ...] = ()
    reason_codes: tuple[Code, ...] = ()
    start: date | None = None
    end: date | None = None
    participant: str | None = None
    discharge_disposition: tuple[Code, ...] = ()
    text: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceRequestRecord:
    ref: str
    codes: tuple[Code, ...] = ()
    text: str | None = None
    status: str | None = None
    intent: str | None = None
    category_codes: tuple[Code, ...] = ()
    authored_on: date | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EpisodeRecord:
    """An EpisodeOfCare or CarePlan: a PPACT program episode when its type says so."""

    ref: str
    type_codes: tuple[Code, ...] = ()
    text: str | None = None
    status: str | None = None
    start: date | None = None
    end: date | None = None
    notes: tuple[str, ...] = ()
    goal_refs: tuple[str, ...] = ()  # CarePlan.goal: "Goal/id" of the goals it pursues


@dataclass(frozen=True, slots=True)
class GoalRecord:
    """A FHIR R4 Goal: what the patient wants to be able to do, and how far they got.

    `achievement_status` is the code of Goal.achievementStatus (goal-achievement value set:
    in-progress, improving, worsening, no-change, achieved, sustaining, not-achieved,
    no-progress, not-attainable), `achievement_display` its display or text; `status_date` is
    when that status was set (Goal.statusDate). `notes`, as on every record, hold the data
    problems met while reading it; the clinician's notes on the goal are `annotations`.
    """

    ref: str
    description: str | None = None
    description_codes: tuple[Code, ...] = ()
    lifecycle_status: str | None = None
    achievement_status: str | None = None
    achievement_display: str | None = None
    start: date | None = None
    target_due: date | None = None
    status_date: date | None = None
    categories: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()  # Goal.note texts, as written
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Chart:
    """One patient's record as plain data; what every rule reads.

    `problems` lists resources that could not be read at all (wrong type, no id, not a
    dict), each as a sentence, so that nothing vanishes without trace.
    """

    patient: PatientInfo | None = None
    medications: tuple[MedicationRecord, ...] = ()
    conditions: tuple[ConditionRecord, ...] = ()
    observations: tuple[ObservationRecord, ...] = ()
    questionnaire_responses: tuple[QuestionnaireResponseRecord, ...] = ()
    procedures: tuple[ProcedureRecord, ...] = ()
    documents: tuple[DocumentRecord, ...] = ()
    encounters: tuple[EncounterRecord, ...] = ()
    service_requests: tuple[ServiceRequestRecord, ...] = ()
    episodes: tuple[EpisodeRecord, ...] = ()
    problems: tuple[str, ...] = ()
    goals: tuple[GoalRecord, ...] = ()


# --------------------------------------------------------------------------- findings


class Severity(StrEnum):
    """Ordered from most to least urgent; maps to CDS indicators critical/warning/info."""

    HIGH = "high"
    MODERATE = "moderate"
    LOW = "low"
    INFO = "info"


SEVERITY_ORDER: dict[Severity, int] = {
    Severity.HIGH: 0,
    Severity.MODERATE: 1,
    Severity.LOW: 2,
    Severity.INFO: 3,
}


@dataclass(frozen=True, slots=True)
class Citation:
    """A guideline source: short label and URL (e.g. CDC 2022 Recommendation 8)."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One structured finding.

    Args:
        code: stable kebab-case rule id, e.g. ``opioid-benzo-coprescribing``.
        severity: how urgent.
        text: one sentence for a person.
        citation: the guideline it rests on.
        evidence: "ResourceType/id" references the finding rests on.
        data: small structured payload for views (dates, counts, MME) - JSON-safe values.
    """

    code: str
    severity: Severity
    text: str
    citation: Citation
    evidence: tuple[str, ...] = ()
    data: dict[str, object] = field(default_factory=dict, hash=False, compare=False)


# --------------------------------------------------------------------------- MME results


@dataclass(frozen=True, slots=True)
class IngredientMme:
    """MME of one opioid ingredient of one medication."""

    ingredient: str
    daily_amount: float | None  # in `unit`
    unit: str | None  # "mg/d", "ug/d", "ug/h" (patch rate worn)
    factor: float | None
    mme_per_day: float | None


@dataclass(frozen=True, slots=True)
class MmeLine:
    """MME/day of one medication record at the as-of date.

    `mme_per_day` is None when it cannot be computed; it is then never added as 0 and the
    total is marked incomplete. `counted` is False for medications shown separately
    (buprenorphine, methadone for OUD) per CDC 2022 Recommendation 9.
    """

    ref: str
    code: str | None
    display: str | None
    mme_per_day: float | None
    daily_dose: float | None  # opioid amount per day (sum over ingredients, in `unit`)
    unit: str | None
    complete: bool
    counted: bool = True
    long_acting: bool = False
    ingredients: tuple[IngredientMme, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MmeTotal:
    """Total MME/day at `as_of` under one edition of the CDC factors."""

    as_of: date
    edition: str  # "2022" or "2016"
    total_mme: float  # sum of the counted lines that could be computed
    complete: bool
    lines: tuple[MmeLine, ...] = ()  # counted toward the total
    excluded: tuple[MmeLine, ...] = ()  # shown separately, not in the total
    reasons: tuple[str, ...] = ()  # why incomplete, one sentence per medication
