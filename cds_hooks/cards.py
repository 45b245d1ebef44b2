"""Findings of the clinical core -> CDS Hooks 2.0 cards, one card per card rule.

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
selected orders"). Severity maps to the indicator: high -> critical, moderate -> warning, else
info (app.clinical.model.Severity).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from app.clinical.citations import CDC_2022_URL
from app.clinical.mme import format_mme
from app.clinical.model import DrugClass, Finding, MedicationRecord, Severity
from app.clinical.rules.base import RuleContext, display_name
from cds_hooks import suggestions
from cds_hooks.models import Card, Coding, Link, OverrideReason, Source, Suggestion

TOPIC_SYSTEM = "urn:ppact-cot:cds-rule"
SOURCE_LABEL = "PPACT COT toolkit (CDC 2022 opioid guideline)"
MAX_SUMMARY = 140
REFILL_COUNT_DAYS = 182


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


def _card(
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


def _of(inputs: CardInputs, rule: CardRule) -> list[Finding]:
    return [f for f in inputs.findings if f.code in rule.codes]


def _worst(findings: Sequence[Finding]) -> str:
    return max((_INDICATOR[f.severity] for f in findings), key=_RANK.__getitem__, default="info")


def _name(inputs: CardInputs, ref: str) -> str:
    return display_name(inputs.ctx.record(ref), ref)


def _bullets(findings: Sequence[Finding]) -> list[str]:
    return [f"- {f.text} *({f.citation.label})*" for f in findings]


def _targets_opioid(inputs: CardInputs) -> bool:
    return any(t.classification.is_opioid for t in inputs.targets)


def _targets_sedative(inputs: CardInputs) -> bool:
    alerting = {DrugClass(c) for c in inputs.ctx.policy.sedatives.alert_classes}
    alerting |= {DrugClass.BENZODIAZEPINE, DrugClass.MUSCLE_RELAXANT}
    return any(t.classification.classes & alerting for t in inputs.targets)


def coprescribing_card(inputs: CardInputs) -> RuleCard | None:
    target_refs = {t.ref for t in inputs.targets}
    found = [f for f in _of(inputs, COPRESCRIBING) if target_refs & set(f.evidence)]
    if not found:
        return None
    triple = any(f.code == "triple-threat" for f in found)
    classes = sorted({str(f.data.get("subclass")) for f in found if f.data.get("subclass")})
    if triple:
        text = (
            "Triple threat: opioid, benzodiazepine and muscle relaxant together raise"
            " overdose risk."
        )
    else:
        text = f"Opioid with {', '.join(classes)}: concurrent use raises overdose risk."
    involved = [t for t in inputs.targets if any(t.ref in f.evidence for f in found)]
    offers = [suggestions.remove_draft(t.ref, _name(inputs, t.ref)) for t in involved]
    detail = [
        "Supplies of an opioid and a CNS depressant overlap, including the order being written:",
        *_bullets(found),
        "",
        "CDC 2022 Recommendation 11: use particular caution when prescribing opioids with"
        " benzodiazepines and other CNS depressants; consider tapering one of them.",
    ]
    indicator = "critical" if triple else _worst(found)
    return _card(
        COPRESCRIBING, inputs, text=text, detail=detail, indicator=indicator, offers=offers
    )


def early_refill_card(inputs: CardInputs) -> RuleCard | None:
    target_refs = {t.ref for t in inputs.targets}
    ctx = inputs.ctx
    windows = {w.ref: w for w in ctx.windows}
    rows: list[str] = []
    refs: list[str] = []
    for finding in _of(inputs, EARLY_REFILL):
        refills = finding.data.get("refills")
        for refill in refills if isinstance(refills, list) else []:
            if refill.get("ref") not in target_refs:
                continue
            previous = windows.get(str(refill.get("previous_ref")))
            runs_out = date.fromisoformat(str(refill["previous_runs_out"]))
            remaining = (runs_out - ctx.as_of).days
            last_fill = previous.start.isoformat() if previous else "unknown"
            supply = f"{previous.days}" if previous else "unknown"
            rows.append(
                f"| {_name(inputs, str(refill['previous_ref']))} | {last_fill} | {supply} |"
                f" {remaining} | {runs_out.isoformat()} |"
            )
            refs.append(str(refill["ref"]))
    if not rows:
        return None
    since = ctx.as_of - timedelta(days=REFILL_COUNT_DAYS)
    fills = sum(
        1
        for w in ctx.windows
        if w.ref not in ctx.draft_refs
        and since < w.start <= ctx.as_of
        and (record := ctx.record(w.ref)) is not None
        and record.classification.is_opioid
    )
    first = rows[0].split(" | ")
    text = f"Early opioid refill: previous supply lasts {first[3]} more days (until {first[4]})."
    detail = [
        "The previous supply of this opioid is not used up beyond the clinic's tolerance"
        f" ({ctx.policy.early_refill.tolerance_days} days):",
        "",
        "| previous supply | last fill | days supply | days remaining | runs out |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"Opioid fills in the last 6 months: **{fills}**.",
    ]
    offers = [suggestions.remove_draft(ref, _name(inputs, ref)) for ref in dict.fromkeys(refs)]
    return _card(EARLY_REFILL, inputs, text=text, detail=detail, indicator="warning", offers=offers)


def monitoring_card(inputs: CardInputs) -> RuleCard | None:
    found = _of(inputs, MONITORING)
    if not found or not _targets_opioid(inputs):
        return None
    labels = {
        "uds-overdue": "UDS",
        "uds-unexpected": "unexpected UDS result",
        "pdmp-check-overdue": "PDMP check",
        "agreement-overdue": "treatment agreement",
        "opioid-visit-overdue": "opioid visit",
    }
    due = ", ".join(dict.fromkeys(labels[f.code] for f in found))
    text = f"Opioid refill without required monitoring: {due}."
    offers = []
    if any(f.code == "uds-overdue" for f in found):
        offers.append(suggestions.order_uds(inputs.patient_id, inputs.user_id, inputs.ctx.as_of))
    detail = ["Due or unexpected under the clinic policy:", *_bullets(found)]
    return _card(
        MONITORING, inputs, text=text, detail=detail, indicator=_worst(found), offers=offers
    )


def high_dose_card(inputs: CardInputs) -> RuleCard | None:
    found = _of(inputs, HIGH_DOSE)
    if not found or not _targets_opioid(inputs):
        return None
    mme = inputs.ctx.mme
    reached = [f for f in found if f.code == "mme-at-or-above-threshold"]
    floor = "" if mme.complete else "at least "
    if reached:
        top = max(float(str(f.data["threshold_mme"])) for f in reached)
        text = (
            f"With this order, total is {floor}{format_mme(mme.total_mme)} MME/day,"
            f" at or above {top:g} MME/day."
        )
    else:
        text = (
            f"MME/day could not be fully computed with this order: at least"
            f" {format_mme(mme.total_mme)} MME/day."
        )
    rows = [
        f"| {line.display or line.code or line.ref}"
        f"{' (this order)' if line.ref in inputs.ctx.draft_refs else ''} |"
        f" {format_mme(line.mme_per_day)} |"
        for line in mme.lines
    ]
    detail = [
        "| medication | MME/day |",
        "|---|---|",
        *rows,
        f"| **total** | **{floor}{format_mme(mme.total_mme)}** |",
        "",
        *_bullets(found),
        *([f"- {r}" for r in mme.reasons] if not mme.complete else []),
    ]
    return _card(HIGH_DOSE, inputs, text=text, detail=detail, indicator=_worst(found))


def naloxone_card(inputs: CardInputs) -> RuleCard | None:
    found = _of(inputs, NALOXONE)
    if not found or not (_targets_opioid(inputs) or _targets_sedative(inputs)):
        return None
    factors = found[0].data.get("risk_factors")
    listed = "; ".join(str(f) for f in factors) if isinstance(factors, list) else ""
    text = f"No naloxone on record for a patient at risk of overdose ({listed})."
    offer = suggestions.add_naloxone(inputs.patient_id, inputs.user_id, inputs.ctx.as_of)
    detail = [
        *_bullets(found),
        "",
        "CDC 2022 Recommendation 8: offer naloxone when overdose risk is increased.",
    ]
    return _card(NALOXONE, inputs, text=text, detail=detail, indicator="warning", offers=[offer])


ORDER_CARD_BUILDERS = (
    coprescribing_card,
    early_refill_card,
    monitoring_card,
    high_dose_card,
    naloxone_card,
)


def cot_status_card(inputs: CardInputs) -> RuleCard:
    """The one patient-view card: total MME, key findings, what is due, a link to the app."""
    ctx = inputs.ctx
    floor = "" if ctx.mme.complete else "at least "
    shown = [f for f in inputs.findings if f.severity is not Severity.INFO][:6]
    due = [f for f in inputs.findings if f.code in MONITORING.codes and f.code != "uds-unexpected"]
    cot = "on COT" if ctx.cot.is_cot else "not on COT"
    if ctx.excluded:
        text = "Opioid alerts do not apply: " + ", ".join(e.label for e in ctx.exclusions) + "."
    else:
        text = (
            f"Opioids: {floor}{format_mme(ctx.mme.total_mme)} MME/day, {cot};"
            f" {len(shown)} finding(s), {len(due)} monitoring item(s) due."
        )
    detail = [
        f"**Total:** {floor}{format_mme(ctx.mme.total_mme)} MME/day ({ctx.mme.edition} factors)."
    ]
    if shown:
        detail += ["", "**Key findings:**", *_bullets(shown)]
    if due:
        detail += ["", "**Due:** " + "; ".join(f.text.rstrip(".") for f in due) + "."]
    link = Link(
        label="Open the PPACT summary",
        url=inputs.launch_url,
        type="smart",
        appContext="summary",
    )
    indicator = _worst(shown) if not ctx.excluded else "info"
    return _card(
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
    return _card(
        DATA_INCOMPLETE, inputs, text=text, detail=detail, indicator="info", overridable=False
    )
