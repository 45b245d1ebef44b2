"""Which prefetch keys count as satisfied, and what is then fetched (CDS Hooks 2.0 "Prefetch")."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qsl

import pytest

from cds_hooks.prefetch import (
    PREFETCH_BOUNDS,
    PREFETCH_SECTIONS,
    is_satisfied,
    missing_keys,
    needs_fetch,
    prefetch_templates,
)
from tests.unit.cds_hooks.conftest import SELECT
from tests.unit.cds_hooks.support import (
    ANCHOR,
    OXY_5,
    dispense,
    hook_request,
    medication_request,
    monitored_cot_patient,
    prefetch_for,
    searchset,
)

OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}


@pytest.mark.parametrize(
    ("value", "satisfied"),
    [
        pytest.param(None, True, id="null-means-no-data"),
        pytest.param({"resourceType": "Patient", "id": "p"}, True, id="resource"),
        pytest.param(searchset([]), True, id="empty-bundle"),
        pytest.param(OUTCOME, False, id="operation-outcome"),
        pytest.param(
            {**searchset([]), "link": [{"relation": "next", "url": "https://x/p2"}]},
            False,
            id="paged-bundle",
        ),
        pytest.param([], False, id="not-an-object"),
        pytest.param({"id": "no-type"}, False, id="no-resource-type"),
    ],
)
def test_is_satisfied(value, satisfied):
    assert is_satisfied(value) is satisfied


def test_missing_keys_lists_absent_and_unusable_keys():
    prefetch = prefetch_for(monitored_cot_patient("p1"))
    assert missing_keys(prefetch) == ()
    del prefetch["encounter"]
    prefetch["procedure"] = OUTCOME
    assert missing_keys(prefetch) == ("procedure", "encounter")
    assert missing_keys(None) == tuple(PREFETCH_SECTIONS)


def test_a_medication_reference_not_in_the_prefetch_needs_a_fetch():
    prefetch = prefetch_for(monitored_cot_patient("p1"))
    assert not needs_fetch(prefetch)
    request = prefetch["medication-dispense"]["entry"][0]["resource"]
    request["medicationReference"] = {"reference": "Medication/m-1"}
    assert needs_fetch(prefetch)
    prefetch["medication-request"]["entry"].append(
        {"resource": {"resourceType": "Medication", "id": "m-1"}}
    )
    assert not needs_fetch(prefetch)
    request["medicationReference"] = {"reference": "#contained"}
    assert not needs_fetch(prefetch)


def test_history_templates_are_bounded_most_recent_first():
    templates = prefetch_templates()
    for key, (sort, count) in PREFETCH_BOUNDS.items():
        query = dict(parse_qsl(templates[key].split("?", 1)[1]))
        assert query["_sort"] == sort and sort.startswith("-"), key
        assert int(query["_count"]) == count, key
    # Early refill reads 180 days of fills: the bound is far above that for a monthly regimen.
    assert PREFETCH_BOUNDS["medication-dispense"][1] >= 6 * 10
    unbounded = {"patient", "condition-problem-list", "condition-health-concern"}
    assert set(PREFETCH_SECTIONS) - set(PREFETCH_BOUNDS) == unbounded


def test_a_long_history_prefetch_fits_the_default_body_limit(make_client):
    client = make_client()  # the default cds_max_body_bytes
    limit = client.app.state.settings.cds_max_body_bytes
    resources = monitored_cot_patient("p1")
    # 3,000 old fills (eight years of fills of ten drugs), as a server ignoring `_count` sends them.
    for n in range(3000):
        day = ANCHOR - timedelta(days=200 + n)
        resources.append(dispense(f"old-{n}", OXY_5, day, patient="p1"))
    draft = medication_request("d1", *OXY_5, patient="p1", authored=ANCHOR.isoformat())
    body = json.dumps(
        hook_request("order-select", "p1", drafts=[draft], prefetch=prefetch_for(resources))
    )
    assert 2 * 1024 * 1024 < len(body) < limit
    response = client.post(SELECT, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert "cards" in response.json()
