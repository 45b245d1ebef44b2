"""Patient-reported outcome scores (PEG, PHQ-9, GAD-7) and PPACT intake vs discharge.

The PPACT one-page summary shows the intake and discharge assessment side by side; the COT
dashboard shows their trend. Scores are read from Observations (a total, a panel with item
components, or one Observation per item) and from QuestionnaireResponses (the total item, or the
sum of the item answers).

Instruments and codes (LOINC):
- PEG (Krebs et al., J Gen Intern Med 2009): mean of three 0-10 items, pain on average 91145-3,
  interference with enjoyment of life 91146-1, with general activity 91147-9; score 91148-7.
  No severity bands.
- PHQ-9 (Kroenke et al. 2001): total 44261-6 (panel 44249-1), nine items 0-3, 0-27; bands 0-4
  minimal, 5-9 mild, 10-14 moderate, 15-19 moderately severe, 20-27 severe.
- GAD-7 (Spitzer et al. 2006): total 70274-6 (panel 69737-5), seven items 0-3, 0-21; bands
  0-4 minimal, 5-9 mild, 10-14 moderate, 15-21 severe.

A score outside its range is kept as a `ProScore` with ``band=None`` and a `problem`, and is never
used for intake/discharge. A response that cannot be scored (items missing, ambiguous answers)
gives no score and a sentence in `pro_problems`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from app.clinical.model import (
    LOINC,
    Chart,
    Code,
    EpisodeRecord,
    ObservationRecord,
    QuestionnaireAnswer,
    QuestionnaireResponseRecord,
)

#: Observation statuses whose values are results.
RESULT_STATUSES = frozenset({"final", "amended", "corrected"})
#: QuestionnaireResponse statuses that are finished answers.
RESPONSE_STATUSES = frozenset({"completed", "amended"})
#: Intake/discharge scores are taken within this many days of the episode start/end.
EPISODE_WINDOW_DAYS = 30


@dataclass(frozen=True, slots=True)
class _Instrument:
    key: str
    label: str
    total_codes: frozenset[str]
    panel_codes: frozenset[str]
    item_codes: tuple[str, ...]
    item_max: float
    score_max: float
    mean: bool  # PEG is the mean of its items; the others are sums
    bands: tuple[tuple[float, str], ...]  # (lowest score of band, band)
    url_pattern: re.Pattern[str]


INSTRUMENTS: tuple[_Instrument, ...] = (
    _Instrument(
        key="peg",
        label="PEG",
        total_codes=frozenset({"91148-7"}),
        panel_codes=frozenset(),
        item_codes=("91145-3", "91146-1", "91147-9"),
        item_max=10,
        score_max=10,
        mean=True,
        bands=(),
        url_pattern=re.compile(r"(?<![a-z])peg(?![a-z])"),
    ),
    _Instrument(
        key="phq9",
        label="PHQ-9",
        total_codes=frozenset({"44261-6"}),
        panel_codes=frozenset({"44249-1"}),
        item_codes=(
            "44250-9",
            "44255-8",
            "44259-0",
            "44254-1",
            "44251-7",
            "44258-2",
            "44252-5",
            "44253-3",
            "44260-8",
        ),
        item_max=3,
        score_max=27,
        mean=False,
        bands=(
            (0, "minimal"),
            (5, "mild"),
            (10, "moderate"),
            (15, "moderately-severe"),
            (20, "severe"),
        ),
        url_pattern=re.compile(r"phq-?9"),
    ),
    _Instrument(
        key="gad7",
        label="GAD-7",
        total_codes=frozenset({"70274-6"}),
        panel_codes=frozenset({"69737-5"}),
        item_codes=("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"),
        item_max=3,
        score_max=21,
        mean=False,
        bands=((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe")),
        url_pattern=re.compile(r"gad-?7"),
    ),
)
_BY_KEY = {i.key: i for i in INSTRUMENTS}


@dataclass(frozen=True, slots=True)
class ProScore:
    """One score of one instrument on one day.

    Args:
        instrument: "peg", "phq9" or "gad7".
        date: the day it was taken (effective / authored).
        score: the score (PEG: mean of the items; PHQ-9, GAD-7: sum).
        band: severity band; None for PEG and for an out-of-range score.
        ref: the Observation or QuestionnaireResponse it came from (PEG items: the first item).
        problem: why the score is not used, when it is out of range.
        evidence: every record the score rests on.
    """

    instrument: str
    date: date
    score: float
    band: str | None
    ref: str
    problem: str | None = None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProComparison:
    """Intake vs discharge of one instrument for a PPACT episode (lower is better for all)."""

    instrument: str
    intake: ProScore | None
    discharge: ProScore | None
    change: float | None  # discharge - intake
    direction: str  # "better" | "worse" | "unchanged" | "unknown"


def band_for(instrument: str, score: float) -> str | None:
    """The severity band of a valid score; None for PEG or out of range."""
    spec = _BY_KEY[instrument]
    if not spec.bands or not 0 <= score <= spec.score_max:
        return None
    band = spec.bands[0][1]
    for lowest, name in spec.bands:
        if score >= lowest:
            band = name
    return band


def pro_scores(chart: Chart) -> tuple[ProScore, ...]:
    """Every PEG, PHQ-9 and GAD-7 score in the chart, by date then instrument."""
    return _read(chart)[0]


def pro_problems(chart: Chart) -> tuple[str, ...]:
    """Sentences for the scores that could not be read or are out of range."""
    return _read(chart)[1]


def intake_discharge(
    chart: Chart, *, episode_start: date | None = None, episode_end: date | None = None
) -> tuple[ProComparison, ...]:
    """Intake vs discharge scores for the patient's PPACT episode, one row per instrument.

    Args:
        chart: the patient's records.
        episode_start: program start; when None, taken from the latest PPACT episode.
        episode_end: program end; when None, taken from that episode (None while ongoing).

    Returns:
        PEG, PHQ-9 and GAD-7, in that order. Intake is the score nearest the start within
        30 days either side (a tie goes to the earlier); discharge the score nearest the end
        within 30 days (a tie goes to the later), never the intake score itself.
    """
    episode = ppact_episode(chart)
    start = episode_start if episode_start is not None else (episode.start if episode else None)
    end = episode_end if episode_end is not None else (episode.end if episode else None)
    usable = [s for s in pro_scores(chart) if s.problem is None]
    rows: list[ProComparison] = []
    for spec in INSTRUMENTS:
        scores = [s for s in usable if s.instrument == spec.key]
        intake = _nearest(scores, start, prefer_later=False)
        rest = [s for s in scores if intake is None or s is not intake]
        discharge = _nearest(rest, end, prefer_later=True)
        rows.append(_compare(spec.key, intake, discharge))
    return tuple(rows)


def ppact_episode(chart: Chart) -> EpisodeRecord | None:
    """The latest-starting EpisodeOfCare/CarePlan whose type or text mentions PPACT."""
    episodes = [
        e
        for e in chart.episodes
        if e.start is not None and e.status != "entered-in-error" and _mentions_ppact(e)
    ]
    return max(episodes, key=lambda e: (e.start or date.min, e.ref), default=None)


# --------------------------------------------------------------------------- reading


def _read(chart: Chart) -> tuple[tuple[ProScore, ...], tuple[str, ...]]:
    scores: list[ProScore] = []
    problems: list[str] = []
    loose_items: dict[tuple[str, date], list[tuple[str, str, float | None]]] = {}
    for obs in chart.observations:
        if obs.status not in RESULT_STATUSES or obs.effective is None:
            continue
        codes = _loinc(obs.codes)
        for spec in INSTRUMENTS:
            if codes & spec.total_codes:
                value = obs.value_quantity.value if obs.value_quantity else None
                _add(scores, problems, spec, obs.effective, value, obs.ref, (obs.ref,))
            elif obs.components and (
                codes & spec.panel_codes or _component_codes(obs) & _all(spec)
            ):
                _from_components(scores, problems, spec, obs, obs.effective)
            elif codes & set(spec.item_codes):
                value = obs.value_quantity.value if obs.value_quantity else None
                item = next(c for c in spec.item_codes if c in codes)
                loose_items.setdefault((spec.key, obs.effective), []).append((item, obs.ref, value))
    for (key, day), items in sorted(loose_items.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        _from_loose_items(scores, problems, _BY_KEY[key], day, items)
    for response in chart.questionnaire_responses:
        _from_response(scores, problems, response)
    unique = {(s.instrument, s.date, s.score, s.problem): s for s in sorted(scores, key=_order)}
    return tuple(sorted(unique.values(), key=_order)), tuple(problems)


def _from_components(
    scores: list[ProScore],
    problems: list[str],
    spec: _Instrument,
    obs: ObservationRecord,
    day: date,
) -> None:
    values: dict[str, float | None] = {}
    for component in obs.components:
        codes = _loinc(component.codes)
        value = component.value_quantity.value if component.value_quantity else None
        if codes & spec.total_codes:
            _add(scores, problems, spec, day, value, obs.ref, (obs.ref,))
            return
        for code in codes & set(spec.item_codes):
            values[code] = value
    _from_items(scores, problems, spec, day, values, obs.ref, (obs.ref,))


def _from_loose_items(
    scores: list[ProScore],
    problems: list[str],
    spec: _Instrument,
    day: date,
    items: list[tuple[str, str, float | None]],
) -> None:
    if any(s.instrument == spec.key and s.date == day for s in scores):
        return  # a total on the same day already gave the score
    values: dict[str, float | None] = {}
    refs = tuple(sorted({ref for _, ref, _ in items}))
    for code, ref, value in items:
        if code in values and values[code] != value:
            problems.append(
                f"{spec.label} on {day.isoformat()}: item {code} has two different answers "
                f"(see {ref}); not scored."
            )
            return
        values[code] = value
    first = next((ref for code, ref, _ in sorted(items) if code == spec.item_codes[0]), refs[0])
    _from_items(scores, problems, spec, day, values, first, refs)


def _from_response(
    scores: list[ProScore], problems: list[str], response: QuestionnaireResponseRecord
) -> None:
    if response.status not in RESPONSE_STATUSES or response.authored is None:
        return
    spec = _response_instrument(response)
    if spec is None:
        return
    values: dict[str, float | None] = {}
    uncoded: list[QuestionnaireAnswer] = []
    for answer in response.answers:
        codes = _answer_codes(answer)
        if codes & spec.total_codes:
            _add(
                scores,
                problems,
                spec,
                response.authored,
                answer.value,
                response.ref,
                (response.ref,),
            )
            return
        items = codes & set(spec.item_codes)
        if items:
            values[next(iter(items))] = answer.value
        elif not codes and answer.value is not None:
            uncoded.append(answer)
    if not values and len(uncoded) == len(spec.item_codes):
        # Answers without codes: only usable when there is exactly one per item.
        values = {code: a.value for code, a in zip(spec.item_codes, uncoded, strict=True)}
    elif not values and uncoded:
        problems.append(
            f"{spec.label} in {response.ref}: {len(uncoded)} uncoded numeric answers for "
            f"{len(spec.item_codes)} items; not scored."
        )
        return
    _from_items(scores, problems, spec, response.authored, values, response.ref, (response.ref,))


def _from_items(
    scores: list[ProScore],
    problems: list[str],
    spec: _Instrument,
    day: date,
    values: dict[str, float | None],
    ref: str,
    evidence: tuple[str, ...],
) -> None:
    missing = [c for c in spec.item_codes if values.get(c) is None]
    if missing:
        problems.append(
            f"{spec.label} in {ref} on {day.isoformat()}: {len(missing)} of "
            f"{len(spec.item_codes)} items have no numeric answer ({', '.join(missing)}); "
            "not scored."
        )
        return
    numbers = [float(values[c] or 0.0) for c in spec.item_codes]
    bad = [c for c, v in zip(spec.item_codes, numbers, strict=True) if not 0 <= v <= spec.item_max]
    if bad:
        problems.append(
            f"{spec.label} in {ref} on {day.isoformat()}: item(s) {', '.join(bad)} outside "
            f"0-{spec.item_max:g}; not scored."
        )
        return
    total = sum(numbers)
    score = round(total / len(numbers), 2) if spec.mean else total
    _add(scores, problems, spec, day, score, ref, evidence)


def _add(
    scores: list[ProScore],
    problems: list[str],
    spec: _Instrument,
    day: date,
    value: float | None,
    ref: str,
    evidence: tuple[str, ...],
) -> None:
    if value is None:
        problems.append(f"{spec.label} in {ref} on {day.isoformat()}: no numeric score; not read.")
        return
    problem = None
    integral_needed = not spec.mean
    if not 0 <= value <= spec.score_max or (integral_needed and value != int(value)):
        kind = "whole number " if integral_needed else ""
        problem = (
            f"{spec.label} score {value:g} on {day.isoformat()} is not a {kind}in "
            f"0-{spec.score_max:g}; not used."
        )
        problems.append(f"{problem[:-1]} ({ref}).")
    band = None if problem else band_for(spec.key, value)
    scores.append(ProScore(spec.key, day, float(value), band, ref, problem, evidence))


# --------------------------------------------------------------------------- helpers


def _response_instrument(response: QuestionnaireResponseRecord) -> _Instrument | None:
    url = (response.questionnaire or "").lower()
    for spec in INSTRUMENTS:
        if spec.url_pattern.search(url):
            return spec
    answered = set().union(*(_answer_codes(a) for a in response.answers))
    for spec in INSTRUMENTS:
        if answered & _all(spec):
            return spec
    return None


def _answer_codes(answer: QuestionnaireAnswer) -> set[str]:
    """LOINC codes of an item: its codes, else a linkId that is a LOINC code ("/44250-9")."""
    codes = _loinc(answer.codes)
    if not codes:
        tail = answer.link_id.rsplit("/", 1)[-1]
        if re.fullmatch(r"\d{1,7}-\d", tail):
            codes = {tail}
    return codes


def _loinc(codes: Iterable[Code]) -> set[str]:
    return {c.code for c in codes if c.system == LOINC}


def _component_codes(obs: ObservationRecord) -> set[str]:
    return set().union(*(_loinc(c.codes) for c in obs.components))


def _all(spec: _Instrument) -> set[str]:
    return set(spec.total_codes) | set(spec.item_codes)


def _order(score: ProScore) -> tuple[date, str, str]:
    return (score.date, score.instrument, score.ref)


def _mentions_ppact(episode: EpisodeRecord) -> bool:
    words = [episode.text or ""]
    words += [f"{c.code} {c.display or ''}" for c in episode.type_codes]
    return any("ppact" in w.lower() for w in words)


def _nearest(
    scores: Sequence[ProScore], anchor: date | None, *, prefer_later: bool
) -> ProScore | None:
    if anchor is None:
        return None
    window = timedelta(days=EPISODE_WINDOW_DAYS)
    near = [s for s in scores if anchor - window <= s.date <= anchor + window]
    if not near:
        return None

    def key(s: ProScore) -> tuple[int, int, str]:
        distance = abs((s.date - anchor).days)
        order = -s.date.toordinal() if prefer_later else s.date.toordinal()
        return (distance, order, s.ref)

    return min(near, key=key)


def _compare(instrument: str, intake: ProScore | None, discharge: ProScore | None) -> ProComparison:
    if intake is None or discharge is None:
        return ProComparison(instrument, intake, discharge, None, "unknown")
    change = round(discharge.score - intake.score, 2)
    direction = "better" if change < 0 else "worse" if change > 0 else "unchanged"
    return ProComparison(instrument, intake, discharge, change, direction)
