"""Three to five talking points for the visit, generated from the findings.

PPACT's PCP summary ended with what to raise with the patient; the trial found that PCPs act on
a short list at the moment it is useful (product.md). Each point is one sentence that turns a
finding into something to say or do, following the CDC 2022 guideline recommendation the
finding cites, and links to the records it rests on. Findings are taken most urgent first;
findings on one topic (all sedative overlaps, all overdue monitoring) make one point. When the
findings give fewer than three points, the PPACT change and the regimen review fill in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from app.clinical.mme import format_mme
from app.clinical.model import Chart, Finding
from app.clinical.pro import intake_discharge
from app.clinical.views import anchors

MIN_POINTS = 3
MAX_POINTS = 5


@dataclass(frozen=True, slots=True)
class TalkingPoint:
    """One thing to raise, the finding codes it comes from and the records it rests on."""

    text: str
    codes: tuple[str, ...]
    anchors: tuple[str, ...]


def _mme(f: Finding) -> str:
    return (
        f"Dose is {format_mme(_num(f.data.get('total_mme')))} MME/day, at or above the clinic "
        f"threshold of {_num(f.data.get('threshold_mme')) or 0:g}: review benefits and "
        "risks and offer a slow taper if harms outweigh benefits."
    )


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


_SEDATIVE = (
    "Opioid with a sedative ({classes}): discuss the added overdose risk and a plan to taper "
    "the sedative where safe."
)

#: finding code -> (topic, sentence builder). One point per topic.
_POINTS: dict[str, tuple[str, Callable[[Finding], str]]] = {
    "mme-at-or-above-threshold": ("mme", _mme),
    "mme-incomplete": (
        "mme",
        lambda f: (
            "Total MME/day is incomplete: confirm the doses of the opioids listed as unknown."
        ),
    ),
    "naloxone-not-on-record": (
        "naloxone",
        lambda f: (
            "No naloxone on record: offer a naloxone prescription and show patient and "
            "family how to use it."
        ),
    ),
    "uds-unexpected": (
        "uds",
        lambda f: (
            f"Unexpected urine drug screen ({f.data.get('date')}): discuss it openly and "
            "without judgement; consider confirmatory testing before changing the plan."
        ),
    ),
    "early-refill": (
        "refills",
        lambda f: (
            f"{f.data.get('count')} early opioid refill(s) in {f.data.get('lookback_days')} "
            "days: ask how the medicine is being taken and review the treatment agreement."
        ),
    ),
    "multiple-opioid-prescribers": (
        "sources",
        lambda f: (
            "Opioids from several prescribers or pharmacies: check the PDMP and agree on "
            "one prescriber and one pharmacy."
        ),
    ),
    "multiple-pharmacies": (
        "sources",
        lambda f: (
            "Opioids from several prescribers or pharmacies: check the PDMP and agree on "
            "one prescriber and one pharmacy."
        ),
    ),
    "oud": (
        "oud",
        lambda f: "Opioid use disorder on record: offer or continue medication for OUD.",
    ),
    "overlapping-opioid-supply": (
        "overlap",
        lambda f: (
            "Supplies of different opioids overlap: confirm which opioids the patient "
            "actually takes."
        ),
    ),
}
_MONITORING = frozenset(
    {
        "uds-overdue",
        "agreement-overdue",
        "pdmp-check-overdue",
        "opioid-visit-overdue",
        "peg-overdue",
        "phq9-overdue",
    }
)
_MOOD = frozenset({"depression", "anxiety", "ptsd"})
_SEDATIVES = frozenset(
    {"triple-threat", "opioid-benzo-coprescribing", "opioid-cns-depressant-coprescribing"}
)


def talking_points(
    findings: Sequence[Finding], chart: Chart, as_of: date
) -> tuple[TalkingPoint, ...]:
    """Between three and five talking points, most urgent first.

    Args:
        findings: the patient's findings, most urgent first (`findings.evaluate`).
        chart: the patient's records (PPACT scores, regimen for the filler points).
        as_of: the day of the summary.
    """
    topics: dict[str, TalkingPoint] = {}

    def add(topic: str, text: str, codes: Sequence[str], refs: Sequence[str]) -> None:
        old = topics.get(topic)
        if old is None:
            topics[topic] = TalkingPoint(text, tuple(codes), anchors(refs))
        else:
            topics[topic] = TalkingPoint(
                old.text,
                tuple(dict.fromkeys((*old.codes, *codes))),
                tuple(dict.fromkeys((*old.anchors, *anchors(refs)))),
            )

    due = [f for f in findings if f.code in _MONITORING]
    mood = [f for f in findings if f.code in _MOOD]
    sedatives = [f for f in findings if f.code in _SEDATIVES]
    classes = [str(c) for f in sedatives for c in _list(f.data.get("classes"))]
    for f in findings:
        if f.code in _POINTS:
            topic, build = _POINTS[f.code]
            add(topic, build(f), [f.code], f.evidence)
        elif f.code in _SEDATIVES:
            add(
                "sedative",
                _SEDATIVE.format(classes=", ".join(dict.fromkeys(classes)) or "sedative"),
                [d.code for d in sedatives],
                [r for d in sedatives for r in d.evidence],
            )
        elif f.code in _MONITORING and due:
            what = ", ".join(str(d.data.get("key", d.code)).replace("-", " ") for d in due)
            add(
                "monitoring",
                f"Overdue under clinic policy: {what}. Complete them at this visit.",
                [d.code for d in due],
                [r for d in due for r in d.evidence],
            )
        elif f.code in _MOOD and mood:
            names = ", ".join(d.code.upper() if d.code == "ptsd" else d.code for d in mood)
            add(
                "mood",
                f"Active {names}: ask about mood and sleep; consider behavioural health support.",
                [d.code for d in mood],
                [r for d in mood for r in d.evidence],
            )
    points = list(topics.values())[:MAX_POINTS]
    if len(points) < MIN_POINTS:
        points += _fillers(chart, as_of)[: MIN_POINTS - len(points)]
    return tuple(points)


def _fillers(chart: Chart, as_of: date) -> list[TalkingPoint]:
    """Points from the PPACT scores and the regimen when the findings give too few."""
    fillers = []
    for row in intake_discharge(chart):
        if row.intake is None or row.discharge is None or row.change is None:
            continue
        name = {"peg": "PEG", "phq9": "PHQ-9", "gad7": "GAD-7"}[row.instrument]
        refs = (*row.intake.evidence, *row.discharge.evidence)
        text = (
            f"{name} went from {row.intake.score:g} to {row.discharge.score:g} during PPACT "
            f"({row.direction}): acknowledge the change and the skills behind it."
        )
        fillers.append(TalkingPoint(text, (), anchors(refs)))
    meds = [m.ref for m in chart.medications if m.classification.is_opioid]
    fillers.append(
        TalkingPoint(
            "Review function goals, the current regimen and its benefits against its harms.",
            (),
            anchors(meds[-3:]),
        )
    )
    fillers.append(
        TalkingPoint(
            "Ask about pain, function (PEG) and mood (PHQ-9) since the last visit.", (), ()
        )
    )
    fillers.append(
        TalkingPoint(
            f"Confirm the monitoring plan under the clinic policy as of {as_of.isoformat()}.",
            (),
            (),
        )
    )
    return fillers
