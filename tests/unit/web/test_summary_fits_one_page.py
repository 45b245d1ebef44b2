"""Every synthetic patient's summary prints on exactly one page (issue 4, "fits exactly one page").

The 50-patient cohort at the test as-of date and three weeks later (when the last fills have run
out and patient-reported statements carry the regimen), US Letter, through WeasyPrint
(the PDF route, `app.web.pdf.render_pdf`; pages counted with pypdf).
"""

from __future__ import annotations

import io
from datetime import timedelta

import pypdf
import pytest

from tests.unit.web.conftest import AS_OF, synthetic

COHORT = 50


@pytest.mark.parametrize("as_of", [AS_OF, AS_OF + timedelta(days=23)], ids=["as-of", "later"])
def test_every_synthetic_summary_prints_on_one_page(client, launch, loader, as_of):
    over = []
    for number in range(1, COHORT + 1):
        loader.resources = synthetic(number)
        launch_id = launch(patient_id=f"ppact-{number:04d}")
        response = client.get(f"/l/{launch_id}/summary.pdf?as_of={as_of.isoformat()}")
        assert response.status_code == 200
        pages = len(pypdf.PdfReader(io.BytesIO(response.content)).pages)
        if pages != 1:
            over.append((number, pages))
    assert over == []
