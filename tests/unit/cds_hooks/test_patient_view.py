"""The patient-view COT status card for the most complex synthetic patient (ppact-0001).

It has more key findings than the card lists: the MME thresholds are one line (the highest
reached), unexpected UDS and missing naloxone come right after it, and the rest are counted.
"""

from __future__ import annotations

import re

import pytest

from app.synth import generate_cohort, most_complex_patient_id
from tests.unit.cds_hooks.conftest import VIEW
from tests.unit.cds_hooks.support import ANCHOR, bundle_resources, hook_request, prefetch_for


@pytest.fixture(scope="module")
def status_card(client):
    pid = most_complex_patient_id()
    assert pid == "ppact-0001"
    resources = bundle_resources(generate_cohort(patients=1, anchor=ANCHOR)[0])
    body = hook_request("patient-view", pid, prefetch=prefetch_for(resources))
    (card,) = client.post(VIEW, json=body).json()["cards"]
    return card


def bullets(detail: str) -> list[str]:
    section = detail.split("**Key findings:**", 1)[1].split("**Due:**", 1)[0]
    return [line for line in section.splitlines() if line.startswith("- ")]


def test_mme_thresholds_are_one_line_with_the_highest_reached(status_card):
    lines = bullets(status_card["detail"])
    mme_lines = [line for line in lines if "MME/day, at or above the clinic threshold" in line]
    assert mme_lines == [lines[0]]
    assert "threshold of 90 MME/day" in lines[0]


def test_unexpected_uds_and_naloxone_come_right_after_mme(status_card):
    lines = bullets(status_card["detail"])
    assert lines[1].startswith("- Urine drug screen") and "unexpected" in lines[1]
    assert lines[2].startswith("- No naloxone on record")


def test_the_findings_not_listed_are_counted(status_card):
    total = int(re.search(r"; (\d+) finding\(s\)", status_card["summary"])[1])
    lines = bullets(status_card["detail"])
    assert total > 6
    assert len(lines) == 7
    assert lines[-1] == f"- +{total - 6} more (see the app)"
