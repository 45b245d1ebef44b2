"""Which prefetch keys count as satisfied, and what is then fetched (CDS Hooks 2.0 "Prefetch")."""

from __future__ import annotations

import pytest

from cds_hooks.prefetch import PREFETCH_SECTIONS, is_satisfied, missing_keys, needs_fetch
from tests.unit.cds_hooks.support import monitored_cot_patient, prefetch_for, searchset

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
