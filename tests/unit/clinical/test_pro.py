"""PEG, PHQ-9 and GAD-7 scores from Observations and QuestionnaireResponses; intake vs discharge."""

from datetime import date

import pytest

from app.clinical.model import (
    LOINC,
    Chart,
    Code,
    EpisodeRecord,
    ObservationComponent,
    ObservationRecord,
    Quantity,
    QuestionnaireAnswer,
    QuestionnaireResponseRecord,
)
from app.clinical.pro import (
    ProScore,
    band_for,
    intake_discharge,
    pro_problems,
    pro_scores,
)

PHQ9_ITEMS = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5")
PHQ9_ITEMS += ("44253-3", "44260-8")
GAD7_ITEMS = ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")


def loinc(code):
    return (Code(LOINC, code),)


def obs(ident, code, day, value=None, *, status="final", components=()):
    return ObservationRecord(
        ref=f"Observation/{ident}",
        codes=loinc(code),
        status=status,
        effective=day,
        value_quantity=Quantity(value) if value is not None else None,
        components=components,
    )


def component(code, value):
    return ObservationComponent(codes=loinc(code), value_quantity=Quantity(value))


def response(ident, url, day, answers, *, status="completed"):
    return QuestionnaireResponseRecord(
        ref=f"QuestionnaireResponse/{ident}",
        questionnaire=url,
        status=status,
        authored=day,
        answers=tuple(answers),
    )


def answer(link_id, value, code=None):
    return QuestionnaireAnswer(link_id=link_id, codes=loinc(code) if code else (), value=value)


@pytest.mark.parametrize(
    ("instrument", "score", "band"),
    [
        pytest.param("phq9", 0, "minimal", id="phq9-0"),
        pytest.param("phq9", 4, "minimal", id="phq9-4"),
        pytest.param("phq9", 5, "mild", id="phq9-5"),
        pytest.param("phq9", 9, "mild", id="phq9-9"),
        pytest.param("phq9", 10, "moderate", id="phq9-10"),
        pytest.param("phq9", 14, "moderate", id="phq9-14"),
        pytest.param("phq9", 15, "moderately-severe", id="phq9-15"),
        pytest.param("phq9", 19, "moderately-severe", id="phq9-19"),
        pytest.param("phq9", 20, "severe", id="phq9-20"),
        pytest.param("phq9", 27, "severe", id="phq9-27"),
        pytest.param("phq9", 28, None, id="phq9-28-out-of-range"),
        pytest.param("gad7", 4, "minimal", id="gad7-4"),
        pytest.param("gad7", 5, "mild", id="gad7-5"),
        pytest.param("gad7", 10, "moderate", id="gad7-10"),
        pytest.param("gad7", 14, "moderate", id="gad7-14"),
        pytest.param("gad7", 15, "severe", id="gad7-15"),
        pytest.param("gad7", 21, "severe", id="gad7-21"),
        pytest.param("gad7", 22, None, id="gad7-22-out-of-range"),
        pytest.param("peg", 5, None, id="peg-has-no-bands"),
    ],
)
def test_bands(instrument, score, band):
    assert band_for(instrument, score) == band


def test_totals_from_observations():
    chart = Chart(
        observations=(
            obs("phq", "44261-6", date(2026, 3, 1), 12),
            obs("gad", "70274-6", date(2026, 3, 1), 7),
            obs("peg", "91148-7", date(2026, 3, 1), 6.5),
        )
    )
    assert pro_scores(chart) == (
        ProScore(
            "gad7", date(2026, 3, 1), 7.0, "mild", "Observation/gad", None, ("Observation/gad",)
        ),
        ProScore("peg", date(2026, 3, 1), 6.5, None, "Observation/peg", None, ("Observation/peg",)),
        ProScore(
            "phq9",
            date(2026, 3, 1),
            12.0,
            "moderate",
            "Observation/phq",
            None,
            ("Observation/phq",),
        ),
    )


def test_peg_is_the_mean_of_three_item_observations():
    # (7 + 6 + 6) / 3 = 6.333 -> 6.33
    day = date(2026, 3, 1)
    chart = Chart(
        observations=(
            obs("pain", "91145-3", day, 7),
            obs("enjoy", "91146-1", day, 6),
            obs("activity", "91147-9", day, 6),
        )
    )
    (score,) = pro_scores(chart)
    assert (score.instrument, score.score, score.ref) == ("peg", 6.33, "Observation/pain")
    assert score.evidence == ("Observation/activity", "Observation/enjoy", "Observation/pain")


def test_peg_with_a_missing_item_is_not_scored_and_says_so():
    day = date(2026, 3, 1)
    chart = Chart(observations=(obs("pain", "91145-3", day, 7), obs("enjoy", "91146-1", day, 6)))
    assert pro_scores(chart) == ()
    assert pro_problems(chart) == (
        "PEG in Observation/pain on 2026-03-01: 1 of 3 items have no numeric answer (91147-9); "
        "not scored.",
    )


def test_peg_total_wins_over_items_on_the_same_day():
    day = date(2026, 3, 1)
    chart = Chart(
        observations=(
            obs("total", "91148-7", day, 5),
            obs("pain", "91145-3", day, 7),
            obs("enjoy", "91146-1", day, 6),
            obs("activity", "91147-9", day, 6),
        )
    )
    assert [(s.score, s.ref) for s in pro_scores(chart)] == [(5.0, "Observation/total")]


def test_phq9_panel_with_item_components_is_summed():
    values = (1, 2, 3, 0, 1, 2, 3, 0, 1)  # sum 13
    panel = obs(
        "panel",
        "44249-1",
        date(2026, 3, 1),
        components=tuple(component(c, v) for c, v in zip(PHQ9_ITEMS, values, strict=True)),
    )
    (score,) = pro_scores(Chart(observations=(panel,)))
    assert (score.instrument, score.score, score.band) == ("phq9", 13.0, "moderate")


def test_phq9_panel_with_total_component_uses_the_total():
    panel = obs("panel", "44249-1", date(2026, 3, 1), components=(component("44261-6", 21),))
    (score,) = pro_scores(Chart(observations=(panel,)))
    assert (score.score, score.band) == (21.0, "severe")


def test_out_of_range_score_is_kept_without_band_and_with_a_problem():
    chart = Chart(observations=(obs("phq", "44261-6", date(2026, 3, 1), 35),))
    (score,) = pro_scores(chart)
    assert score.band is None
    assert score.problem == "PHQ-9 score 35 on 2026-03-01 is not a whole number in 0-27; not used."
    assert pro_problems(chart) == (
        "PHQ-9 score 35 on 2026-03-01 is not a whole number in 0-27; not used (Observation/phq).",
    )


def test_fractional_phq9_total_is_a_problem():
    (score,) = pro_scores(Chart(observations=(obs("phq", "44261-6", date(2026, 3, 1), 12.5),)))
    assert score.problem is not None and score.band is None


def test_preliminary_and_entered_in_error_observations_are_not_scores():
    chart = Chart(
        observations=(
            obs("a", "44261-6", date(2026, 3, 1), 12, status="preliminary"),
            obs("b", "44261-6", date(2026, 3, 2), 12, status="entered-in-error"),
        )
    )
    assert pro_scores(chart) == ()


def test_questionnaire_response_phq9_by_url_sums_coded_items_and_skips_difficulty_item():
    answers = [answer(f"q{i}", 2, code) for i, code in enumerate(PHQ9_ITEMS)]  # 18
    answers.append(answer("difficulty", 3, "69722-7"))
    qr = response("qr", "http://loinc.org/q/44249-1|PHQ-9", date(2026, 4, 1), answers)
    (score,) = pro_scores(Chart(questionnaire_responses=(qr,)))
    assert (score.instrument, score.score, score.band) == ("phq9", 18.0, "moderately-severe")
    assert score.ref == "QuestionnaireResponse/qr"


def test_questionnaire_response_matched_by_link_ids_that_are_loinc_codes():
    answers = [answer(f"/{code}", 1) for code in GAD7_ITEMS]  # 7
    qr = response("qr", "Questionnaire/abc", date(2026, 4, 1), answers)
    (score,) = pro_scores(Chart(questionnaire_responses=(qr,)))
    assert (score.instrument, score.score, score.band) == ("gad7", 7.0, "mild")


def test_questionnaire_response_total_item_is_used():
    answers = [answer("1", 3, "91145-3"), answer("total", 4, "91148-7")]
    qr = response("qr", "https://example.org/Questionnaire/peg-3", date(2026, 4, 1), answers)
    (score,) = pro_scores(Chart(questionnaire_responses=(qr,)))
    assert (score.instrument, score.score) == ("peg", 4.0)


def test_uncoded_answers_are_summed_only_when_one_per_item():
    seven = [answer(str(i), 3) for i in range(7)]
    qr = response("qr", "http://example.org/gad-7", date(2026, 4, 1), seven)
    (score,) = pro_scores(Chart(questionnaire_responses=(qr,)))
    assert score.score == 21.0
    eight = [*seven, answer("total", 21)]
    qr = response("qr2", "http://example.org/gad-7", date(2026, 4, 1), eight)
    chart = Chart(questionnaire_responses=(qr,))
    assert pro_scores(chart) == ()
    assert pro_problems(chart) == (
        "GAD-7 in QuestionnaireResponse/qr2: 8 uncoded numeric answers for 7 items; not scored.",
    )


def test_item_answer_outside_item_range_is_not_scored():
    answers = [answer(f"q{i}", 4 if i == 0 else 1, code) for i, code in enumerate(PHQ9_ITEMS)]
    qr = response("qr", "http://example.org/phq9", date(2026, 4, 1), answers)
    chart = Chart(questionnaire_responses=(qr,))
    assert pro_scores(chart) == ()
    assert pro_problems(chart) == (
        "PHQ-9 in QuestionnaireResponse/qr on 2026-04-01: item(s) 44250-9 outside 0-3; not scored.",
    )


def test_in_progress_response_is_ignored():
    answers = [answer(f"q{i}", 1, code) for i, code in enumerate(GAD7_ITEMS)]
    qr = response("qr", "http://example.org/gad7", date(2026, 4, 1), answers, status="in-progress")
    assert pro_scores(Chart(questionnaire_responses=(qr,))) == ()


def test_unrelated_questionnaire_is_ignored():
    qr = response("qr", "http://example.org/pegasus-survey", date(2026, 4, 1), [answer("a", 3)])
    assert pro_scores(Chart(questionnaire_responses=(qr,))) == ()


# ----------------------------------------------------------------- intake vs discharge

EPISODE = EpisodeRecord(
    ref="EpisodeOfCare/ppact",
    text="PPACT pain program",
    status="finished",
    start=date(2026, 3, 1),
    end=date(2026, 7, 1),
)


def test_intake_and_discharge_are_the_scores_nearest_the_episode_ends():
    chart = Chart(
        episodes=(EPISODE,),
        observations=(
            obs("phq-early", "44261-6", date(2026, 1, 15), 22),  # 45 days before start: outside
            obs("phq-in", "44261-6", date(2026, 2, 20), 18),  # 9 days before start
            obs("phq-mid", "44261-6", date(2026, 5, 1), 14),
            obs("phq-out", "44261-6", date(2026, 7, 10), 9),  # 9 days after end
            obs("peg-in", "91148-7", date(2026, 3, 3), 7),
            obs("peg-out", "91148-7", date(2026, 6, 25), 7),
            obs("gad-in", "70274-6", date(2026, 3, 1), 6),
            obs("gad-out", "70274-6", date(2026, 6, 30), 9),
        ),
    )
    peg, phq9, gad7 = intake_discharge(chart)
    assert (phq9.intake.ref, phq9.discharge.ref) == ("Observation/phq-in", "Observation/phq-out")
    assert (phq9.change, phq9.direction) == (-9.0, "better")
    assert (peg.change, peg.direction) == (0.0, "unchanged")
    assert (gad7.change, gad7.direction) == (3.0, "worse")


def test_tie_goes_to_the_earlier_score_for_intake_and_the_later_for_discharge():
    episode = EpisodeRecord(
        ref="CarePlan/p", text="ppact", start=date(2026, 3, 10), end=date(2026, 7, 10)
    )
    chart = Chart(
        episodes=(episode,),
        observations=(
            obs("before", "44261-6", date(2026, 3, 5), 10),
            obs("after", "44261-6", date(2026, 3, 15), 12),
            obs("end-before", "44261-6", date(2026, 7, 5), 8),
            obs("end-after", "44261-6", date(2026, 7, 15), 6),
        ),
    )
    phq9 = intake_discharge(chart)[1]
    assert phq9.intake.ref == "Observation/before"
    assert phq9.discharge.ref == "Observation/end-after"
    assert phq9.change == -4.0


def test_ongoing_episode_has_no_discharge():
    ongoing = EpisodeRecord(ref="EpisodeOfCare/p", text="PPACT", start=date(2026, 3, 1))
    chart = Chart(episodes=(ongoing,), observations=(obs("in", "44261-6", date(2026, 3, 1), 10),))
    phq9 = intake_discharge(chart)[1]
    assert phq9.intake is not None
    assert (phq9.discharge, phq9.change, phq9.direction) == (None, None, "unknown")


def test_no_ppact_episode_gives_unknown_for_every_instrument():
    other = EpisodeRecord(ref="EpisodeOfCare/x", text="Diabetes program", start=date(2026, 3, 1))
    chart = Chart(episodes=(other,), observations=(obs("in", "44261-6", date(2026, 3, 1), 10),))
    rows = intake_discharge(chart)
    assert [r.instrument for r in rows] == ["peg", "phq9", "gad7"]
    assert all(r.direction == "unknown" and r.intake is None for r in rows)


def test_explicit_episode_dates_override_the_chart():
    chart = Chart(
        observations=(
            obs("a", "70274-6", date(2026, 1, 1), 15),
            obs("b", "70274-6", date(2026, 4, 1), 5),
        )
    )
    gad7 = intake_discharge(chart, episode_start=date(2026, 1, 5), episode_end=date(2026, 4, 2))[2]
    assert (gad7.intake.score, gad7.discharge.score, gad7.direction) == (15.0, 5.0, "better")


def test_short_episode_does_not_use_one_score_as_both_intake_and_discharge():
    chart = Chart(observations=(obs("only", "44261-6", date(2026, 3, 10), 10),))
    phq9 = intake_discharge(chart, episode_start=date(2026, 3, 1), episode_end=date(2026, 3, 20))[1]
    assert phq9.intake is not None
    assert phq9.discharge is None


def test_out_of_range_scores_are_not_used_for_intake():
    chart = Chart(
        episodes=(EPISODE,),
        observations=(
            obs("bad", "44261-6", date(2026, 3, 1), 40),
            obs("good", "44261-6", date(2026, 3, 20), 12),
        ),
    )
    assert intake_discharge(chart)[1].intake.ref == "Observation/good"


def test_episode_found_by_type_code_display():
    from app.clinical.model import SNOMED

    episode = EpisodeRecord(
        ref="EpisodeOfCare/e",
        type_codes=(Code(SNOMED, "x", "PPACT program"),),
        start=date(2026, 3, 1),
        end=date(2026, 7, 1),
    )
    chart = Chart(
        episodes=(episode,),
        observations=(
            obs("a", "44261-6", date(2026, 3, 1), 10),
            obs("b", "44261-6", date(2026, 7, 1), 4),
        ),
    )
    assert intake_discharge(chart)[1].change == -6.0
