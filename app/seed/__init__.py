"""Load the synthetic COT cohort into any FHIR R4 server, and remove it (`ppact seed`).

Issue 6 ("Loading data"). The cohort comes from `app.synth` (deterministic, every resource
tagged ``urn:ppact-cot:tags|synthetic-cohort``, every entry a PUT to ``Type/id``); it is cut
into chunks (`chunks.py`), sent as transactions with a progress bar and the shared client's
retries (`server.py`). Only generated, tagged resources are ever sent. `run_seed` and
`run_remove` are the synchronous entry points the CLI and `ppact demo` call.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from tqdm import tqdm

from app.fhir.client import FhirClient, RetryPolicy
from app.seed.chunks import COHORT_TAG, Chunk, has_tag, make_chunks, retagged
from app.seed.server import (
    ChunkRefused,
    LoadReport,
    RemoveIncomplete,
    RemoveReport,
    SeedError,
    cohort_types,
    load_chunks,
    remove_tagged,
    tagged_ids,
)
from app.synth import generate_cohort
from app.synth.bundle import DEFAULT_ANCHOR, DEFAULT_PATIENTS, DEFAULT_SEED

__all__ = [
    "COHORT_TAG",
    "Chunk",
    "ChunkRefused",
    "LoadReport",
    "RemoveIncomplete",
    "RemoveReport",
    "SeedError",
    "cohort_types",
    "has_tag",
    "load_chunks",
    "make_chunks",
    "remove_tagged",
    "retagged",
    "run_remove",
    "run_seed",
    "seed_client",
    "tagged_ids",
]

DEFAULT_CHUNK_SIZE = 100
#: Transactions of a few hundred resources take seconds on HAPI JPA; be patient with them.
SEED_TIMEOUT_SECONDS = 120.0
SEED_RETRY = RetryPolicy(
    max_retries=5, max_retry_seconds=300.0, backoff_base_seconds=1.0, backoff_max_seconds=30.0
)


def seed_client(fhir_base: str, *, token: str | None = None) -> FhirClient:
    """A FhirClient for loading: long timeout, more patient retries, optional bearer token."""

    async def bearer() -> str | None:
        return token

    return FhirClient(
        fhir_base,
        access_token=bearer if token else None,
        timeout_seconds=SEED_TIMEOUT_SECONDS,
        retry=SEED_RETRY,
        max_connections=4,
    )


def _bar(total: int | None, desc: str, show: bool) -> Any:
    return tqdm(
        total=total,
        desc=desc,
        unit="res",
        file=sys.stderr,
        disable=None if show else True,
        leave=False,
    )


def run_seed(
    fhir_base: str,
    *,
    patients: int = DEFAULT_PATIENTS,
    seed: int = DEFAULT_SEED,
    anchor: date = DEFAULT_ANCHOR,
    token: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    bundles: Sequence[dict[str, Any]] | None = None,
    show_progress: bool = True,
) -> LoadReport:
    """Generate the cohort (or take `bundles`) and load it; idempotent on rerun.

    Reseeding another cohort (other seed or anchor) over the same patients deletes, after the
    load, exactly the old cohort's resources of those patients that the new one does not hold
    (they carry the cohort tag), so the server ends up holding the new cohort only; other
    patients are left alone (`run_remove` clears everything).

    Args:
        fhir_base: FHIR R4 base URL.
        patients: Cohort size (ignored when `bundles` is given).
        seed: Cohort seed.
        anchor: The cohort's "today".
        token: Bearer token for a secured server; None for an open one.
        chunk_size: Resources per transaction.
        bundles: Cohort Bundles to load instead of generating them (e.g. `retagged` copies).
        show_progress: Draw a progress bar on stderr (tqdm hides it when stderr is no terminal).

    Raises:
        ChunkRefused: the server refused a chunk; the message holds its OperationOutcome.
        RemoveIncomplete: the old cohort's extra resources could not all be deleted.
        FhirError: the server could not be reached, or failed after retries.
    """
    if bundles is None:
        bundles = generate_cohort(patients=patients, seed=seed, anchor=anchor)
    chunks = make_chunks(bundles, size=chunk_size)

    async def load() -> LoadReport:
        with _bar(sum(c.size for c in chunks), "loading", show_progress) as bar:
            async with seed_client(fhir_base, token=token) as client:
                return await load_chunks(client, chunks, progress=bar.update)

    return asyncio.run(load())


def run_remove(
    fhir_base: str,
    *,
    tag: str = COHORT_TAG,
    token: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    types: Sequence[str] | None = None,
    show_progress: bool = True,
) -> RemoveReport:
    """Delete every synthetic resource carrying `tag` (default: the whole cohort) and verify.

    Only resources that also carry `COHORT_TAG` are deleted: a run tag narrows, never widens.
    `types` (default `cohort_types()`) are searched when the server has no system-level search.

    Raises:
        RemoveIncomplete: tagged resources are left.
        FhirError: the server could not be reached, or failed after retries.
    """

    async def remove() -> RemoveReport:
        with _bar(None, "removing", show_progress) as bar:
            async with seed_client(fhir_base, token=token) as client:
                return await remove_tagged(
                    client, tag=tag, types=types, chunk_size=chunk_size, progress=bar.update
                )

    return asyncio.run(remove())
