"""CDS fixtures: the real app (create_app) on a temp SQLite file, clock frozen at a non-UTC instant.

23:30 in Los Angeles on 2026-11-01 is already 2026-11-02 in UTC: the as-of date must be the
clinic's local day (2026-11-01), which every expectation below assumes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

NOW = datetime(2026, 11, 2, 7, 30, tzinfo=UTC)  # 2026-11-01 23:30 America/Los_Angeles
SELECT = "/cds-services/ppact-opioid-order-select"
SIGN = "/cds-services/ppact-opioid-order-sign"
VIEW = "/cds-services/ppact-cot-patient-view"


@contextmanager
def _factory(data_dir: Path) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        values: dict[str, Any] = {"data_dir": data_dir, "cds_allow_unsigned": True}
        values.update(overrides)
        app = create_app(Settings(**values))
        app.state.cds.clock = lambda: NOW
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.__exit__(None, None, None)


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Build a TestClient on create_app(Settings(...)) with overrides; closed at teardown."""
    with _factory(tmp_path) as make:
        yield make


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app per test module, for tests that neither snooze nor move the clock."""
    with _factory(tmp_path_factory.mktemp("cds")) as make:
        yield make()
