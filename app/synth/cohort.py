"""Patient archetypes and the deterministic plan of each synthetic patient.

A plan says what happens to a patient over the two years before the anchor date (regimens as
dose steps, diagnoses, monitoring cadence, a PPACT episode, chart messiness) as day offsets
from the window start. Builders in `medications.py` and `resources.py` turn a plan into FHIR
JSON. Each patient draws from its own `random.Random(f"{seed}-{number}")`, so patient N is the
same whatever the cohort size, and the same seed always gives the same cohort.

Archetypes are listed in the package docstring (`app/synth/__init__.py`); the plan of each is
built in `archetypes.py`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

WINDOW_DAYS = 730  # two years of history before the anchor date


class Archetype(StrEnum):
    """Kinds of patient in the cohort; see the package docstring for each."""

    COMPLEX = "complex-high-risk"
    HIGH_DOSE_ER = "high-dose-er"
    TAPER = "taper"
    ESCALATION = "escalation"
    STABLE_MONITORED = "stable-monitored"
    METHADONE_PAIN = "methadone-pain"
    BUPRENORPHINE_PATCH = "buprenorphine-patch"
    MOUD = "moud"
    TRAMADOL_TAPENTADOL = "tramadol-tapentadol"
    SHORT_COURSE = "short-course"
    CANCER = "excluded-cancer"
    HOSPICE = "excluded-hospice"
    MINOR = "excluded-minor"
    MESSY = "messy-chart"


#: Archetypes of patients 2..N, repeated in this order (patient 1 is always COMPLEX).
ARCHETYPE_CYCLE: tuple[Archetype, ...] = (
    Archetype.HIGH_DOSE_ER,
    Archetype.TAPER,
    Archetype.STABLE_MONITORED,
    Archetype.ESCALATION,
    Archetype.MOUD,
    Archetype.METHADONE_PAIN,
    Archetype.BUPRENORPHINE_PATCH,
    Archetype.SHORT_COURSE,
    Archetype.CANCER,
    Archetype.HOSPICE,
    Archetype.TRAMADOL_TAPENTADOL,
    Archetype.MESSY,
    Archetype.STABLE_MONITORED,
)
#: The one paediatric patient (age < 18): this patient number takes MINOR instead of the cycle.
MINOR_PATIENT_NUMBER = 15

#: Messy-chart features a plan can switch on (see `medications.py`).
MESSY_FEATURES: tuple[str, ...] = (
    "text-only-sig",
    "contained-medication",
    "medication-reference",
    "unknown-code",
    "entered-in-error",
    "cancelled",
    "prn-max-dose",
    "dose-range",
    "orderable-drug-form",
    "partial-dates",
)

GIVEN_NAMES: tuple[str, ...] = (
    "Avery", "Jordan", "Rowan", "Emerson", "Harper", "Sawyer", "Marlowe", "Ellis", "Peyton",
    "Reese", "Sterling", "Lennon", "Hollis", "Quincy", "Arden", "Blair", "Carson", "Dallas",
)  # fmt: skip

PCPS: tuple[str, ...] = ("ppact-prac-01", "ppact-prac-02", "ppact-prac-03")
URGENT_CARE = "ppact-prac-04"
PAIN_SPECIALIST = "ppact-prac-05"
PSYCHIATRIST = "ppact-prac-06"
ED_PHYSICIAN = "ppact-prac-07"
PPACT_CLINICIAN = "ppact-prac-08"
PPACT_NURSE = "ppact-prac-09"
ONCOLOGIST = "ppact-prac-10"
PHARMACIES: tuple[str, ...] = (
    "ppact-pharm-01",
    "ppact-pharm-02",
    "ppact-pharm-03",
    "ppact-pharm-04",
    "ppact-pharm-05",
)


@dataclass(frozen=True, slots=True)
class DoseStep:
    """One dose of one drug over [start_day, end_day), refilled every `fill_days`."""

    drug: str  # key of codes.DRUGS
    start_day: int
    end_day: int
    units_per_dose: float
    frequency: int
    period: float
    period_unit: str  # UCUM: "h", "d", "wk"
    as_needed: bool = False
    fill_days: int = 30

    @property
    def units_per_day(self) -> float:
        """Dispensing units used per day at the scheduled frequency."""
        period_days = {"h": self.period / 24.0, "d": self.period, "wk": self.period * 7.0}
        return self.units_per_dose * self.frequency / period_days[self.period_unit]


@dataclass(frozen=True, slots=True)
class Regimen:
    """A line of therapy: successive dose steps, who prescribes and where it is filled."""

    key: str
    steps: tuple[DoseStep, ...]
    prescribers: tuple[str, ...]
    pharmacies: tuple[str, ...]
    early_refill_rate: float = 0.0
    statements: bool = False  # MedicationStatement at each medication reconciliation visit


@dataclass(frozen=True, slots=True)
class Person:
    """Who the patient is: number, archetype, made-up name, sex, birth date, PCP."""

    number: int
    archetype: Archetype
    given: str
    gender: str
    birth_date: date
    pcp: str


@dataclass(frozen=True, slots=True)
class PatientPlan:
    """Everything that happens to one synthetic patient, as day offsets from window start."""

    person: Person
    diagnoses: tuple[tuple[str, int], ...]  # (diagnosis key, onset day; < 0 before the window)
    regimens: tuple[Regimen, ...]
    visit_interval_days: int | None = 90
    telehealth_rate: float = 0.25
    uds_interval_days: int | None = None
    unexpected_uds: tuple[str, ...] = ()  # "positive:<target>" / "negative:<target>" in turn
    pdmp_interval_days: int | None = None
    agreement_days: tuple[int, ...] = ()
    pro_interval_days: int | None = None
    episode: tuple[int, int | None] | None = None  # PPACT (start day, end day or ongoing)
    naloxone_days: tuple[int, ...] = ()
    hospice_day: int | None = None
    messy: frozenset[str] = field(default_factory=frozenset)
    referrals: tuple[tuple[str, int, str], ...] = ()  # (treatments.REFERRALS key, day, status)
    non_opioid: tuple[str, int] | None = None  # (non-opioid drug key, day ordered)

    @property
    def number(self) -> int:
        return self.person.number

    @property
    def archetype(self) -> Archetype:
        return self.person.archetype

    @property
    def patient_id(self) -> str:
        return patient_id(self.person.number)


def patient_id(number: int) -> str:
    """Stable FHIR id of patient `number` (1-based): ``ppact-0001``."""
    return f"ppact-{number:04d}"


def window_start(anchor: date) -> date:
    """First day of the two-year history that ends the day before `anchor`."""
    return anchor - timedelta(days=WINDOW_DAYS)


def archetype_for(number: int) -> Archetype:
    """Archetype of patient `number` (1-based); deterministic, independent of the seed."""
    if number == 1:
        return Archetype.COMPLEX
    if number == MINOR_PATIENT_NUMBER:
        return Archetype.MINOR
    return ARCHETYPE_CYCLE[(number - 2) % len(ARCHETYPE_CYCLE)]


def patient_rng(seed: int, number: int) -> random.Random:
    """The random stream of one patient (string seeds hash with SHA-512: stable across runs)."""
    return random.Random(f"ppact-synth-{seed}-{number}")  # noqa: S311 - test data, not secrets
