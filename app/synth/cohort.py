"""Patient archetypes and the deterministic plan of each synthetic patient.

A plan says what happens to a patient over the two years before the anchor date (regimens as
dose steps, diagnoses, monitoring cadence, a PPACT episode, chart messiness) as day offsets
from the window start. Builders in `medications.py` and `resources.py` turn a plan into FHIR
JSON. Each patient draws from its own `random.Random(f"{seed}-{number}")`, so patient N is the
same whatever the cohort size, and the same seed always gives the same cohort.

Archetypes are listed in the package docstring (`app/synth/__init__.py`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
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


def build_plan(number: int, *, seed: int, anchor: date) -> PatientPlan:
    """Plan of patient `number` for `seed`, with history ending the day before `anchor`."""
    rng = patient_rng(seed, number)
    archetype = archetype_for(number)
    builder = _BUILDERS[archetype]
    return builder(number, rng, anchor)


# --------------------------------------------------------------------------- helpers


def _birth_date(rng: random.Random, anchor: date, *, age_low: int, age_high: int) -> date:
    age_years = rng.randint(age_low, age_high)
    return anchor - timedelta(days=age_years * 365 + rng.randint(30, 330))


def _adult_birth_date(rng: random.Random, anchor: date) -> date:
    # About a third of adults are 65 or older, as in primary-care COT panels.
    if rng.random() < 0.33:
        return _birth_date(rng, anchor, age_low=65, age_high=84)
    return _birth_date(rng, anchor, age_low=28, age_high=63)


def _step(
    drug: str,
    start_day: int,
    end_day: int,
    units: float,
    frequency: int,
    period: float,
    period_unit: str = "h",
    *,
    as_needed: bool = False,
    fill_days: int = 30,
) -> DoseStep:
    return DoseStep(
        drug, start_day, end_day, units, frequency, period, period_unit, as_needed, fill_days
    )


def _person(number: int, archetype: Archetype, rng: random.Random, anchor: date) -> Person:
    return Person(
        number=number,
        archetype=archetype,
        given=GIVEN_NAMES[(number - 1) % len(GIVEN_NAMES)],
        gender=rng.choice(("female", "male")),
        birth_date=_adult_birth_date(rng, anchor),
        pcp=PCPS[(number - 1) % len(PCPS)],
    )


def _sprinkle_messy(rng: random.Random, rate: float = 0.25) -> frozenset[str]:
    """At most one messy feature, for about a quarter of the patients who can have one."""
    # The unknown RxNorm code stays in the messy-chart archetype: elsewhere it would make
    # otherwise clean patients' MME incomplete.
    if rng.random() < rate:
        return frozenset({rng.choice([f for f in MESSY_FEATURES if f != "unknown-code"])})
    return frozenset()


def _pain_diagnoses(rng: random.Random, count: int) -> list[tuple[str, int]]:
    keys = ["chronic-back-pain", "oa-knee", "fibromyalgia", "neuropathy", "chronic-pain"]
    rng.shuffle(keys)
    return [(key, -rng.randint(200, 3000)) for key in keys[:count]]


# --------------------------------------------------------------------------- archetypes


def _complex(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    pcp = PCPS[0]
    three = PHARMACIES[:3]
    regimens = (
        Regimen(
            "fentanyl",
            (
                _step("fent-25", 0, 240, 1, 1, 72),
                _step("fent-50", 240, 480, 1, 1, 72),
                _step("fent-75", 480, WINDOW_DAYS, 1, 1, 72),
            ),
            (pcp, PAIN_SPECIALIST),
            three,
            early_refill_rate=0.15,
            statements=True,
        ),
        Regimen(
            "oxycodone-ir",
            (
                _step("oxy-ir-15", 0, 180, 1, 1, 6, as_needed=True),
                _step("oxy-ir-30", 180, WINDOW_DAYS, 1, 1, 6, fill_days=15),
            ),
            (pcp, URGENT_CARE, PAIN_SPECIALIST),
            three,
            early_refill_rate=0.3,
            statements=True,
        ),
        Regimen(
            "benzodiazepine",
            (_step("alprazolam-1", 0, WINDOW_DAYS, 1, 3, 1, "d"),),
            (PSYCHIATRIST,),
            three,
            early_refill_rate=0.1,
            statements=True,
        ),
        Regimen(
            "gabapentinoid",
            (_step("gabapentin-300", 0, WINDOW_DAYS, 3, 3, 1, "d"),),
            (pcp,),
            three,
            statements=True,
        ),
        Regimen(
            "muscle-relaxant",
            (_step("carisoprodol-350", 150, WINDOW_DAYS, 1, 3, 1, "d"),),
            (URGENT_CARE, pcp),
            three,
            early_refill_rate=0.2,
            statements=True,
        ),
        Regimen(
            "z-drug",
            (_step("zolpidem-10", 0, WINDOW_DAYS, 1, 1, 1, "d"),),
            (PSYCHIATRIST,),
            three,
            statements=True,
        ),
    )
    return PatientPlan(
        person=Person(
            number=number,
            archetype=Archetype.COMPLEX,
            given=GIVEN_NAMES[(number - 1) % len(GIVEN_NAMES)],
            gender="female",
            birth_date=_birth_date(rng, anchor, age_low=58, age_high=58),
            pcp=pcp,
        ),
        diagnoses=(
            ("chronic-back-pain", -2900),
            ("fibromyalgia", -2100),
            ("chronic-pain", -2900),
            ("depression", -1800),
            ("anxiety", -1800),
            ("ptsd", -1500),
            ("sleep-apnea", 210),
        ),
        regimens=regimens,
        visit_interval_days=30,
        telehealth_rate=0.3,
        uds_interval_days=150,
        unexpected_uds=("positive:cannabinoid", "negative:oxycodone", "positive:cocaine"),
        pdmp_interval_days=200,
        agreement_days=(20,),
        pro_interval_days=90,
        episode=(560, 680),
        naloxone_days=(),
        messy=frozenset({"entered-in-error", "prn-max-dose"}),
    )


def _high_dose_er(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    person = _person(number, Archetype.HIGH_DOSE_ER, rng, anchor)
    pcp = person.pcp
    if rng.random() < 0.5:
        er = Regimen(
            "oxycodone-er",
            (_step("oxy-er-30", 0, 300, 1, 1, 12), _step("oxy-er-60", 300, WINDOW_DAYS, 1, 1, 12)),
            (pcp,),
            (PHARMACIES[0],),
        )
        ir_drug = "oxy-ir-10"
    else:
        er = Regimen(
            "morphine-er",
            (_step("mor-er-30", 0, 250, 1, 1, 12), _step("mor-er-60", 250, WINDOW_DAYS, 1, 1, 12)),
            (pcp,),
            (PHARMACIES[1],),
        )
        ir_drug = "hm-4"
    ir = Regimen(
        "breakthrough",
        (_step(ir_drug, 0, WINDOW_DAYS, 1, 1, 6, as_needed=True),),
        (pcp,),
        (PHARMACIES[0], PHARMACIES[1]),
        early_refill_rate=0.1,
    )
    regimens: list[Regimen] = [er, ir]
    if rng.random() < 0.5:
        benzo = rng.choice(("lorazepam-1", "clonazepam-0.5", "diazepam-5"))
        regimens.append(
            Regimen(
                "benzodiazepine",
                (_step(benzo, 0, WINDOW_DAYS, 1, 2, 1, "d"),),
                (PSYCHIATRIST,),
                (PHARMACIES[0],),
            )
        )
    episode: tuple[int, int | None] | None = None
    if rng.random() < 0.5:
        start = rng.randint(300, 560)
        episode = (start, start + rng.randint(110, 130))
    return PatientPlan(
        person=person,
        diagnoses=(*_pain_diagnoses(rng, 2), ("depression", -rng.randint(100, 2000))),
        regimens=tuple(regimens),
        visit_interval_days=60,
        uds_interval_days=rng.choice((180, 365)),
        unexpected_uds=("positive:cannabinoid",) if rng.random() < 0.3 else (),
        pdmp_interval_days=rng.choice((90, 180)),
        agreement_days=(rng.randint(10, 60), rng.randint(400, 430)),
        pro_interval_days=180,
        episode=episode,
        naloxone_days=(rng.randint(30, 200),) if rng.random() < 0.5 else (),
        messy=_sprinkle_messy(rng),
    )


def _taper(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    person = _person(number, Archetype.TAPER, rng, anchor)
    pcp = person.pcp
    er = Regimen(
        "morphine-er",
        (
            _step("mor-er-60", 0, 180, 1, 1, 12),
            _step("mor-er-30", 180, 300, 1, 1, 12),
            _step("mor-er-15", 300, 420, 1, 1, 12),
            _step("mor-er-15", 420, 540, 1, 1, 1, "d"),
        ),
        (pcp,),
        (PHARMACIES[2],),
    )
    ir = Regimen(
        "morphine-ir",
        (
            _step("mor-ir-15", 0, 240, 1, 4, 1, "d", as_needed=True),
            _step("mor-ir-15", 240, 540, 1, 2, 1, "d", as_needed=True),
            _step("mor-ir-15", 540, WINDOW_DAYS, 1, 1, 1, "d", as_needed=True),
        ),
        (pcp,),
        (PHARMACIES[2],),
    )
    ongoing = rng.random() < 0.5
    start = rng.randint(640, 680) if ongoing else rng.randint(250, 400)
    episode: tuple[int, int | None] = (start, None) if ongoing else (start, start + 120)
    return PatientPlan(
        person=person,
        diagnoses=(*_pain_diagnoses(rng, 2), ("anxiety", -rng.randint(100, 2000))),
        regimens=(er, ir),
        visit_interval_days=45,
        uds_interval_days=180,
        pdmp_interval_days=90,
        agreement_days=(15, 380),
        pro_interval_days=120,
        episode=episode,
        naloxone_days=(40, 420),
        messy=_sprinkle_messy(rng),
    )


def _escalation(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    person = _person(number, Archetype.ESCALATION, rng, anchor)
    pcp = person.pcp
    ir = Regimen(
        "short-acting",
        (
            _step("hc-apap-5", 0, 150, 1, 3, 1, "d"),
            _step("hc-apap-10", 150, 330, 1, 4, 1, "d"),
            _step("oxy-ir-10", 330, WINDOW_DAYS, 1, 4, 1, "d"),
        ),
        (pcp, URGENT_CARE),
        (PHARMACIES[3], PHARMACIES[4]),
        early_refill_rate=0.15,
    )
    er = Regimen(
        "oxycodone-er",
        (_step("oxy-er-15", 480, 600, 1, 1, 12), _step("oxy-er-30", 600, WINDOW_DAYS, 1, 1, 12)),
        (pcp,),
        (PHARMACIES[3],),
    )
    regimens = [ir, er]
    if rng.random() < 0.5:
        regimens.append(
            Regimen(
                "gabapentinoid",
                (_step("pregabalin-75", 200, WINDOW_DAYS, 1, 2, 1, "d"),),
                (pcp,),
                (PHARMACIES[3],),
            )
        )
    return PatientPlan(
        person=person,
        diagnoses=tuple(_pain_diagnoses(rng, 2)),
        regimens=tuple(regimens),
        visit_interval_days=90,
        uds_interval_days=365 if rng.random() < 0.5 else None,
        pdmp_interval_days=365 if rng.random() < 0.5 else None,
        agreement_days=(100,) if rng.random() < 0.5 else (),
        pro_interval_days=None,
        messy=_sprinkle_messy(rng),
    )


def _stable_monitored(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    person = _person(number, Archetype.STABLE_MONITORED, rng, anchor)
    pcp = person.pcp
    drug, units, frequency = rng.choice(
        (("hc-apap-10", 1, 3), ("tram-50", 1, 4), ("oxy-ir-5", 1, 3), ("hc-apap-7.5", 1, 2))
    )
    regimen = Regimen(
        "opioid",
        (_step(drug, 0, WINDOW_DAYS, units, frequency, 1, "d"),),
        (pcp,),
        (PHARMACIES[(number - 1) % len(PHARMACIES)],),
    )
    return PatientPlan(
        person=person,
        diagnoses=tuple(_pain_diagnoses(rng, 1)),
        regimens=(regimen,),
        visit_interval_days=90,
        telehealth_rate=0.2,
        uds_interval_days=180,
        pdmp_interval_days=85,
        agreement_days=(5, 360, 715),
        pro_interval_days=150,
        naloxone_days=(25, 400),
    )


def _methadone_pain(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    person = _person(number, Archetype.METHADONE_PAIN, rng, anchor)
    pcp = person.pcp
    regimens = [
        Regimen(
            "methadone",
            (
                _step("mtd-5", 0, 120, 1, 3, 1, "d"),
                _step("mtd-10", 120, WINDOW_DAYS, 1, 3, 1, "d"),
            ),
            (pcp,),
            (PHARMACIES[1],),
        )
    ]
    if rng.random() < 0.5:
        regimens.append(
            Regimen(
                "benzodiazepine",
                (_step("clonazepam-1", 60, WINDOW_DAYS, 1, 2, 1, "d"),),
                (PSYCHIATRIST,),
                (PHARMACIES[1],),
            )
        )
    return PatientPlan(
        person=person,
        diagnoses=(*_pain_diagnoses(rng, 2), ("ptsd", -rng.randint(300, 3000))),
        regimens=tuple(regimens),
        visit_interval_days=60,
        uds_interval_days=240,
        pdmp_interval_days=120,
        agreement_days=(30, 420),
        pro_interval_days=180,
        naloxone_days=(90,),
        messy=_sprinkle_messy(rng),
    )


def _buprenorphine_patch(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    person = _person(number, Archetype.BUPRENORPHINE_PATCH, rng, anchor)
    pcp = person.pcp
    regimen = Regimen(
        "buprenorphine-patch",
        (
            _step("bup-patch-5", 0, 90, 1, 1, 1, "wk", fill_days=28),
            _step("bup-patch-10", 90, 400, 1, 1, 1, "wk", fill_days=28),
            _step("bup-patch-20", 400, WINDOW_DAYS, 1, 1, 1, "wk", fill_days=28),
        ),
        (pcp,),
        (PHARMACIES[4],),
    )
    return PatientPlan(
        person=person,
        diagnoses=tuple(_pain_diagnoses(rng, 2)),
        regimens=(regimen,),
        visit_interval_days=90,
        uds_interval_days=365,
        pdmp_interval_days=180,
        agreement_days=(10, 390),
        pro_interval_days=180,
        messy=_sprinkle_messy(rng),
    )


def _moud(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    person = _person(number, Archetype.MOUD, rng, anchor)
    pcp = person.pcp
    start = rng.randint(60, 200)
    regimen = Regimen(
        "buprenorphine-naloxone",
        (
            _step("bup-nx-8", start, start + 28, 1, 2, 1, "d", fill_days=7),
            _step("bup-nx-8", start + 28, WINDOW_DAYS, 1, 2, 1, "d", fill_days=30),
        ),
        (pcp,),
        (PHARMACIES[0],),
    )
    prior = Regimen(
        "prior-opioid",
        (_step("oxy-ir-10", 0, start, 1, 4, 1, "d"),),
        (URGENT_CARE, ED_PHYSICIAN),
        (PHARMACIES[1], PHARMACIES[2]),
        early_refill_rate=0.4,
    )
    return PatientPlan(
        person=person,
        diagnoses=(("oud", start - 5), ("chronic-back-pain", -rng.randint(500, 3000))),
        regimens=(prior, regimen),
        visit_interval_days=30,
        uds_interval_days=60,
        unexpected_uds=("positive:cocaine",) if rng.random() < 0.5 else (),
        pdmp_interval_days=90,
        agreement_days=(start,),
        pro_interval_days=None,
        naloxone_days=(start, start + 365),
        messy=_sprinkle_messy(rng),
    )


def _tramadol_tapentadol(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    person = _person(number, Archetype.TRAMADOL_TAPENTADOL, rng, anchor)
    pcp = person.pcp
    if rng.random() < 0.5:
        steps = (
            _step("tram-50", 0, 200, 1, 4, 1, "d"),
            _step("tram-er-100", 200, WINDOW_DAYS, 2, 1, 1, "d"),
        )
    else:
        steps = (
            _step("tap-50", 0, 200, 1, 4, 1, "d"),
            _step("tap-er-100", 200, WINDOW_DAYS, 1, 1, 12),
        )
    regimens = [Regimen("opioid", steps, (pcp,), (PHARMACIES[2],))]
    if rng.random() < 0.5:
        regimens.append(
            Regimen(
                "muscle-relaxant",
                (_step("cyclobenzaprine-10", 0, 400, 1, 3, 1, "d", as_needed=True),),
                (pcp,),
                (PHARMACIES[2],),
            )
        )
    return PatientPlan(
        person=person,
        diagnoses=tuple(_pain_diagnoses(rng, 2)),
        regimens=tuple(regimens),
        visit_interval_days=120,
        uds_interval_days=365 if rng.random() < 0.6 else None,
        pdmp_interval_days=180,
        agreement_days=(50,),
        pro_interval_days=None,
        messy=_sprinkle_messy(rng),
    )


def _short_course(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    person = _person(number, Archetype.SHORT_COURSE, rng, anchor)
    pcp = person.pcp
    courses: list[DoseStep] = []
    day = rng.randint(20, 200)
    for _ in range(rng.randint(1, 3)):
        length = rng.choice((3, 5, 7))
        drug = rng.choice(("hc-apap-5", "oxy-ir-5", "tram-50"))
        courses.append(_step(drug, day, day + length, 1, 1, 6, as_needed=True, fill_days=length))
        day += rng.randint(150, 250)
    regimens = tuple(
        Regimen(f"course-{index + 1}", (step,), (rng.choice((pcp, URGENT_CARE)),), (PHARMACIES[3],))
        for index, step in enumerate(courses)
        if step.end_day < WINDOW_DAYS
    )
    return PatientPlan(
        person=person,
        diagnoses=(("oa-knee", -rng.randint(100, 1000)),),
        regimens=regimens,
        visit_interval_days=180,
        messy=_sprinkle_messy(rng),
    )


def _cancer(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    person = _person(number, Archetype.CANCER, rng, anchor)
    regimens = (
        Regimen(
            "oxycodone-er",
            (_step("oxy-er-30", 200, WINDOW_DAYS, 1, 1, 12),),
            (ONCOLOGIST,),
            (PHARMACIES[0],),
        ),
        Regimen(
            "oxycodone-ir",
            (_step("oxy-ir-10", 150, WINDOW_DAYS, 1, 1, 4, as_needed=True),),
            (ONCOLOGIST,),
            (PHARMACIES[0],),
        ),
    )
    return PatientPlan(
        person=person,
        diagnoses=(("lung-cancer", 140), ("chronic-pain", 150)),
        regimens=regimens,
        visit_interval_days=60,
        naloxone_days=(210,),
    )


def _hospice(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    person = _person(number, Archetype.HOSPICE, rng, anchor)
    person = replace(person, birth_date=_birth_date(rng, anchor, age_low=70, age_high=88))
    regimens = (
        Regimen(
            "morphine-er",
            (
                _step("mor-er-15", 450, 600, 1, 1, 12),
                _step("mor-er-30", 600, WINDOW_DAYS, 1, 1, 12),
            ),
            (ONCOLOGIST,),
            (PHARMACIES[4],),
        ),
        Regimen(
            "morphine-ir",
            (_step("mor-ir-15", 450, WINDOW_DAYS, 1, 1, 4, as_needed=True),),
            (ONCOLOGIST,),
            (PHARMACIES[4],),
        ),
        Regimen(
            "benzodiazepine",
            (_step("lorazepam-1", 620, WINDOW_DAYS, 1, 1, 8, as_needed=True),),
            (ONCOLOGIST,),
            (PHARMACIES[4],),
        ),
    )
    return PatientPlan(
        person=person,
        diagnoses=(("pancreas-cancer", 430), ("palliative", 640)),
        regimens=regimens,
        visit_interval_days=45,
        hospice_day=650,
    )


def _minor(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    person = _person(number, Archetype.MINOR, rng, anchor)
    person = replace(person, birth_date=_birth_date(rng, anchor, age_low=16, age_high=16))
    day = rng.randint(500, 650)
    regimen = Regimen(
        "fracture-course",
        (_step("hc-apap-5", day, day + 5, 1, 1, 6, as_needed=True, fill_days=5),),
        (ED_PHYSICIAN,),
        (PHARMACIES[0],),
    )
    return PatientPlan(
        person=person,
        diagnoses=(("forearm-fracture", day),),
        regimens=(regimen,),
        visit_interval_days=365,
    )


def _messy(number: int, rng: random.Random, anchor: date) -> PatientPlan:
    person = _person(number, Archetype.MESSY, rng, anchor)
    pcp = person.pcp
    regimens = (
        Regimen(
            "hydrocodone",
            (_step("hc-apap-10", 0, WINDOW_DAYS, 1, 1, 6, as_needed=True),),
            (pcp, URGENT_CARE),
            (PHARMACIES[0], PHARMACIES[3]),
            early_refill_rate=0.2,
            statements=True,
        ),
        Regimen(
            "oxycodone",
            (_step("oxy-ir-5", 300, WINDOW_DAYS, 1, 1, 8, as_needed=True),),
            (PAIN_SPECIALIST,),
            (PHARMACIES[3],),
        ),
        Regimen(
            "muscle-relaxant",
            (_step("cyclobenzaprine-10", 100, WINDOW_DAYS, 1, 1, 1, "d"),),
            (pcp,),
            (PHARMACIES[0],),
            statements=True,
        ),
    )
    return PatientPlan(
        person=person,
        diagnoses=(*_pain_diagnoses(rng, 2), ("depression", -rng.randint(100, 900))),
        regimens=regimens,
        visit_interval_days=75,
        uds_interval_days=365,
        unexpected_uds=("positive:benzodiazepine",),
        pdmp_interval_days=365,
        agreement_days=(60,),
        pro_interval_days=200,
        messy=frozenset(MESSY_FEATURES),
    )


_BUILDERS = {
    Archetype.COMPLEX: _complex,
    Archetype.HIGH_DOSE_ER: _high_dose_er,
    Archetype.TAPER: _taper,
    Archetype.ESCALATION: _escalation,
    Archetype.STABLE_MONITORED: _stable_monitored,
    Archetype.METHADONE_PAIN: _methadone_pain,
    Archetype.BUPRENORPHINE_PATCH: _buprenorphine_patch,
    Archetype.MOUD: _moud,
    Archetype.TRAMADOL_TAPENTADOL: _tramadol_tapentadol,
    Archetype.SHORT_COURSE: _short_course,
    Archetype.CANCER: _cancer,
    Archetype.HOSPICE: _hospice,
    Archetype.MINOR: _minor,
    Archetype.MESSY: _messy,
}
