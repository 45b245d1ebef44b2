"""The FHIR servers the sandbox suite runs against, and a few synthetic patients loaded into each.

`fhir_target` is parametrized: "local" (SEKMET on 127.0.0.1, started here) runs in `make test`;
"sandbox" (PPACT_SANDBOX_FHIR, default the public HAPI R4 sandbox) carries the `sandbox` marker,
so only `make test-sandbox` (`pytest -m sandbox`) runs it. An unreachable sandbox skips with one
reason, naming the URL.

Each load is a `retagged` copy of the cohort: ids get a per-run prefix and resources a per-run
tag (`urn:ppact-cot:run|<hex>`), so runs on a shared server never collide, and the finalizer
deletes exactly that run, also when a test failed, then checks nothing of it is left.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from app.seed import retagged, run_remove, run_seed
from app.synth.bundle import patient_bundle
from tests.integration.fhir_server import start_fhir_server, stop_fhir_server

SANDBOX_DEFAULT = "https://hapi.fhir.org/baseR4"
AS_OF = date(2026, 11, 1)  # the cohort's anchor
SEED = 7
#: complex-high-risk, moud, excluded-cancer, messy-chart: the rule paths that differ most.
PATIENT_NUMBERS = (1, 6, 10, 13)


@dataclass(frozen=True)
class Target:
    """One FHIR server under test."""

    name: str
    base_url: str
    token: str | None


@dataclass(frozen=True)
class LoadedRun:
    """A run of the cohort on one server.

    Attributes:
        target: Where it was loaded.
        prefix: Id prefix of this run ("" never; e.g. "t1a2b3c4d-").
        tag: The run tag "system|code".
        originals: Patient id (unprefixed, "ppact-0001") -> the original transaction Bundle.
    """

    target: Target
    prefix: str
    tag: str
    originals: dict[str, dict[str, Any]]

    def server_id(self, patient_id: str) -> str:
        return self.prefix + patient_id


def original_bundles() -> dict[str, dict[str, Any]]:
    return {f"ppact-{n:04d}": patient_bundle(n, seed=SEED, anchor=AS_OF) for n in PATIENT_NUMBERS}


@pytest.fixture(scope="session")
def local_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """SEKMET on a free 127.0.0.1 port, with a bearer token."""
    server = start_fhir_server(tmp_path_factory.mktemp("sandbox-local-fhir"))
    try:
        yield Target("local", server.base_url, server.token)
    finally:
        stop_fhir_server(server)


@functools.cache
def _sandbox_problem(base: str) -> str | None:
    """Why the sandbox cannot be used (checked once per session), or None."""
    try:
        response = httpx.get(
            f"{base}/metadata", headers={"Accept": "application/fhir+json"}, timeout=15
        )
        version = str(response.json().get("fhirVersion", ""))
    except (httpx.HTTPError, ValueError) as exc:
        return f"sandbox FHIR server {base} unreachable ({type(exc).__name__})"
    if response.status_code != 200 or not version.startswith("4.0"):
        return f"sandbox FHIR server {base} is not answering as FHIR R4 4.0.x"
    return None


def _sandbox_base() -> str:
    return os.environ.get("PPACT_SANDBOX_FHIR", SANDBOX_DEFAULT).rstrip("/")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip every sandbox test with the same single reason when the server is unusable."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("fhir_target") == "sandbox":
        problem = _sandbox_problem(_sandbox_base())
        if problem is not None:
            pytest.skip(problem)


def _sandbox_target() -> Target:
    return Target("sandbox", _sandbox_base(), os.environ.get("PPACT_SANDBOX_TOKEN") or None)


@pytest.fixture(
    scope="module", params=["local", pytest.param("sandbox", marks=pytest.mark.sandbox)]
)
def fhir_target(request: pytest.FixtureRequest) -> Target:
    if request.param == "local":
        target: Target = request.getfixturevalue("local_target")
        return target
    return _sandbox_target()


@contextlib.contextmanager
def loaded_run(target: Target) -> Iterator[LoadedRun]:
    """Load the chosen patients under a fresh run tag and id prefix; remove them on exit.

    Removal runs whatever happened (a failed load or test included) and raises
    RemoveIncomplete when anything carrying the run tag is left.
    """
    run = uuid.uuid4().hex[:8]
    loaded = LoadedRun(target, f"t{run}-", f"urn:ppact-cot:run|{run}", original_bundles())
    copies = retagged(list(loaded.originals.values()), tag=loaded.tag, id_prefix=loaded.prefix)
    try:
        run_seed(target.base_url, token=target.token, bundles=copies, show_progress=False)
        yield loaded
    finally:
        run_remove(target.base_url, tag=loaded.tag, token=target.token, show_progress=False)


@pytest.fixture(scope="module")
def loaded(fhir_target: Target) -> Iterator[LoadedRun]:
    """The chosen patients, loaded on the target for this module."""
    with loaded_run(fhir_target) as run:
        yield run


@pytest.fixture(scope="session")
def local_run(local_target: Target) -> Iterator[LoadedRun]:
    """The same patients on the local server: the reference every target must match."""
    with loaded_run(local_target) as run:
        yield run
