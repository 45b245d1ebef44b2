"""Every evidence link on the summary opens a row of the dashboard (issue 4, "every number links
to its evidence"), including the prescriptions of reported regimens, referrals, non-opioid drugs
and earlier flagged urine drug screens."""

from __future__ import annotations

import re

import pytest

from tests.unit.web.conftest import AS_OF

LATER = "2026-11-24"  # the last fills have run out; statements carry the regimen


@pytest.mark.parametrize("as_of", [AS_OF.isoformat(), LATER])
def test_every_summary_evidence_link_has_a_dashboard_row(client, launch, as_of):
    launch_id = launch()
    summary = client.get(f"/l/{launch_id}/summary?as_of={as_of}").text
    dashboard = client.get(f"/l/{launch_id}/dashboard?as_of={as_of}").text
    targets = set(re.findall(r'href="[^"#]*#(ev-[^"]+)"', summary))
    assert "ev-Observation-ppact-0001-uds-013" in targets
    assert any(t.startswith("ev-ServiceRequest-ppact-0001-sr-") for t in targets)
    if as_of == LATER:
        prescriptions = {f"ev-MedicationRequest-ppact-0001-mr-0{n}" for n in (27, 72)}
        assert prescriptions <= targets
    assert [t for t in targets if f'id="{t}"' not in dashboard] == []
