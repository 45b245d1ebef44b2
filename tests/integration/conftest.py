"""Integration fixtures: a real FHIR R4 server (SEKMET) on 127.0.0.1, one per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.fhir_server import FhirTestServer, start_fhir_server, stop_fhir_server


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirTestServer]:
    """A running FHIR server with its own temp data directory; stopped at session end."""
    server = start_fhir_server(tmp_path_factory.mktemp("fhir-server"))
    try:
        yield server
    finally:
        stop_fhir_server(server)


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio only."""
    return "asyncio"
