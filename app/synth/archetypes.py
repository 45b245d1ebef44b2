"""One plan builder per archetype: what two years of chronic opioid therapy look like.

Regimens, doses and monitoring cadences are modelled on the situations the PPACT and Six
Building Blocks programs describe (high dose with sedatives, tapers, escalation, MOUD, stable
well-monitored patients, exclusions for cancer, hospice and age). Day offsets count from
`cohort.window_start(anchor)`; all randomness comes from the patient's own stream.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta

from app.synth.cohort import (
    ED_PHYSICIAN,
    GIVEN_NAMES,
    MESSY_FEATURES,
    ONCOLOGIST,
    PAIN_SPECIALIST,
    PCPS,
    PHARMACIES,
    PSYCHIATRIST,
    URGENT_CARE,
    WINDOW_DAYS,
    Archetype,
    DoseStep,
    PatientPlan,
    Person,
    Regimen,
    archetype_for,
    patient_rng,
)


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
        referrals=(
            ("physical-therapy", 590, "completed"),
            ("cbt-chronic-pain", 600, "active"),
            ("pain-psychology", 640, "active"),
        ),
        non_opioid=("duloxetine-60", 620),
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
        referrals=(("cbt-chronic-pain", 610, "active"),),
        non_opioid=("duloxetine-60", 600),
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
        referrals=(("pain-psychology", 660, "active"),),
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
        referrals=(("physical-therapy", 640, "completed"),),
        non_opioid=("naproxen-500", 650),
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
