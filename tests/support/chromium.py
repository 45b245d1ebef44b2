"""Debian's Chromium for the tests that drive a real browser (Playwright, never a downloaded build).

Missing Chromium skips those tests with the reason, except under PPACT_REQUIRE_BROWSER=1 (CI),
where it fails them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

CHROMIUM = Path("/usr/bin/chromium")
#: Headless flags that keep Chromium off the (closed) network and quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def browser_unavailable(what: str) -> NoReturn:
    """Skip with `what`, or fail when the environment requires the browser tests."""
    if os.environ.get("PPACT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{what} (PPACT_REQUIRE_BROWSER=1)")
    pytest.skip(what)


def require_chromium() -> str:
    """The Chromium executable path, or skip/fail as `browser_unavailable` says."""
    if not CHROMIUM.exists():
        browser_unavailable(
            "Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    return str(CHROMIUM)
