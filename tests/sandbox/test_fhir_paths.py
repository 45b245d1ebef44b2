"""The product's FHIR paths against a real server: loader, summary view model, CDS without prefetch.

Runs on every target of `fhir_target` (the local server in `make test`, the HAPI sandbox under
`-m sandbox`). A few synthetic patients are loaded per run (see conftest.py); each test reads
them back through the same code the pages and the CDS service use, and asserts the results equal
those computed from the generated Bundle itself and those from the local server.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.clinical.chart import build_chart, chart_from_bundle
from app.clinical.findings import evaluate
from app.clinical.mme import total_mme
from app.clinical.model import Chart
from app.clinical.monitoring import monitoring_status
from app.clinical.policy import default_policy
from app.clinical.summary import build_summary
from app.fhir.client import FhirClient
from app.fhir.load import PatientRecord, load_patient_record
from app.main import create_app
from app.seed import has_tag
from app.settings import Settings
from app.web.summary_text import summary_text
from tests.sandbox.conftest import AS_OF, PATIENT_NUMBERS, LoadedRun

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

PATIENTS = [f"ppact-{n:04d}" for n in PATIENT_NUMBERS]
POLICY = default_policy()
CDS_NOW = datetime(2026, 11, 1, 18, 0, tzinfo=UTC)  # 10:00 in the clinic: as-of 2026-11-01


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def load(run: LoadedRun, patient_id: str) -> PatientRecord:
    token = run.target.token

    async def bearer() -> str | None:
        return token

    async with FhirClient(run.target.base_url, access_token=bearer if token else None) as client:
        return await load_patient_record(client, run.server_id(patient_id), as_of=AS_OF)


def unprefixed(value: Any, prefix: str) -> Any:
    """`value` as plain JSON, with the run's id prefix taken out of every reference and id."""
    text = json.dumps(value, default=str)
    return json.loads(text.replace(prefix, "") if prefix else text)


def results(chart: Chart, prefix: str) -> dict[str, Any]:
    """What the summary and the CDS cards rest on, comparable across servers and runs."""
    mme = total_mme(chart.medications, as_of=AS_OF)
    findings = evaluate(chart, POLICY, AS_OF)
    monitoring = monitoring_status(chart, POLICY, AS_OF)
    out = {
        "total_mme": round(mme.total_mme, 6),
        "mme_complete": mme.complete,
        "mme_lines": sorted((ln.code, ln.mme_per_day) for ln in mme.lines),
        "mme_reasons": list(mme.reasons),
        "findings": [(f.code, str(f.severity), sorted(f.evidence)) for f in findings],
        "monitoring": [(m.key, str(m.status), m.last_date, m.due_date) for m in monitoring],
        "summary_text": summary_text(build_summary(chart, POLICY, AS_OF)),
    }
    return unprefixed(out, prefix)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- loader


@pytest.mark.parametrize("patient_id", PATIENTS)
async def test_loader_reads_the_whole_record_and_nothing_else(loaded, patient_id):
    record = await load(loaded, patient_id)
    assert record.complete, {k: (s.state, s.reason) for k, s in record.sections.items()}
    keys = {f"{r['resourceType']}/{r['id']}" for r in record.resources}
    written = {
        f"{e['resource']['resourceType']}/{loaded.prefix}{e['resource']['id']}"
        for e in loaded.originals[patient_id]["entry"]
    }
    assert f"Patient/{loaded.server_id(patient_id)}" in keys
    assert keys <= written, "resources of another patient or run came back"
    assert all(has_tag(r, loaded.tag) for r in record.resources)
    medication_types = ("MedicationRequest", "MedicationDispense", "MedicationStatement")
    assert sum(k.startswith(medication_types) for k in keys) > 0


# ---------------------------------------------------------------------- summary


@pytest.mark.parametrize("patient_id", PATIENTS)
async def test_summary_results_equal_those_of_the_generated_bundle(loaded, patient_id):
    record = await load(loaded, patient_id)
    from_server = results(build_chart(record.resources), loaded.prefix)
    from_bundle = results(chart_from_bundle(loaded.originals[patient_id]), "")
    assert from_server == from_bundle


@pytest.mark.parametrize("patient_id", PATIENTS)
async def test_summary_results_equal_those_of_the_local_server(loaded, local_run, patient_id):
    here = results(build_chart((await load(loaded, patient_id)).resources), loaded.prefix)
    local = results(build_chart((await load(local_run, patient_id)).resources), local_run.prefix)
    assert here == local


def test_the_most_complex_patient_shows_what_the_cohort_promises(loaded):
    import asyncio

    record = asyncio.run(load(loaded, "ppact-0001"))
    found = results(build_chart(record.resources), loaded.prefix)
    assert found["total_mme"] >= 90
    codes = {code for code, _, _ in found["findings"]}
    assert "opioid-benzo-coprescribing" in codes


# ---------------------------------------------------------------------- CDS


def cds_cards(
    run: LoadedRun, patient_id: str, service_id: str, tmp_path: Path
) -> list[dict[str, Any]]:
    """Call a CDS service with no prefetch; the service fetches from the run's server."""
    settings = Settings(
        data_dir=tmp_path / run.target.name,
        cds_allow_unsigned=True,
        cds_fhir_servers=[run.target.base_url],
        cds_fetch_deadline_ms=10_000,
        timezone="America/Los_Angeles",
    )
    body: dict[str, Any] = {
        "hook": "patient-view" if service_id.endswith("patient-view") else "order-sign",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": run.target.base_url,
        "context": {"userId": "Practitioner/ppact-pcp-01", "patientId": run.server_id(patient_id)},
    }
    if run.target.token:
        body["fhirAuthorization"] = {
            "access_token": run.target.token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "ppact-cds",
        }
    if body["hook"] == "order-sign":
        body["context"]["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": draft_oxycodone(run.server_id(patient_id))}],
        }
    app = create_app(settings)
    with TestClient(app) as client:
        app.state.cds.clock = lambda: CDS_NOW
        response = client.post(f"/cds-services/{service_id}", json=body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    return [
        unprefixed(
            {k: card.get(k) for k in ("summary", "indicator", "detail", "source")}, run.prefix
        )
        for card in cards
    ]


def draft_oxycodone(patient_server_id: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "draft-1",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_server_id}"},
        "authoredOn": "2026-11-01",
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "1049621",
                    "display": "oxycodone hydrochloride 5 MG Oral Tablet",
                }
            ]
        },
        "dosageInstruction": [
            {
                "text": "1 tablet every 6 hours as needed",
                "timing": {"repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
            }
        ],
        "dispenseRequest": {
            "quantity": {"value": 120, "unit": "tablet"},
            "expectedSupplyDuration": {"value": 30, "unit": "days"},
        },
    }


@pytest.mark.parametrize("service_id", ["ppact-cot-patient-view", "ppact-opioid-order-sign"])
@pytest.mark.parametrize("patient_id", ["ppact-0001", "ppact-0013"])
def test_cds_without_prefetch_gives_the_cards_of_the_local_server(
    loaded, local_run, tmp_path, patient_id, service_id
):
    here = cds_cards(loaded, patient_id, service_id, tmp_path)
    local = cds_cards(local_run, patient_id, service_id, tmp_path)
    assert here, "the service answered no card"
    topics = {c["source"].get("topic", {}).get("code") for c in here}
    assert "service-error" not in topics
    assert here == local
