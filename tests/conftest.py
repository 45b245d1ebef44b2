"""Shared fixtures: an explicit as-of date so date arithmetic in tests never depends on today."""

from datetime import date

import pytest

# Throwaway PostgreSQL and Redis servers (session-scoped fixtures `postgres_url`, `redis_url`).
pytest_plugins = ["tests.support.db_servers"]

AS_OF = date(2026, 11, 1)


@pytest.fixture
def as_of() -> date:
    """The as-of date most clinical tests compute against."""
    return AS_OF
