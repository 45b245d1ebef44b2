"""Patient goals on the summary, its plain text, the dashboard and the outreach script."""

from __future__ import annotations

import io
import re

import pypdf
import pytest

from app.fhir.load import SectionStatus
from tests.unit.web.conftest import AS_OF, synthetic

Q = f"?as_of={AS_OF.isoformat()}"
COMPLEX_GOALS = (  # started the same day: in order of description
    "Play with grandchildren without a flare",
    "Return to part-time work",
    "Walk 20 minutes a day",
)


def test_summary_shows_each_goal_with_intake_discharge_and_direction(client, launch):
    html = client.get(f"/l/{launch()}/summary{Q}").text
    table = html.split('<table class="goals">', 1)[1].split("</table>", 1)[0]
    for text in COMPLEX_GOALS:
        assert text in table
    assert table.count("set 2026-05-15") == 3
    assert "achieved (2026-09-12)" in table and "not achieved (2026-09-12)" in table
    assert 'class="dir dir-better">better<' in table and 'class="dir dir-worse">worse<' in table
    assert "Not recorded as structured data" not in html
    anchors = re.findall(r'href="[^"#]*#(ev-Goal-[^"]+)"', table)
    dashboard = client.get(f"/l/{launch()}/dashboard{Q}").text
    assert len(anchors) == 3
    for anchor in anchors:
        assert f'id="{anchor}"' in dashboard


def test_summary_without_goals_says_none_on_record(client, launch, loader):
    loader.resources = [r for r in synthetic(1) if r["resourceType"] != "Goal"]
    html = client.get(f"/l/{launch()}/summary{Q}").text
    assert "No goals on record; ask (see outreach call)." in html


def test_goals_not_permitted_are_unavailable_not_none(client, launch):
    scope = "launch openid fhirUser patient/Patient.rs patient/EpisodeOfCare.rs"
    html = client.get(f"/l/{launch(scope=scope)}/summary{Q}").text
    assert "Patient goals unavailable." in html
    assert "not granted read access to Goal" in html
    assert "No goals on record" not in html
    outreach = client.get(f"/l/{launch(scope=scope)}/outreach{Q}").text
    assert "goals could not be loaded from the chart" in outreach


def test_failed_goal_search_is_named_in_the_plain_text(client, launch, loader):
    loader.sections = {"goal": SectionStatus("failed", "FHIR server timed out", 0)}
    text = client.get(f"/l/{launch()}/summary.txt{Q}").text
    assert "- Goals UNAVAILABLE: goal could not be loaded: FHIR server timed out" in text


def test_plain_text_and_outreach_carry_the_goals(client, launch):
    text = client.get(f"/l/{launch()}/summary.txt{Q}").text
    ppact = text.split("PPACT INTAKE VS DISCHARGE", 1)[1].split("\n\n", 1)[0]
    assert (
        "- Goal: Walk 20 minutes a day: set 2026-05-15 -> not achieved (2026-09-12) (worse)"
        in ppact
    )
    outreach = client.get(f"/l/{launch()}/outreach{Q}").text
    assert "The goals on record are: " + "; ".join(COMPLEX_GOALS) in outreach


def test_dashboard_has_a_goals_section(client, launch):
    html = client.get(f"/l/{launch()}/dashboard{Q}").text
    section = html.split('<section id="goals"', 1)[1].split("</section>", 1)[0]
    assert "Patient goals" in section
    assert "3 record(s) from goal" in section
    for text in COMPLEX_GOALS:
        assert text in section
    assert "Graded walking plan from 5 minutes." in section


@pytest.mark.parametrize("number", [1, 3, 16, 29, 42])
def test_summary_with_goals_prints_on_one_page(client, launch, loader, number):
    # The synthetic patients with a PPACT episode, hence goals (ongoing for ppact-0029).
    loader.resources = synthetic(number)
    assert sum(r["resourceType"] == "Goal" for r in loader.resources) >= 2
    launch_id = launch(patient_id=f"ppact-{number:04d}")
    response = client.get(f"/l/{launch_id}/summary.pdf{Q}")
    assert response.status_code == 200
    assert len(pypdf.PdfReader(io.BytesIO(response.content)).pages) == 1
