"""Small builders for rule tests: model records with their Classification filled in.

Rule tests build `Chart` records directly from model.py dataclasses (no FHIR JSON), so each
test states exactly the dates, supplies and classes it depends on.
"""

from __future__ import annotations

from datetime import date, timedelta

from app.clinical.cot import CotStatus
from app.clinical.model import (
    Chart,
    Classification,
    ClassSource,
    ConditionGroup,
    ConditionRecord,
    DrugClass,
    MedicationKind,
    MedicationRecord,
    MmeLine,
    MmeTotal,
    PatientInfo,
)
from app.clinical.policy import ClinicPolicy, default_policy
from app.clinical.rules.base import Exclusion, RuleContext, draft_window
from app.clinical.supply import medication_supply_windows

AS_OF = date(2026, 11, 1)
PATIENT = PatientInfo(ref="Patient/p1", birth_date=date(1970, 5, 17))

_INGREDIENT = {
    DrugClass.OPIOID_ANALGESIC: "oxycodone",
    DrugClass.BUPRENORPHINE_PAIN: "buprenorphine",
    DrugClass.BUPRENORPHINE_MOUD: "buprenorphine",
    DrugClass.METHADONE_MOUD: "methadone",
    DrugClass.BENZODIAZEPINE: "alprazolam",
    DrugClass.GABAPENTINOID: "gabapentin",
    DrugClass.Z_DRUG: "zolpidem",
    DrugClass.MUSCLE_RELAXANT: "carisoprodol",
    DrugClass.BARBITURATE: "butalbital",
    DrugClass.OTHER_CNS_DEPRESSANT: "hydroxyzine",
    DrugClass.NALOXONE: "naloxone",
}


def days_before(days: int, as_of: date = AS_OF) -> date:
    return as_of - timedelta(days=days)


def med(
    ref: str,
    drug_class: DrugClass,
    start: date | None,
    days_supply: float | None = 30,
    *,
    kind: MedicationKind = MedicationKind.REQUEST,
    ingredient: str | None = None,
    long_acting: bool = False,
    status: str = "active",
    prescriber: str | None = "Practitioner/dr-a",
    pharmacy: str | None = None,
    authorizing_prescription: str | None = None,
    text: str | None = None,
) -> MedicationRecord:
    """A request (authored on `start`, expected supply) or a dispense (handed over on `start`)."""
    name = ingredient or _INGREDIENT[drug_class]
    classification = Classification(
        classes=frozenset({drug_class}),
        long_acting=long_acting,
        source=ClassSource.NAME,
        ingredients=(name,),
    )
    common = {
        "ref": ref,
        "kind": kind,
        "text": text or f"{name} tablet",
        "classification": classification,
        "status": status,
        "prescriber": prescriber,
    }
    if kind is MedicationKind.DISPENSE:
        return MedicationRecord(
            **common,  # type: ignore[arg-type]
            handed_over=start,
            days_supply=days_supply,
            pharmacy=pharmacy,
            authorizing_prescription=authorizing_prescription,
        )
    return MedicationRecord(
        **common,  # type: ignore[arg-type]
        intent="order",
        authored_on=start,
        expected_supply_days=days_supply,
    )


def opioid(
    ref: str, start: date | None, days_supply: float | None = 30, **kw: object
) -> MedicationRecord:
    return med(ref, DrugClass.OPIOID_ANALGESIC, start, days_supply, **kw)  # type: ignore[arg-type]


def condition(
    ref: str,
    *groups: ConditionGroup,
    clinical_status: str | None = "active",
    verification_status: str | None = None,
    categories: tuple[str, ...] = ("problem-list-item",),
    onset: date | None = None,
    recorded: date | None = None,
    text: str | None = None,
) -> ConditionRecord:
    return ConditionRecord(
        ref=ref,
        text=text or ref,
        groups=frozenset(groups),
        clinical_status=clinical_status,
        verification_status=verification_status,
        categories=categories,
        onset=onset,
        recorded=recorded,
    )


def mme_total(
    total: float, *, complete: bool = True, lines: tuple[MmeLine, ...] = (), as_of: date = AS_OF
) -> MmeTotal:
    return MmeTotal(as_of=as_of, edition="2022", total_mme=total, complete=complete, lines=lines)


def mme_line(ref: str, mme_per_day: float | None, *, display: str = "oxycodone 10 mg") -> MmeLine:
    return MmeLine(
        ref=ref,
        code=None,
        display=display,
        mme_per_day=mme_per_day,
        daily_dose=None,
        unit=None,
        complete=mme_per_day is not None,
    )


def cot(is_cot: bool = False, evidence: tuple[str, ...] = ()) -> CotStatus:
    return CotStatus(
        is_cot=is_cot,
        days_supplied=90 if is_cot else 0,
        lookback_days=90,
        definition="days-supplied",
        evidence=evidence,
        reason="test",
    )


def context(
    chart: Chart | None = None,
    *,
    as_of: date = AS_OF,
    policy: ClinicPolicy | None = None,
    mme: MmeTotal | None = None,
    cot_status: CotStatus | None = None,
    drafts: tuple[MedicationRecord, ...] = (),
    exclusions: tuple[Exclusion, ...] = (),
) -> RuleContext:
    """A context with real supply windows; MME and COT given by the test (defaults: 0, not COT)."""
    chart = chart or Chart(patient=PATIENT)
    windows = medication_supply_windows(chart.medications)
    windows += tuple(draft_window(d, as_of) for d in drafts)
    return RuleContext(
        chart=chart,
        policy=policy or default_policy(),
        as_of=as_of,
        mme=mme or mme_total(0.0, as_of=as_of),
        cot=cot_status or cot(),
        drafts=drafts,
        windows=windows,
        exclusions=exclusions,
        records_by_ref={m.ref: m for m in (*chart.medications, *drafts)},
    )


def codes(findings: tuple[object, ...]) -> list[str]:
    return [f.code for f in findings]  # type: ignore[attr-defined]
