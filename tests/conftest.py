"""Shared fixtures: an explicit as-of date so date arithmetic in tests never depends on today."""

from datetime import date

import pytest

AS_OF = date(2026, 11, 1)


@pytest.fixture
def as_of() -> date:
    """The as-of date most clinical tests compute against."""
    return AS_OF
