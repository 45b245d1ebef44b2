"""Charts for the page view-model tests: synthetic cohort patients and small hand-built ones."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from app.clinical.chart import build_chart, bundle_resources
from app.clinical.model import Chart
from app.synth.bundle import DEFAULT_SEED, patient_bundle

AS_OF = date(2026, 11, 1)
FHIR = Path(__file__).parents[2] / "fixtures" / "fhir"


@dataclass(frozen=True)
class Status:
    """A loader section status (the shape of app.fhir.load.SectionStatus)."""

    state: str
    reason: str | None = None


@cache
def cohort_resources(number: int) -> tuple[dict[str, Any], ...]:
    """FHIR resources of synthetic patient `number` (history before AS_OF)."""
    return tuple(bundle_resources(patient_bundle(number, seed=DEFAULT_SEED, anchor=AS_OF)))


def cohort_chart(number: int) -> Chart:
    return build_chart(cohort_resources(number))


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FHIR / f"{name}.json").read_text())
    return data


def patient(name: str = "Test Patient", pid: str = "p1") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"text": name}],
        "gender": "female",
        "birthDate": "1970-05-17",
    }


def opioid_request(
    rid: str, authored: str, *, sig: str = "Take 1 tablet by mouth every 6 hours", qty: int = 120
) -> dict[str, Any]:
    """An oxycodone 5 mg tablet order for 30 days."""
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": authored,
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "1049621",
                    "display": "oxycodone hydrochloride 5 MG Oral Tablet",
                }
            ]
        },
        "requester": {"display": "Dr Prescriber"},
        "dosageInstruction": [
            {
                "text": sig,
                "timing": {"repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
            }
        ],
        "dispenseRequest": {
            "quantity": {"value": qty, "unit": "tablet"},
            "expectedSupplyDuration": {"value": 30, "unit": "days", "code": "d"},
        },
    }


def naloxone_request(rid: str, authored: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": authored,
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "1725059",
                    "display": "naloxone hydrochloride 4 MG/ACTUAT Nasal Spray",
                }
            ]
        },
    }
