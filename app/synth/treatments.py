"""Non-opioid and non-drug pain treatments of a synthetic patient: referrals, a non-opioid drug.

CDC 2022 guideline recommendation 2: nonopioid and nonpharmacologic therapies are preferred for
chronic pain; PPACT referred patients to physical therapy, CBT for chronic pain and pain
psychology. The one-page summary lists them under "other treatments and referrals" (issue 4),
so the cohort must hold some. Shapes follow FHIR R4 ServiceRequest
(http://hl7.org/fhir/R4/servicerequest.html): `status`, `intent` order, `category` SNOMED CT
3457005 "Patient referral" (the example binding), `code` SNOMED CT with text, `subject`,
`authoredOn`, `requester`; the non-opioid drug is an R4 MedicationRequest like the opioid ones.

Days are jittered from their own stream (`random.Random("ppact-synth-treatments-{seed}-{n}")`)
and the resources are added after every other one, so every earlier resource of the patient,
ids included, is unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from app.synth import medications as meds
from app.synth.codes import SNOMED
from app.synth.cohort import WINDOW_DAYS, DoseStep, PatientPlan
from app.synth.resources import (
    Resource,
    at_time,
    coding,
    concept,
    day_of,
    practitioner_ref,
    ref,
    resource,
)

REFERRAL_CATEGORY = ("3457005", "Patient referral")


@dataclass(frozen=True, slots=True)
class Referral:
    """A non-drug treatment the PCP refers to: SNOMED CT procedure and the order's text."""

    code: str
    display: str
    text: str


REFERRALS: dict[str, Referral] = {
    "physical-therapy": Referral(
        "91251008", "Physical therapy procedure", "Physical therapy for chronic pain"
    ),
    "cbt-chronic-pain": Referral(
        "228557008", "Cognitive and behavioral therapy", "CBT for chronic pain"
    ),
    "pain-psychology": Referral("75516001", "Psychotherapy", "Pain psychology evaluation"),
}
#: Days the dates move, either way, so patients of one archetype differ.
JITTER_DAYS = 6


def treatments_rng(seed: int, number: int) -> random.Random:
    """The treatment stream of patient `number`."""
    return random.Random(f"ppact-synth-treatments-{seed}-{number}")  # noqa: S311 - test data


def _day(rng: random.Random, day: int) -> int:
    return min(max(day + rng.randint(-JITTER_DAYS, JITTER_DAYS), 0), WINDOW_DAYS - 1)


def referral(
    resource_id: str, patient_id: str, key: str, *, authored: str, status: str, requester: str
) -> Resource:
    """One ServiceRequest referral (status active or completed, intent order)."""
    item = REFERRALS[key]
    return resource(
        "ServiceRequest",
        resource_id,
        status=status,
        intent="order",
        category=[concept(coding(SNOMED, *REFERRAL_CATEGORY), text="Referral")],
        code=concept(coding(SNOMED, item.code, item.display), text=item.text),
        subject=ref("Patient", patient_id),
        authoredOn=authored,
        requester=practitioner_ref(requester),
        reasonCode=[{"text": "Chronic pain"}],
    )


def treatment_resources(
    plan: PatientPlan, next_id: Callable[[str], str], *, seed: int, start: date
) -> list[Resource]:
    """The plan's referrals and non-opioid order, in date order.

    Args:
        plan: the patient's plan (`referrals`, `non_opioid`).
        next_id: gives the next resource id of a kind ("sr", "mr").
        seed: the cohort seed.
        start: first day of the patient's history (`cohort.window_start`).
    """
    rng = treatments_rng(seed, plan.number)
    pcp = plan.person.pcp
    out: list[Resource] = []
    for key, day, status in plan.referrals:
        when = day_of(start, _day(rng, day))
        out.append(
            referral(
                next_id("sr"),
                plan.patient_id,
                key,
                authored=at_time(when, rng.randint(0, 419)),
                status=status,
                requester=pcp,
            )
        )
    if plan.non_opioid is not None:
        drug, day = plan.non_opioid
        step = DoseStep(drug, day, WINDOW_DAYS, 1, 1 if drug.startswith("dulox") else 2, 1, "d")
        fill = meds.Fill(_day(rng, day), step, pcp, "", None)
        out.append(
            meds.medication_request(next_id("mr"), plan.patient_id, fill, start, status="active")
        )
    return out
