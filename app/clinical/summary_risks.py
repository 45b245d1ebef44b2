"""The risk findings of the one-page summary: folded by topic, then cut to the page.

Issue 4 "risk findings in priority order": the core (`findings.evaluate_context`) returns the
findings sorted by severity; several of them can say one thing (MME at each clinic threshold,
opioid + each sedative class), and on a page that shows `MAX_RISKS` rows they pushed different
ones (an unexpected urine drug screen) to the dashboard. Same-topic findings become one row
before the cut; the dashboard keeps every finding with its own evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.clinical.model import Finding
from app.clinical.views import anchors as to_anchors

#: Risk findings shown on the page; the rest are counted and live on the dashboard.
MAX_RISKS = 8
#: Longer risk sentences lose their closing parenthesis (drug lists); the dashboard has all.
SHORT_RISK_CHARS = 110
_NOT_RISKS = frozenset({"cot"})
#: Findings folded into one row on the page (`risks`); the dashboard lists each one.
_SAME_TOPIC = {
    "opioid-benzo-coprescribing": "sedatives",
    "opioid-cns-depressant-coprescribing": "sedatives",
    "multiple-opioid-prescribers": "sources",
    "multiple-pharmacies": "sources",
}


@dataclass(frozen=True, slots=True)
class RiskRow:
    code: str
    severity: str
    text: str
    citation: str
    citation_url: str
    anchors: tuple[str, ...]


def risks(findings: tuple[Finding, ...], as_of: date) -> tuple[RiskRow, ...]:
    """The risk findings as page rows, same-topic findings folded into one row each.

    Folding comes before the page cut (`MAX_RISKS`) so that several findings on one topic do
    not push a different one (an unexpected UDS) off the page: MME at each threshold -> the
    highest threshold reached; opioid + benzodiazepine / other CNS depressant overlaps -> one
    row naming the classes (the triple-threat row stays); prescribers and pharmacies -> one row.
    A folded row keeps the place and severity of its most urgent finding and every anchor.
    """
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        if f.code not in _NOT_RISKS:
            groups.setdefault(_SAME_TOPIC.get(f.code, f.code), []).append(f)
    rows = []
    for topic, members in groups.items():
        first = members[0]
        text = _short(first.text)
        if topic == "mme-at-or-above-threshold":
            first = max(members, key=_threshold)
            text = first.text
        elif topic == "sedatives" and len(members) > 1:
            text = _sedative_text(members, as_of)
        elif len(members) > 1:
            text = " ".join(_short(m.text) for m in members)
        evidence = [ref for m in members for ref in m.evidence]
        rows.append(
            RiskRow(
                first.code, str(members[0].severity), text, first.citation.label,
                first.citation.url, to_anchors(evidence),
            )
        )  # fmt: skip
    return tuple(rows)


def _threshold(finding: Finding) -> float:
    value = finding.data.get("threshold_mme")
    return float(value) if isinstance(value, int | float) else 0.0


def _sedative_text(members: list[Finding], as_of: date) -> str:
    """One sentence for the folded co-prescribing findings: the classes and the overlap."""
    classes = [str(m.data.get("subclass", "")) for m in members if m.data.get("subclass")]
    starts = [str(m.data["overlap_start"]) for m in members if "overlap_start" in m.data]
    ends = [str(m.data["overlap_end"]) for m in members if "overlap_end" in m.data]
    names = ", ".join(dict.fromkeys(classes)) or "sedatives"
    if not starts or not ends:
        return f"Opioid supplies overlap with {names}."
    first, last = min(starts), max(ends)
    when = f"since {first} (current)" if last >= as_of.isoformat() else f"{first} to {last}"
    return f"Opioid supplies overlap with {names} {when}."


def _short(text: str) -> str:
    """A finding sentence without its closing parenthesised list when it runs long."""
    if len(text) <= SHORT_RISK_CHARS or not text.endswith(").") or " (" not in text:
        return text
    depth = 0
    for index in range(len(text) - 2, -1, -1):
        depth += {")": 1, "(": -1}.get(text[index], 0)
        if depth == 0:
            return text[:index].rstrip() + "."
    return text
