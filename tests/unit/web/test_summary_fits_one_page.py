"""Synthetic patients' summaries print on exactly one page (issue 4, "fits exactly one page").

The fullest pages of the cohort: the most complex patient (every block filled, referrals, a
non-opioid drug, folded risk findings, an earlier unexpected UDS) and one patient of each other
archetype with referrals or many findings, at the test as-of date and three weeks later (when
the last fills have run out and patient-reported statements carry the regimen), on US Letter
and A4, through the PDF route (`app.web.pdf.render_pdf`; pages counted with pypdf). The whole
50-patient cohort takes about 35 s; `PPACT_FULL_PAGE_CHECK=1` runs it.
"""

from __future__ import annotations

import io
import os
from datetime import timedelta

import pypdf
import pytest
from fastapi.testclient import TestClient

from tests.unit.web.conftest import AS_OF, synthetic

#: 1 complex; 2 high-dose ER; 3 taper; 4 stable; 5 escalation; 13 messy chart.
SAMPLE = (1, 2, 3, 4, 5, 13)
COHORT = tuple(range(1, 51)) if os.environ.get("PPACT_FULL_PAGE_CHECK") == "1" else SAMPLE


def _pdf(client: TestClient, launch_id: str, as_of: str) -> pypdf.PdfReader:
    response = client.get(f"/l/{launch_id}/summary.pdf?as_of={as_of}")
    assert response.status_code == 200
    return pypdf.PdfReader(io.BytesIO(response.content))


def _pages(client: TestClient, launch_id: str, as_of: str) -> int:
    return len(_pdf(client, launch_id, as_of).pages)


@pytest.mark.parametrize("as_of", [AS_OF, AS_OF + timedelta(days=23)], ids=["as-of", "later"])
def test_synthetic_summaries_print_on_one_letter_page(client, launch, loader, as_of):
    over = []
    for number in COHORT:
        loader.resources = synthetic(number)
        pages = _pages(client, launch(patient_id=f"ppact-{number:04d}"), as_of.isoformat())
        if pages != 1:
            over.append((number, pages))
    assert over == []


def test_most_complex_summary_prints_on_one_a4_page(client, launch, monkeypatch):
    state = client.app.state  # type: ignore[attr-defined]
    monkeypatch.setattr(state, "settings", state.settings.model_copy(update={"paper_size": "a4"}))
    for as_of in (AS_OF, AS_OF + timedelta(days=23)):
        pdf = _pdf(client, launch(), as_of.isoformat())
        assert len(pdf.pages) == 1
        assert round(float(pdf.pages[0].mediabox.width)) == 595  # A4: 210 mm in points
