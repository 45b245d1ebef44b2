"""Fixtures for the FHIR edge: an asyncio backend for anyio tests and a fake clock for retries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

BASE = "https://ehr.example.org/fhir/R4"


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio only (the product runs on uvicorn's asyncio loop)."""
    return "asyncio"


@dataclass
class FakeTime:
    """A monotonic clock and a sleep that advances it instantly, recording each wait."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> Iterator[FakeTime]:
    yield FakeTime()
