"""The default synthetic cohort, generated once per test session (generation takes < 1 s)."""

from datetime import date
from typing import Any

import pytest

from app.synth import generate_cohort

ANCHOR = date(2026, 11, 1)


@pytest.fixture(scope="session")
def cohort() -> list[dict[str, Any]]:
    """The 50-patient cohort for seed 7 anchored on 2026-11-01."""
    return generate_cohort(patients=50, seed=7, anchor=ANCHOR)


@pytest.fixture(scope="session")
def bundles_by_patient(cohort: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The cohort keyed by patient id."""
    out = {}
    for bundle in cohort:
        patient = next(
            e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
        )
        out[patient["id"]] = bundle
    return out
