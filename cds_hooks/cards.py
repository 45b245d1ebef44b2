"""Findings of the clinical core -> CDS Hooks 2.0 cards: card rules, the card shape, patient-view.

The cards state what `app.clinical.findings` found; they compute nothing clinical of their own
(docs/style.md: the pages and the cards read the same rules under the same policy). Each card
rule groups finding codes and names the card's `source.topic` code, the stable id that feedback,
snoozes and the alert report are keyed on:

| card rule (topic code)       | finding codes                                             |
|------------------------------|-----------------------------------------------------------|
| coprescribing                | opioid-benzo-coprescribing, opioid-cns-depressant-...,    |
|                              | triple-threat (escalates the indicator to critical)       |
| early-refill                 | early-refill                                              |
| monitoring-overdue           | uds-overdue, uds-unexpected, pdmp-check-overdue,          |
|                              | agreement-overdue, opioid-visit-overdue                   |
| mme-at-or-above-threshold    | mme-at-or-above-threshold, mme-incomplete                 |
| naloxone-not-on-record       | naloxone-not-on-record                                    |
| cot-status (patient-view)    | all findings, summarised                                  |

On order hooks a card fires only for the orders being written (the targets: the selections of
order-select, every draft of order-sign) - a co-prescribing overlap must involve a target, an
early refill must be a target, and so on (docs/standards.md section 3, "Rules target the
selected orders"); the five order builders are in `order_cards.py`. Severity maps to the
indicator: high -> critical, moderate -> warning, else info (app.clinical.model.Severity).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from app.clinical.citations import CDC_2022_URL
from app.clinical.mme import format_mme
from app.clinical.model import DrugClass, Finding, MedicationRecord, Severity
from app.clinical.policy import ClinicPolicy
from app.clinical.rules.base import RuleContext, display_name
from cds_hooks.models import Card, Coding, Link, OverrideReason, Source, Suggestion

TOPIC_SYSTEM = "urn:ppact-cot:cds-rule"
SOURCE_LABEL = "PPACT COT toolkit (CDC 2022 opioid guideline)"
MAX_SUMMARY = 140
REFILL_COUNT_DAYS = 182  # "refill count in 6 months"
MAX_STATUS_FINDINGS = 6  # key findings listed on the patient-view card; the rest are counted
_FIRST_AFTER_MME = ("uds-unexpected", "naloxone-not-on-record")


@dataclass(frozen=True, slots=True)
class CardRule:
    """A card kind: its topic code, a title and the finding codes it reports."""

    id: str
    title: str
    codes: frozenset[str]


COPRESCRIBING = CardRule(
    "coprescribing",
    "Opioid with a benzodiazepine or other CNS depressant",
    frozenset(
        {"opioid-benzo-coprescribing", "opioid-cns-depressant-coprescribing", "triple-threat"}
    ),
)
EARLY_REFILL = CardRule("early-refill", "Early opioid refill", frozenset({"early-refill"}))
MONITORING = CardRule(
    "monitoring-overdue",
    "Refill without the monitoring the clinic policy requires",
    frozenset(
        {
            "uds-overdue",
            "uds-unexpected",
            "pdmp-check-overdue",
            "agreement-overdue",
            "opioid-visit-overdue",
        }
    ),
)
HIGH_DOSE = CardRule(
    "mme-at-or-above-threshold",
    "High opioid dosage",
    frozenset({"mme-at-or-above-threshold", "mme-incomplete"}),
)
NALOXONE = CardRule(
    "naloxone-not-on-record", "Naloxone not on record", frozenset({"naloxone-not-on-record"})
)
COT_STATUS = CardRule("cot-status", "COT status", frozenset())
DATA_INCOMPLETE = CardRule("data-incomplete", "Opioid checks incomplete", frozenset())
CARD_RULES: tuple[CardRule, ...] = (
    COPRESCRIBING,
    EARLY_REFILL,
    MONITORING,
    HIGH_DOSE,
    NALOXONE,
    COT_STATUS,
    DATA_INCOMPLETE,
)
_INDICATOR = {
    Severity.HIGH: "critical",
    Severity.MODERATE: "warning",
    Severity.LOW: "info",
    Severity.INFO: "info",
}
_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class CardInputs:
    """Everything a card is built from."""

    ctx: RuleContext
    findings: tuple[Finding, ...]
    targets: tuple[MedicationRecord, ...]
    patient_id: str
    user_id: str
    override_reasons: tuple[OverrideReason, ...]
    launch_url: str
    gaps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleCard:
    """A card and the card rule it came from (kept to attribute feedback)."""

    rule: str
    card: Card


def summary(text: str) -> str:
    """One sentence of at most 140 characters (cut at a word, with an ellipsis)."""
    text = " ".join(text.split())
    if len(text) <= MAX_SUMMARY:
        return text
    cut = text[: MAX_SUMMARY - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def build_card(
    rule: CardRule,
    inputs: CardInputs,
    *,
    text: str,
    detail: list[str],
    indicator: str,
    offers: Sequence[Suggestion] = (),
    overridable: bool = True,
    links: Sequence[Link] = (),
) -> RuleCard:
    if inputs.gaps:
        detail = [*detail, "", "**Data not available:** " + "; ".join(inputs.gaps) + "."]
    if not links and overridable:
        links = [summary_link(inputs)]
    card = Card(
        uuid=str(uuid.uuid4()),
        summary=summary(text),
        detail="\n".join(detail).strip() or None,
        indicator=indicator,  # type: ignore[arg-type]
        source=Source(
            label=SOURCE_LABEL,
            url=CDC_2022_URL,
            topic=Coding(system=TOPIC_SYSTEM, code=rule.id, display=rule.title),
        ),
        suggestions=list(offers) or None,
        selectionBehavior="at-most-one" if offers else None,
        overrideReasons=list(inputs.override_reasons) if overridable else None,
        links=list(links) or None,
    )
    return RuleCard(rule.id, card)


def summary_link(inputs: CardInputs) -> Link:
    """SMART link that opens the app's one-page summary for the patient in context."""
    return Link(
        label="Open the PPACT summary", url=inputs.launch_url, type="smart", appContext="summary"
    )


def findings_of(inputs: CardInputs, rule: CardRule) -> list[Finding]:
    return [f for f in inputs.findings if f.code in rule.codes]


def worst(findings: Sequence[Finding]) -> str:
    return max((_INDICATOR[f.severity] for f in findings), key=_RANK.__getitem__, default="info")


def drug_name(inputs: CardInputs, ref: str) -> str:
    return display_name(inputs.ctx.record(ref), ref)


def bullets(findings: Sequence[Finding]) -> list[str]:
    return [f"- {f.text} *({f.citation.label})*" for f in findings]


def is_sedative(record: MedicationRecord, policy: ClinicPolicy) -> bool:
    """A benzodiazepine, a muscle relaxant (triple threat) or a class the policy alerts on."""
    alerting = {DrugClass(c) for c in policy.sedatives.alert_classes}
    alerting |= {DrugClass.BENZODIAZEPINE, DrugClass.MUSCLE_RELAXANT}
    return bool(record.classification.classes & alerting)


def is_checked_order(record: MedicationRecord, policy: ClinicPolicy) -> bool:
    """An order the order services have something to say about: an opioid or a sedative."""
    return record.classification.is_opioid or is_sedative(record, policy)


def key_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Non-info findings for the status card, most useful first.

    The MME threshold findings become one line (the highest threshold reached); unexpected UDS
    results and missing naloxone come right after it; the rest keep the core's order.
    """
    kept = [f for f in findings if f.severity is not Severity.INFO]
    reached = [f for f in kept if f.code == "mme-at-or-above-threshold"]
    top = max(reached, key=lambda f: float(str(f.data.get("threshold_mme", 0))), default=None)
    rest = [f for f in kept if f.code != "mme-at-or-above-threshold"]
    ahead = [f for code in _FIRST_AFTER_MME for f in rest if f.code == code]
    return [*([top] if top else []), *ahead, *(f for f in rest if f not in ahead)]


def cot_status_card(inputs: CardInputs) -> RuleCard:
    """The one patient-view card: total MME, key findings, what is due, a link to the app."""
    ctx = inputs.ctx
    floor = "" if ctx.mme.complete else "at least "
    key = key_findings(inputs.findings)
    shown, more = key[:MAX_STATUS_FINDINGS], len(key) - MAX_STATUS_FINDINGS
    due = [f for f in inputs.findings if f.code in MONITORING.codes and f.code != "uds-unexpected"]
    cot = "on COT" if ctx.cot.is_cot else "not on COT"
    if ctx.excluded:
        text = "Opioid alerts do not apply: " + ", ".join(e.label for e in ctx.exclusions) + "."
    else:
        text = (
            f"Opioids: {floor}{format_mme(ctx.mme.total_mme)} MME/day, {cot};"
            f" {len(key)} finding(s), {len(due)} monitoring item(s) due."
        )
    detail = [
        f"**Total:** {floor}{format_mme(ctx.mme.total_mme)} MME/day ({ctx.mme.edition} factors)."
    ]
    if shown:
        detail += ["", "**Key findings:**", *bullets(shown)]
        if more > 0:
            detail.append(f"- +{more} more (see the app)")
    if due:
        detail += ["", "**Due:** " + "; ".join(f.text.rstrip(".") for f in due) + "."]
    link = summary_link(inputs)
    indicator = worst(key) if not ctx.excluded else "info"
    return build_card(
        COT_STATUS,
        inputs,
        text=text,
        detail=detail,
        indicator=indicator,
        overridable=False,
        links=[link],
    )


def data_incomplete_card(inputs: CardInputs, extra: Sequence[str] = ()) -> RuleCard:
    """Said when no other card fired but some data or a rule was missing."""
    problems = [*extra]
    text = "Opioid checks may be incomplete: some patient data could not be read in time."
    detail = [f"- {p}" for p in problems] if problems else []
    return build_card(
        DATA_INCOMPLETE, inputs, text=text, detail=detail, indicator="info", overridable=False
    )
