"""The PPACT app, the test SMART server and the real FHIR server, wired for launch tests.

``launch_env`` starts the test SMART authorization server (a FHIR proxy in front of SEKMET) and the
PPACT app, both on uvicorn on 127.0.0.1, with the app's issuer registry pointing at the SMART
server (secured) and at its open FHIR path (open). A test-only JSON route,
``/l/{launch_id}/test-record``, reads the launch's patient through ``fhir_client_for`` and
``load_patient_record`` exactly as the pages do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request

from app.fhir.load import load_patient_record
from app.main import create_app
from app.settings import Settings
from app.storage.audit import audit
from app.web.context import LaunchDep, fhir_client_for
from smart_launch import ensure_dev_keys
from tests.integration.fhir_server import FhirTestServer, free_port
from tests.support.servers import serve
from tests.support.smart_server import RegisteredClient, SmartServerState, build_smart_server

AS_OF = date(2026, 11, 1)
CLIENT_ID = "ppact-test-client"
SECRET = "s3cr3t-for-tests-only"


@dataclass
class LaunchEnv:
    """Running servers of one test."""

    app: FastAPI
    app_base: str
    auth: SmartServerState
    settings: Settings

    @property
    def iss(self) -> str:
        """The secured FHIR base (behind the SMART server)."""
        return self.auth.fhir_base

    @property
    def open_iss(self) -> str:
        """An open FHIR base over the same data."""
        return f"{self.auth.base}/open/fhir"


def add_record_route(app: FastAPI) -> None:
    """The test-only JSON view of a launch's patient record."""

    async def test_record(request: Request, ctx: LaunchDep) -> dict[str, Any]:
        assert ctx.patient_id is not None
        async with fhir_client_for(request, ctx) as client:
            record = await load_patient_record(client, ctx.patient_id, as_of=AS_OF)
        audit(request, "view-test-record", ctx)
        patients = [r for r in record.resources if r["resourceType"] == "Patient"]
        return {
            "patient_id": ctx.patient_id,
            "family": patients[0]["name"][0]["family"] if patients else None,
            "sections": {name: status.state for name, status in record.sections.items()},
            "types": sorted({r["resourceType"] for r in record.resources}),
            "user": ctx.user,
            "may_read": {t: ctx.may_read(t) for t in ("Condition", "MedicationRequest")},
            "open_server": ctx.open_server,
        }

    app.add_api_route("/l/{launch_id}/test-record", test_record, methods=["GET"])


@contextmanager
def launch_env(
    fhir_server: FhirTestServer,
    tmp_path: Path,
    *,
    auth_method: str = "private_key_jwt",
    default_iss: bool = False,
    extra_issuers: list[dict[str, Any]] | None = None,
    metadata_only: bool = False,
) -> Iterator[LaunchEnv]:
    """Start the SMART server and the app; stop both when the block ends.

    ``metadata_only`` makes the SMART server publish its endpoints only in its CapabilityStatement.
    """
    app_port = free_port()
    app_base = f"http://127.0.0.1:{app_port}"
    keys = ensure_dev_keys(tmp_path / "keys")
    state = SmartServerState(
        fhir_upstream=fhir_server.base_url,
        fhir_token=fhir_server.token,
        metadata_only=metadata_only,
    )
    with serve(build_smart_server(state)) as auth_base:
        state.base = auth_base
        state.clients[CLIENT_ID] = RegisteredClient(
            client_id=CLIENT_ID,
            redirect_uri=f"{app_base}/callback",
            auth_method=auth_method,
            secret=SECRET if auth_method == "client_secret_basic" else None,
            jwks_url=f"{app_base}/.well-known/jwks.json",
        )
        issuer: dict[str, Any] = {
            "iss": state.fhir_base,
            "client_id": CLIENT_ID,
            "redirect_uri": f"{app_base}/callback",
            "auth_method": auth_method,
            "name": "Test EHR",
        }
        if auth_method == "client_secret_basic":
            issuer["client_secret"] = SECRET
        if auth_method == "private_key_jwt":
            issuer["key_id"] = keys.for_alg("ES384").kid
        settings = Settings(
            host="127.0.0.1",
            port=app_port,
            public_url=app_base,
            data_dir=tmp_path / "data",
            keys_dir=tmp_path / "keys",
            issuers=[issuer, {"iss": f"{auth_base}/open/fhir", "open": True}]
            + (extra_issuers or []),
            default_iss=state.fhir_base if default_iss else None,
        )
        app = create_app(settings)
        add_record_route(app)
        with serve(app, port=app_port):
            yield LaunchEnv(app=app, app_base=app_base, auth=state, settings=settings)


PATIENT_A = "e2e-alpha"
PATIENT_B = "e2e-beta"
HOSTILE_NAME = '<script>alert("x")</script>'
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _patient(pid: str, family: str, given: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"family": family, "given": [given]}],
        "gender": "female",
        "birthDate": "1960-04-02",
    }


def _opioid(rid: str, patient: str, code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient}"},
        "authoredOn": "2026-10-01",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}], "text": text},
        "dosageInstruction": [{"text": "1 tablet every 12 hours"}],
        "dispenseRequest": {
            "quantity": {"value": 60, "unit": "tablet"},
            "expectedSupplyDuration": {"value": 30, "unit": "days"},
        },
    }


def seed_patients(fhir_server: FhirTestServer) -> None:
    """Two charted patients, one with a hostile name, and enough others to page the picker."""
    resources = [
        _patient(PATIENT_A, "Alpha", "Alice"),
        _patient(PATIENT_B, "Beta", "Bob"),
        _patient("e2e-hostile", HOSTILE_NAME, "Mallory"),
        _opioid("e2e-mr-a", PATIENT_A, "1049621", "oxycodone 5 MG Oral Tablet"),
        _opioid("e2e-mr-b", PATIENT_B, "197696", "hydrocodone 10 MG / APAP 325 MG"),
        {
            "resourceType": "Condition",
            "id": "e2e-cond-a",
            "subject": {"reference": f"Patient/{PATIENT_A}"},
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                            "code": "problem-list-item",
                        }
                    ]
                }
            ],
            "code": {"text": "Chronic low back pain"},
        },
    ]
    resources += [_patient(f"e2e-filler-{n:02d}", f"Filler{n:02d}", "Pat") for n in range(22)]
    fhir_server.transaction(resources)
