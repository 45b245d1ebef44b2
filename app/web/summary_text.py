"""The one-page summary as plain text, for pasting into a note (``summary.txt`` and copy button).

Issue 4: "Copy to clipboard (a section or the whole summary as plain text for a note)". The
text holds the same figures as the page, section by section, in the same order, with
unavailable sections named as such; no HTML, no links.
"""

from __future__ import annotations

from app.clinical.summary import SummaryView


def _section(title: str, lines: list[str]) -> str:
    return "\n".join([title.upper(), *(f"- {line}" for line in lines or ["none on record"])])


def _unavailable(view: SummaryView, block: str) -> list[str] | None:
    state = view.availability[block]
    return None if state.available else [f"UNAVAILABLE: {'; '.join(state.reasons)}"]


def summary_text(view: SummaryView) -> str:
    """The summary as plain text, sections separated by blank lines."""
    p = view.patient
    head = "PPACT COT SUMMARY"
    if p is not None:
        head += f" - {p.name or 'name not recorded'}, {p.age if p.age is not None else '?'} y, "
        head += f"{p.sex or 'sex not recorded'}, MRN {p.mrn or 'not recorded'}"
    head += f"\nAs of {view.as_of.isoformat()}. {view.completeness} {view.cot_text}"
    r = view.regimen
    regimen = [
        f"{row.drug}: {row.sig or 'sig not recorded'}; {row.mme_text} MME/day"
        + ("; long-acting" if row.long_acting else "")
        + (f"; last fill {row.last_fill.isoformat()}" if row.last_fill else "")
        for row in r.rows
    ]
    total = f"Total {r.total_text} MME/day" + ("" if r.complete else " (INCOMPLETE)")
    regimen.append(total + "".join(f"; {reason}" for reason in r.reasons))
    regimen += [f"{row.drug} (not in total): {row.sig or ''}" for row in r.separate]
    sedatives = [
        f"{s.drug_class} ({', '.join(s.drugs)}): overlap since {s.overlap_start.isoformat()}"
        + (" (current)" if s.overlap_end is None else f" to {s.overlap_end.isoformat()}")
        for s in view.sedatives
    ]
    n = view.naloxone
    naloxone = [
        f"{n.drug} on {n.last_date.isoformat()}" if n.on_record and n.last_date else "not on record"
    ]
    risks = [f"[{x.severity}] {x.text}" for x in view.risks]
    if view.more_risks:
        risks.append(f"{view.more_risks} more on the dashboard")
    monitoring = [
        f"{m.label}: {m.status}"
        + (f", due {m.due_date.isoformat()}" if m.due_date else "")
        + (f" ({m.detail})" if m.detail else "")
        for m in view.monitoring
    ]
    pp = view.ppact
    ppact = [
        f"{row.label}: intake {_num(row.intake)} -> discharge {_num(row.discharge)}"
        + (f" (change {row.change:+g}, {row.direction})" if row.change is not None else "")
        for row in pp.rows
    ]
    if not pp.enrolled:
        ppact.insert(0, "No PPACT episode on record; latest scores:")
    goals = [
        f"Goal: {g.description}: {g.intake_text} -> {g.discharge_text} ({g.direction})"
        for g in pp.goals
    ] or ["Goals: none on record"]
    ppact += [f"Goals {line}" for line in _unavailable(view, "goals") or []] or goals
    parts = [
        head,
        _section("Current opioid regimen", _unavailable(view, "medications") or regimen),
        _section(
            "Sedatives and other CNS depressants", _unavailable(view, "medications") or sedatives
        ),
        _section("Naloxone", _unavailable(view, "medications") or naloxone),
        _section("Risk findings", risks),
        _section("Monitoring (clinic policy)", monitoring),
        _section("PPACT intake vs discharge", _unavailable(view, "pro") or ppact),
        _section(
            "Pertinent conditions",
            _unavailable(view, "conditions") or [f"{c.text}" for c in view.conditions],
        ),
        _section("Other treatments and referrals", [t.text for t in view.treatments]),
        _section("Talking points", [t.text for t in view.talking_points]),
    ]
    return "\n\n".join(parts) + "\n"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
