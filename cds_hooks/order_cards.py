"""The five order-time cards (order-select, order-sign): one builder per card rule.

Each builder reads the findings of the clinical core (`cards.CardInputs.findings`) and returns
a card only when the finding concerns the orders being written (`CardInputs.targets`), as the
table in `cds_hooks.cards` says. Evidence goes in the markdown detail: drug names, dates, MME.
Suggestions: delete the draft (co-prescribing, early refill), order a UDS (overdue UDS), order
naloxone (`suggestions.py`).
"""

from __future__ import annotations

from datetime import date, timedelta

from app.clinical.mme import format_mme
from cds_hooks import suggestions
from cds_hooks.cards import (
    COPRESCRIBING,
    EARLY_REFILL,
    HIGH_DOSE,
    MONITORING,
    NALOXONE,
    REFILL_COUNT_DAYS,
    CardInputs,
    RuleCard,
    build_card,
    bullets,
    drug_name,
    findings_of,
    is_sedative,
    worst,
)


def _targets_opioid(inputs: CardInputs) -> bool:
    return any(t.classification.is_opioid for t in inputs.targets)


def _targets_sedative(inputs: CardInputs) -> bool:
    return any(is_sedative(t, inputs.ctx.policy) for t in inputs.targets)


def coprescribing_card(inputs: CardInputs) -> RuleCard | None:
    target_refs = {t.ref for t in inputs.targets}
    found = [f for f in findings_of(inputs, COPRESCRIBING) if target_refs & set(f.evidence)]
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
    offers = [suggestions.remove_draft(t.ref, drug_name(inputs, t.ref)) for t in involved]
    detail = [
        "Supplies of an opioid and a CNS depressant overlap, including the order being written:",
        *bullets(found),
        "",
        "CDC 2022 Recommendation 11: use particular caution when prescribing opioids with"
        " benzodiazepines and other CNS depressants; consider tapering one of them.",
    ]
    indicator = "critical" if triple else worst(found)
    return build_card(
        COPRESCRIBING, inputs, text=text, detail=detail, indicator=indicator, offers=offers
    )


def early_refill_card(inputs: CardInputs) -> RuleCard | None:
    target_refs = {t.ref for t in inputs.targets}
    ctx = inputs.ctx
    windows = {w.ref: w for w in ctx.windows}
    rows: list[tuple[str, str, str, int, str]] = []  # drug, last fill, supply, left, runs out
    refs: list[str] = []
    for finding in findings_of(inputs, EARLY_REFILL):
        refills = finding.data.get("refills")
        for refill in refills if isinstance(refills, list) else []:
            if refill.get("ref") not in target_refs:
                continue
            previous = windows.get(str(refill.get("previous_ref")))
            runs_out = date.fromisoformat(str(refill["previous_runs_out"]))
            remaining = (runs_out - ctx.as_of).days
            last_fill = previous.start.isoformat() if previous else "unknown"
            supply = f"{previous.days}" if previous else "unknown"
            name = drug_name(inputs, str(refill["previous_ref"]))
            rows.append((name, last_fill, supply, remaining, runs_out.isoformat()))
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
    _, _, _, remaining, runs_out_on = rows[0]
    text = (
        f"Early opioid refill: previous supply lasts {remaining} more days (until {runs_out_on})."
    )
    settings = ctx.policy.early_refill
    if settings.tolerance_percent is not None:
        tolerance = f"{settings.tolerance_percent:g}% of the previous days supply"
    else:
        tolerance = f"{settings.tolerance_days} days"
    detail = [
        "The previous supply of this opioid is not used up beyond the clinic's tolerance"
        f" ({tolerance}):",
        "",
        "| previous supply | last fill | days supply | days remaining | runs out |",
        "|---|---|---|---|---|",
        *(f"| {' | '.join(str(value) for value in row)} |" for row in rows),
        "",
        f"Opioid fills in the last 6 months: **{fills}**.",
    ]
    offers = [suggestions.remove_draft(ref, drug_name(inputs, ref)) for ref in dict.fromkeys(refs)]
    return build_card(
        EARLY_REFILL, inputs, text=text, detail=detail, indicator="warning", offers=offers
    )


def monitoring_card(inputs: CardInputs) -> RuleCard | None:
    found = findings_of(inputs, MONITORING)
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
    detail = ["Due or unexpected under the clinic policy:", *bullets(found)]
    return build_card(
        MONITORING, inputs, text=text, detail=detail, indicator=worst(found), offers=offers
    )


def high_dose_card(inputs: CardInputs) -> RuleCard | None:
    found = findings_of(inputs, HIGH_DOSE)
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
        *bullets(found),
        *([f"- {r}" for r in mme.reasons] if not mme.complete else []),
    ]
    return build_card(HIGH_DOSE, inputs, text=text, detail=detail, indicator=worst(found))


def naloxone_card(inputs: CardInputs) -> RuleCard | None:
    found = findings_of(inputs, NALOXONE)
    if not found or not (_targets_opioid(inputs) or _targets_sedative(inputs)):
        return None
    factors = found[0].data.get("risk_factors")
    listed = "; ".join(str(f) for f in factors) if isinstance(factors, list) else ""
    text = f"No naloxone on record for a patient at risk of overdose ({listed})."
    offer = suggestions.add_naloxone(inputs.patient_id, inputs.user_id, inputs.ctx.as_of)
    detail = [
        *bullets(found),
        "",
        "CDC 2022 Recommendation 8: offer naloxone when overdose risk is increased.",
    ]
    return build_card(
        NALOXONE, inputs, text=text, detail=detail, indicator="warning", offers=[offer]
    )


#: In the order the cards are returned.
ORDER_CARD_BUILDERS = (
    coprescribing_card,
    early_refill_card,
    monitoring_card,
    high_dose_card,
    naloxone_card,
)
