"""The PCP's outreach call at PPACT program start, filled from the chart -> `OutreachView`.

PPACT gave the PCP "a template for an outreach call to the patient at program start"
(product.md). The script below follows that call: introduce the program, name what the patient
takes today, ask about goals, say what happens next. It is filled from the summary's figures
(`summary.SummaryView`), so the call and the summary say the same thing; the page shows it in an
editable text box with a copy button. Nothing unknown is invented: a missing name or regimen
reads as a blank to fill in, in brackets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.clinical.summary import SummaryView

PROGRAM = "PPACT (Pain Program for Active Coping and Training)"
BLANK = "[...]"


@dataclass(frozen=True, slots=True)
class OutreachView:
    """The call script and the facts it was filled from.

    Args:
        patient_name: as charted, or None.
        program: program name.
        program_start: PPACT episode start, when on record.
        regimen: one line per current opioid ("oxycodone 30 mg tablet: take 1 every 6 hours").
        total_mme_text: "360.0 MME/day" (with "incomplete" when it is).
        goals: the descriptions of the PPACT goals on record (`summary.Ppact.goals`); empty
            when none are (the script then asks for them).
        script: the whole call as plain text, paragraphs separated by a blank line.
    """

    as_of: date
    patient_name: str | None
    program: str
    program_start: date | None
    regimen: tuple[str, ...]
    total_mme_text: str
    goals: tuple[str, ...]
    script: str


def build_outreach(summary: SummaryView, *, caller: str | None = None) -> OutreachView:
    """The outreach call script for the patient of `summary`.

    Args:
        summary: the patient's one-page summary view.
        caller: the PCP's name (the launch's user), when known.
    """
    patient = summary.patient
    first = patient.name.split()[0] if patient and patient.name else BLANK
    regimen = tuple(f"{row.drug}: {row.sig or 'sig not recorded'}" for row in summary.regimen.rows)
    available = summary.availability["medications"].available
    total = f"{summary.regimen.total_text} MME/day"
    if not summary.regimen.complete:
        total += " (incomplete: some doses could not be read)"
    if not available:
        total = "unknown (medications could not be loaded)"
    start = summary.ppact.start
    goals_loaded = summary.availability["goals"].available
    goals = tuple(goal.description for goal in summary.ppact.goals) if goals_loaded else ()
    goals_line = (
        f"The goals on record are: {'; '.join(goals)}. Are these still what matters most to you?"
        if goals
        else f"Goals: {BLANK}"
    )
    if not goals_loaded:
        goals_line = f"Goals: {BLANK} (goals could not be loaded from the chart; ask)"
    meds_text = (
        "\n".join(f"  - {line}" for line in regimen)
        if regimen
        else f"  - {BLANK} (no current opioid found; confirm with the patient)"
    )
    if not available:
        meds_text = f"  - {BLANK} (medication list could not be loaded; use the chart)"
    paragraphs = [
        f"Hello {first}, this is {caller or BLANK}, your primary care provider. Is now a good "
        "time to talk for about ten minutes?",
        f"I'm calling about {PROGRAM}"
        + (
            f", which {'starts' if start >= summary.as_of else 'started'} on {start.isoformat()}"
            if start
            else ""
        )
        + ". It is a program of about four months with a team that helps people living with "
        "long-term pain build skills for coping, movement and sleep. I'll stay your doctor "
        "throughout, and your medicines stay with me.",
        "Here is what I have on your list today; please tell me if anything is different:\n"
        + meds_text
        + f"\n  Total: {total}.",
        "What would you most like to be able to do that pain gets in the way of now? " + goals_line,
        "How have your mood and sleep been over the past two weeks?",
        "Next steps: the program team will call to schedule your first session. You can reach "
        f"me at {BLANK}. Do you have any questions for me?",
    ]
    return OutreachView(
        as_of=summary.as_of,
        patient_name=patient.name if patient else None,
        program=PROGRAM,
        program_start=start,
        regimen=regimen,
        total_mme_text=total,
        goals=goals,
        script="\n\n".join(paragraphs),
    )
