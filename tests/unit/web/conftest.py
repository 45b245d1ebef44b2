"""Page test fixtures: the real app, a real session and launch record, a patched record loader.

The FHIR loader is replaced by one that returns a synthetic patient's resources with chosen
section statuses (the loader itself is tested against a real server in tests/integration);
FHIR writes and the EHR style document go through respx.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.clinical.chart import bundle_resources
from app.fhir.load import PatientRecord, SectionStatus
from app.main import create_app
from app.settings import Settings
from app.storage.sessions import COOKIE_NAME, LaunchRecord
from app.synth.bundle import DEFAULT_SEED, patient_bundle
from app.web import pages

AS_OF = date(2026, 11, 1)
ISS = "https://ehr.example.org/fhir"
FULL_SCOPE = (
    "launch openid fhirUser patient/Patient.rs patient/MedicationRequest.rs "
    "patient/MedicationDispense.rs patient/MedicationStatement.rs patient/Medication.rs "
    "patient/Condition.rs patient/Observation.rs patient/DocumentReference.rs "
    "patient/DocumentReference.c patient/QuestionnaireResponse.rs patient/Procedure.rs "
    "patient/Encounter.rs patient/ServiceRequest.rs patient/CarePlan.rs patient/EpisodeOfCare.rs "
    "patient/Goal.rs"
)


def synthetic(number: int = 1) -> list[dict[str, Any]]:
    return bundle_resources(patient_bundle(number, seed=DEFAULT_SEED, anchor=AS_OF))


class FakeLoader:
    """Stands in for `load_patient_record`: fixed resources, chosen section statuses."""

    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = synthetic(1)
        self.sections: dict[str, SectionStatus] = {"patient": SectionStatus("complete", None, 1)}
        self.error: Exception | None = None
        self.calls = 0
        self.kwargs: dict[str, Any] = {}

    async def __call__(
        self, client: Any, patient_id: str, *, as_of: date, **kwargs: Any
    ) -> PatientRecord:
        self.calls += 1
        self.kwargs = kwargs
        if self.error is not None:
            raise self.error
        return PatientRecord(list(self.resources), dict(self.sections))


@pytest.fixture
def loader(monkeypatch: pytest.MonkeyPatch) -> FakeLoader:
    fake = FakeLoader()
    monkeypatch.setattr(pages, "load_patient_record", fake)
    return fake


@pytest.fixture
def client(tmp_path, loader) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path))
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def launch(client: TestClient) -> Callable[..., str]:
    """Create a launch for this client's browser session; returns its launch id."""
    sessions = client.app.state.smart.sessions  # type: ignore[attr-defined]
    session_id = sessions.new_session()
    client.cookies.set(COOKIE_NAME, sessions.cookie_value(session_id))
    counter = iter(range(1000))

    def make(**fields: Any) -> str:
        launch_id = f"launch{next(counter)}"
        values: dict[str, Any] = {
            "iss": ISS,
            "open_server": False,
            "patient_id": "ppact-0001",
            "user": "Practitioner/ppact-prac-01",
            "scope": FULL_SCOPE,
            "access_token": "token-123",
            "expires_at": datetime.now(UTC) + timedelta(hours=1),
        }
        values.update(fields)
        sessions.save_launch(LaunchRecord(launch_id=launch_id, session_id=session_id, **values))
        return launch_id

    return make
