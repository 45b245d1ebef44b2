"""One patient's two years of chart, from plan to a list of FHIR resources.

Visits, fills, screens, checks, agreements, the PPACT episode and its PROs are laid out on the
plan's day offsets, with small jitter drawn from the patient's own event stream
(`random.Random(f"ppact-synth-events-{seed}-{number}")`); the episode's goals come from their
own stream (`goals.py`), so they change nothing else. Nothing reads the clock: every date
is `window_start(anchor) + day`, and every day is before the anchor.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.synth import medications as meds
from app.synth import monitoring as mon
from app.synth.codes import DRUGS, HOSPICE_ADMISSION
from app.synth.cohort import (
    ONCOLOGIST,
    PAIN_SPECIALIST,
    PPACT_CLINICIAN,
    PPACT_NURSE,
    WINDOW_DAYS,
    Archetype,
    DoseStep,
    PatientPlan,
    window_start,
)
from app.synth.goals import COMPLEX_STATUSES, goals_rng, ppact_goals
from app.synth.resources import (
    Resource,
    at_time,
    condition,
    day_of,
    encounter,
    episode_of_care,
    hospice_encounter,
    patient,
)
from app.synth.treatments import treatment_resources

#: UDS analytes a drug is expected to make positive (by drug-table key prefix).
_UDS_TARGETS: tuple[tuple[str, str], ...] = (
    ("oxy-", "oxycodone"),
    ("hc-", "opiates"),
    ("mor-", "opiates"),
    ("hm-", "opiates"),
    ("fent-", "fentanyl"),
    ("mtd-", "methadone"),
    ("bup-", "buprenorphine"),
)
#: Analytes screened by their own Observation (the rest are components of the 5-drug panel).
_SINGLE_TESTS: tuple[str, ...] = (
    "oxycodone",
    "fentanyl",
    "methadone",
    "buprenorphine",
    "benzodiazepine",
    "heroin",
)


@dataclass(frozen=True, slots=True)
class Visit:
    day: int
    encounter_id: str
    practitioner_id: str


class _Ids:
    """Derived resource ids: ``ppact-0001-mr-001``."""

    def __init__(self, patient_id: str) -> None:
        self.patient_id = patient_id
        self.counts: Counter[str] = Counter()

    def next(self, kind: str) -> str:
        self.counts[kind] += 1
        return f"{self.patient_id}-{kind}-{self.counts[kind]:03d}"


def _cadence(rng: random.Random, interval: int | None, *, first: int = 0) -> list[int]:
    """Days of a repeating event every ~`interval` days, starting at a random offset."""
    if not interval:
        return []
    days = []
    day = first + rng.randint(0, max(interval // 3, 1))
    while day < WINDOW_DAYS:
        days.append(day)
        day += interval + rng.randint(-5, 5)
    return days


def _active_steps(plan: PatientPlan, day: int) -> list[DoseStep]:
    return [
        step
        for regimen in plan.regimens
        for step in regimen.steps
        if step.start_day <= day < min(step.end_day + step.fill_days, WINDOW_DAYS)
    ]


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


class _Builder:
    """Accumulates one patient's resources by type."""

    def __init__(self, plan: PatientPlan, *, seed: int, anchor: date) -> None:
        self.plan = plan
        self.anchor = anchor
        self.start = window_start(anchor)
        self.seed = seed
        self.rng = random.Random(f"ppact-synth-events-{seed}-{plan.number}")  # noqa: S311
        self.pid = plan.patient_id
        self.ids = _Ids(self.pid)
        self.out: list[Resource] = []
        self.visits: list[Visit] = []

    def when(self, day: int) -> str:
        return at_time(day_of(self.start, day), self.rng.randint(0, 419))

    def add(self, item: Resource) -> None:
        self.out.append(item)

    # ----------------------------------------------------------------- demographics, visits

    def build_patient(self) -> None:
        person = self.plan.person
        self.add(
            patient(
                self.pid,
                number=person.number,
                given=person.given,
                gender=person.gender,
                birth_date=person.birth_date,
                pcp=person.pcp,
            )
        )

    def build_visits(self) -> None:
        plan = self.plan
        days = set(_cadence(self.rng, plan.visit_interval_days))
        if plan.episode:
            days.add(plan.episode[0])
            if plan.episode[1] is not None and plan.episode[1] < WINDOW_DAYS:
                days.add(plan.episode[1])
        for day in sorted(days):
            in_episode = plan.episode is not None and day in plan.episode
            practitioner_id = PPACT_CLINICIAN if in_episode else plan.person.pcp
            encounter_id = self.ids.next("enc")
            telehealth = not in_episode and self.rng.random() < plan.telehealth_rate
            reason = (
                "PPACT intake / discharge assessment" if in_episode else "Chronic pain follow-up"
            )
            self.add(
                encounter(
                    encounter_id,
                    self.pid,
                    when=day_of(self.start, day),
                    minutes=self.rng.randint(0, 400),
                    practitioner_id=practitioner_id,
                    telehealth=telehealth,
                    reason=reason,
                    cpt="99214" if in_episode else "99213",
                )
            )
            self.visits.append(Visit(day, encounter_id, practitioner_id))

    def build_conditions(self) -> None:
        partial = "partial-dates" in self.plan.messy
        for index, (key, onset_day) in enumerate(self.plan.diagnoses):
            onset = day_of(self.start, onset_day)
            onset_text = onset.isoformat()
            if partial and index == 0:
                onset_text = onset.strftime("%Y-%m")
            elif partial and index == 1:
                onset_text = str(onset.year)
            fracture = key == "forearm-fracture"
            abatement = day_of(self.start, onset_day + 60) if fracture else None
            if abatement is not None and abatement >= self.anchor:
                abatement = None
            self.add(
                condition(
                    self.ids.next("cond"),
                    self.pid,
                    key,
                    onset=onset_text,
                    recorded=day_of(self.start, max(onset_day, -3000) + 7),
                    category="encounter-diagnosis" if fracture else "problem-list-item",
                    abatement=abatement,
                )
            )

    # ----------------------------------------------------------------- medications

    def build_medications(self) -> None:
        plan = self.plan
        styles = meds.plan_styles(plan)
        prn_max = "prn-max-dose" in plan.messy
        medication_ids: dict[str, str] = {}
        first_fills: list[tuple[meds.Fill, str]] = []
        for regimen in plan.regimens:
            fills = meds.regimen_fills(regimen, self.rng, styles=styles)
            for index, fill in enumerate(fills):
                medication_id = None
                if fill.style == "medication-reference":
                    drug = DRUGS[fill.step.drug]
                    if drug.key not in medication_ids:
                        medication_ids[drug.key] = f"{self.pid}-med-{drug.key}"
                        self.add(meds.medication_resource(medication_ids[drug.key], drug))
                    medication_id = medication_ids[drug.key]
                request_id = self.ids.next("mr")
                status = meds.request_status(fill, is_last=index == len(fills) - 1)
                self.add(
                    meds.medication_request(
                        request_id,
                        self.pid,
                        fill,
                        self.start,
                        status=status,
                        medication_id=medication_id,
                        prn_max_dose=prn_max,
                    )
                )
                if index == len(fills) // 2:
                    first_fills.append((fill, request_id))
                if fill.dispense_day is not None:
                    self.add(
                        meds.medication_dispense(
                            self.ids.next("md"),
                            self.pid,
                            request_id,
                            fill,
                            self.start,
                            medication_id=medication_id,
                        )
                    )
            if regimen.statements and fills:
                self._statements(regimen.steps)
        self._messy_orders(first_fills)
        self._naloxone()

    def _statements(self, steps: tuple[DoseStep, ...]) -> None:
        """Medication-list entries reconciled at visits (every third visit when visits are
        monthly). A dose that has since changed is closed: status completed, period end set,
        as the EHR updates the list entry when the dose changes."""
        every = 3 if (self.plan.visit_interval_days or 90) < 60 else 1
        for index, visit in enumerate(self.visits):
            if index % every:
                continue
            current = [s for s in steps if s.start_day <= visit.day < s.end_day]
            if not current:
                continue
            step = current[0]
            ended = step.end_day < WINDOW_DAYS
            self.add(
                meds.medication_statement(
                    self.ids.next("ms"),
                    self.pid,
                    step,
                    first_day=day_of(self.start, step.start_day).isoformat(),
                    end_day=day_of(self.start, step.end_day - 1).isoformat() if ended else None,
                    asserted=self.when(visit.day),
                    encounter_id=visit.encounter_id,
                    status="completed" if ended else "active",
                )
            )

    def _messy_orders(self, picked: list[tuple[meds.Fill, str]]) -> None:
        plan = self.plan
        if picked and "entered-in-error" in plan.messy:
            fill, _ = picked[0]
            self.add(
                meds.medication_request(
                    self.ids.next("mr"), self.pid, fill, self.start, status="entered-in-error"
                )
            )
        if picked and "cancelled" in plan.messy:
            fill, _ = picked[-1]
            self.add(
                meds.medication_request(
                    self.ids.next("mr"), self.pid, fill, self.start, status="cancelled"
                )
            )
        if "unknown-code" in plan.messy:
            self.add(
                meds.unknown_code_request(
                    self.ids.next("mr"),
                    self.pid,
                    authored=self.when(WINDOW_DAYS - 20),
                    prescriber=PAIN_SPECIALIST,
                )
            )
        if "partial-dates" in plan.messy and self.visits:
            first = day_of(self.start, 0)
            self.add(
                meds.medication_statement(
                    self.ids.next("ms"),
                    self.pid,
                    DoseStep("hc-apap-5", 0, 0, 1, 1, 6, "h", as_needed=True),
                    first_day=str(first.year - 3),
                    end_day=f"{first.year - 1}-{first.month:02d}",
                    asserted=self.when(self.visits[0].day),
                    encounter_id=self.visits[0].encounter_id,
                    status="completed",
                )
            )

    def _naloxone(self) -> None:
        for day in self.plan.naloxone_days:
            if day >= WINDOW_DAYS - 1:
                continue
            drug_key = self.rng.choice(("naloxone-4", "narcan-4"))
            request_id = self.ids.next("mr")
            self.add(
                meds.naloxone_request(
                    request_id,
                    self.pid,
                    drug_key=drug_key,
                    authored=self.when(day),
                    prescriber=self.plan.person.pcp,
                )
            )
            pharmacy = (
                self.plan.regimens[0].pharmacies[0] if self.plan.regimens else "ppact-pharm-01"
            )
            self.add(
                meds.naloxone_dispense(
                    self.ids.next("md"),
                    self.pid,
                    request_id,
                    drug_key=drug_key,
                    handed=self.when(day + 1),
                    pharmacy=pharmacy,
                )
            )

    # ----------------------------------------------------------------- monitoring

    def build_uds(self) -> None:
        plan = self.plan
        for index, day in enumerate(_cadence(self.rng, plan.uds_interval_days, first=20)):
            expected: set[str] = set()
            for step in _active_steps(plan, day):
                drug = DRUGS[step.drug]
                if drug.kind == "benzodiazepine":
                    expected.add("benzodiazepine")
                expected.update(t for prefix, t in _UDS_TARGETS if step.drug.startswith(prefix))
            positives = set(expected)
            tests = {"benzodiazepine"} | (expected & set(_SINGLE_TESTS))
            if 0 < index <= len(plan.unexpected_uds):
                sign, target = plan.unexpected_uds[index - 1].split(":")
                if sign == "positive":
                    positives.add(target)
                else:
                    positives.discard(target)
                if target in _SINGLE_TESTS:
                    tests.add(target)
            when = self.when(day)
            self.add(mon.uds_panel(self.ids.next("uds"), self.pid, frozenset(positives), when=when))
            for test in sorted(tests):
                self.add(
                    mon.uds_test(
                        self.ids.next("uds"), self.pid, test, positive=test in positives, when=when
                    )
                )

    def build_pdmp(self) -> None:
        as_finding = "partial-dates" in self.plan.messy
        for index, day in enumerate(_cadence(self.rng, self.plan.pdmp_interval_days)):
            self.add(
                mon.pdmp_check(
                    self.ids.next("pdmp"),
                    self.pid,
                    when=self.when(day),
                    practitioner_id=self.plan.person.pcp,
                    as_finding=as_finding and index % 2 == 1,
                )
            )

    def build_agreements(self) -> None:
        days = [d for d in self.plan.agreement_days if d < WINDOW_DAYS]
        for index, day in enumerate(days):
            self.add(
                mon.treatment_agreement(
                    self.ids.next("agr"),
                    self.pid,
                    signed=day_of(self.start, day),
                    when=self.when(day),
                    author_id=self.plan.person.pcp,
                    superseded=index < len(days) - 1,
                )
            )

    # ----------------------------------------------------------------- PPACT and PROs

    def build_episode_and_pros(self) -> None:
        plan = self.plan
        rng = self.rng
        baseline = {
            "pain": rng.uniform(6.0, 8.5),
            "enjoyment": rng.uniform(5.5, 8.5),
            "activity": rng.uniform(5.5, 8.5),
            "phq9": rng.uniform(9, 19),
            "gad7": rng.uniform(7, 16),
        }
        worse = rng.random() < 0.2
        delta = {"pain": 2.0, "enjoyment": 2.5, "activity": 2.5, "phq9": 5.0, "gad7": 4.0}
        sign = -0.4 if worse else 1.0

        def scores(improved: bool) -> dict[str, float]:
            return {
                key: value - (sign * delta[key] if improved else 0) + rng.uniform(-0.7, 0.7)
                for key, value in baseline.items()
            }

        episode_end: int | None = None
        if plan.episode:
            start_day, end_day = plan.episode
            episode_end = end_day
            self.add(
                episode_of_care(
                    self.ids.next("epi"),
                    self.pid,
                    start=day_of(self.start, start_day),
                    end=day_of(self.start, end_day) if end_day is not None else None,
                )
            )
            self._goals(start_day, end_day, worse=worse)
            self._pro_set(start_day, scores(improved=False), full=True)
            if end_day is not None:
                self._pro_set(end_day, scores(improved=True), full=True)
            last = end_day if end_day is not None else WINDOW_DAYS - 1
            for week, day in enumerate(range(start_day + 7, last + 1, 7), start=1):
                self._note(week, day)
        for day in _cadence(rng, plan.pro_interval_days, first=10):
            if plan.episode and plan.episode[0] - 14 <= day <= (episode_end or WINDOW_DAYS) + 14:
                continue
            improved = episode_end is not None and day > episode_end
            self._pro_set(day, scores(improved=improved), full=False)

    def _goals(self, start_day: int, end_day: int | None, *, worse: bool) -> None:
        """2-3 goals set at intake (3 for the most complex patient, one of each outcome)."""
        rng = goals_rng(self.seed, self.plan.number)
        complex_patient = self.plan.archetype is Archetype.COMPLEX
        count = 3 if complex_patient else rng.randint(2, 3)
        self.out.extend(
            ppact_goals(
                [self.ids.next("goal") for _ in range(count)],
                self.pid,
                rng=rng,
                intake=day_of(self.start, start_day),
                discharge=day_of(self.start, end_day) if end_day is not None else None,
                worse=worse,
                statuses=COMPLEX_STATUSES if complex_patient else None,
            )
        )

    def _pro_set(self, day: int, values: dict[str, float], *, full: bool) -> None:
        when = self.when(day)
        self.add(
            mon.peg(
                self.ids.next("peg"),
                self.pid,
                pain=_clamp(values["pain"], 0, 10),
                enjoyment=_clamp(values["enjoyment"], 0, 10),
                activity=_clamp(values["activity"], 0, 10),
                when=when,
            )
        )
        phq9_id = self.ids.next("phq9")
        self.add(mon.phq9_total(phq9_id, self.pid, score=_clamp(values["phq9"], 0, 27), when=when))
        if full:
            self.add(
                mon.survey_panel(
                    self.ids.next("phq9"), self.pid, instrument="phq9", member_id=phq9_id, when=when
                )
            )
            gad7_id = self.ids.next("gad7")
            self.add(
                mon.gad7_total(gad7_id, self.pid, score=_clamp(values["gad7"], 0, 21), when=when)
            )

    def _note(self, week: int, day: int) -> None:
        author = PPACT_CLINICIAN if week % 2 else PPACT_NURSE
        topics = (
            "Reviewed pain coping skills practice and activity pacing goals.",
            "Discussed sleep routine and graded walking plan; patient engaged.",
            "Reviewed medication plan with PCP; no changes this week.",
            "Practised relaxation and cognitive reframing; mood stable.",
        )
        body = (
            f"PPACT weekly progress note (synthetic), week {week}.\n"
            f"{topics[week % len(topics)]}\n"
            "Plan: continue group sessions; next check-in in one week."
        )
        self.add(
            mon.progress_note(
                self.ids.next("note"),
                self.pid,
                week=week,
                when=self.when(day),
                author_id=author,
                body=body,
            )
        )

    def build_hospice(self) -> None:
        day = self.plan.hospice_day
        if day is None or day >= WINDOW_DAYS:
            return
        self.add(
            hospice_encounter(
                self.ids.next("enc"),
                self.pid,
                admit=day_of(self.start, day - 5),
                discharge=day_of(self.start, day),
            )
        )
        self.add(
            mon.coded_procedure(
                self.ids.next("proc"),
                self.pid,
                HOSPICE_ADMISSION,
                when=self.when(day),
                practitioner_id=ONCOLOGIST,
            )
        )


def patient_resources(plan: PatientPlan, *, seed: int, anchor: date) -> list[dict[str, Any]]:
    """All chart resources of one patient (shared Practitioners/Organizations excluded)."""
    builder = _Builder(plan, seed=seed, anchor=anchor)
    builder.build_patient()
    builder.build_visits()
    builder.build_conditions()
    builder.build_medications()
    builder.build_uds()
    builder.build_pdmp()
    builder.build_agreements()
    builder.build_episode_and_pros()
    builder.build_hospice()
    builder.out.extend(treatment_resources(plan, builder.ids.next, seed=seed, start=builder.start))
    return builder.out
