"""age-65-or-older: birthday boundary at the as-of date."""

from datetime import date

import pytest

from app.clinical.model import Chart, PatientInfo, Severity
from app.clinical.rules.age import OlderAdultRule
from app.clinical.rules.base import years_between
from tests.unit.clinical._rules_factory import AS_OF, context


def _chart(birth_date: date | None) -> Chart:
    return Chart(patient=PatientInfo(ref="Patient/p1", birth_date=birth_date))


def test_65th_birthday_on_the_as_of_date_is_flagged():
    (finding,) = OlderAdultRule().evaluate(context(_chart(date(1961, 11, 1))))
    assert finding.code == "age-65-or-older"
    assert finding.severity is Severity.LOW
    assert finding.data["age_years"] == 65
    assert finding.evidence == ("Patient/p1",)


def test_65th_birthday_the_day_after_as_of_is_not_flagged():
    assert OlderAdultRule().evaluate(context(_chart(date(1961, 11, 2)))) == ()


def test_no_birth_date_says_nothing():
    assert OlderAdultRule().evaluate(context(_chart(None))) == ()
    assert OlderAdultRule().evaluate(context(Chart())) == ()


@pytest.mark.parametrize(
    ("born", "on", "years"),
    [
        pytest.param(date(1960, 2, 29), date(2025, 2, 28), 64, id="leap-day-not-yet"),
        pytest.param(date(1960, 2, 29), date(2025, 3, 1), 65, id="leap-day-reached-1-march"),
        pytest.param(date(1960, 2, 29), date(2024, 2, 29), 64, id="leap-day-in-leap-year"),
        pytest.param(date(2000, 1, 1), date(1999, 12, 31), -1, id="before-birth"),
        pytest.param(date(1961, 11, 1), AS_OF, 65, id="birthday"),
    ],
)
def test_years_between_counts_whole_years(born, on, years):
    assert years_between(born, on) == years
