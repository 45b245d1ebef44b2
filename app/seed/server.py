"""Send the cohort's chunks to a FHIR server, count what is there, and remove it again.

The I/O half of `ppact seed`, on the shared `FhirClient` (its retry machinery: 429/5xx with
backoff and Retry-After, R4 http.html and docs standards section 4). Transactions here hold
only PUTs by id and batches only DELETEs, so a repeat after a lost answer changes nothing and
500 is retried as well. A 4xx is not retried: it stops the load with the server's
OperationOutcome text (R4 http.html#transaction: a transaction fails or succeeds as a whole).

Removal deletes exactly the resources that carry the tag: it searches `_tag` per type, keeps
only results whose `meta.tag` really holds it (a server that ignored `_tag` must not get its
other resources deleted), deletes them with batch Bundles, referrers before what they refer
to, and repeats until a search finds none (searches bypass HAPI's 60-second result cache,
which would otherwise answer with resources already deleted). A delete refused because a
reference still points at the resource (HAPI's referential integrity, 409) succeeds on a later
pass once the referrer is gone.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.fhir.client import FhirClient
from app.fhir.errors import FhirRequestError, operation_outcome_text
from app.seed.chunks import COHORT_TAG, Chunk, dependency_order, has_tag
from app.synth.bundle import TYPE_ORDER

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
_GONE = ("404", "410")
MAX_REMOVE_PASSES = 6


class SeedError(Exception):
    """Root of the errors of loading or removing the cohort.

    ```
    SeedError
      ChunkRefused      the server refused a chunk with a status retrying cannot fix
      RemoveIncomplete  tagged resources are left after removal
    ```
    """


class ChunkRefused(SeedError):
    """The server refused a chunk (4xx, or 5xx after retries); nothing of that chunk was stored.

    Attributes:
        status: HTTP status.
        outcome: The OperationOutcome text, or None when the server sent none.
        chunk: The refused chunk.
    """

    def __init__(self, chunk: Chunk, total: int, error: FhirRequestError) -> None:
        self.status = error.status
        self.outcome = error.operation_outcome_text
        self.chunk = chunk
        who = ", ".join(chunk.patients[:3]) + (" ..." if len(chunk.patients) > 3 else "")
        text = self.outcome or "the server sent no OperationOutcome"
        super().__init__(
            f"chunk {chunk.number} of {total} ({chunk.size} resources; {who or 'shared'}) "
            f"refused with HTTP {self.status}: {text}"
        )


class RemoveIncomplete(SeedError):
    """Tagged resources are still on the server after every removal pass."""


@dataclass(slots=True)
class LoadReport:
    """What a load did.

    Attributes:
        chunks: Transactions sent.
        resources: Entries sent.
        created: Entries the server answered "201" (new).
        updated: Entries answered "200" (already there; unchanged content on a rerun).
    """

    chunks: int = 0
    resources: int = 0
    created: int = 0
    updated: int = 0


@dataclass(slots=True)
class RemoveReport:
    """What a removal did.

    Attributes:
        deleted: Resource type -> resources deleted.
        passes: Search-and-delete passes made.
        problems: Entry outcomes other than success or already gone, as "Type: status text".
    """

    deleted: dict[str, int] = field(default_factory=dict)
    passes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Resources deleted, all types."""
        return sum(self.deleted.values())


async def load_chunks(
    client: FhirClient, chunks: Sequence[Chunk], *, progress: Progress | None = None
) -> LoadReport:
    """Send each chunk as one transaction, in order.

    Raises:
        ChunkRefused: a chunk was refused; the ones before it are stored.
        FhirError: the server could not be reached or answered nonsense, after retries.
    """
    report = LoadReport()
    for chunk in chunks:
        try:
            answer = await client.transaction(chunk.bundle, retry_server_errors=True)
        except FhirRequestError as exc:
            raise ChunkRefused(chunk, len(chunks), exc) from exc
        statuses = [str(e.get("response", {}).get("status", "")) for e in answer["entry"]]
        report.chunks += 1
        report.resources += chunk.size
        report.created += sum(s.startswith("201") for s in statuses)
        report.updated += sum(s.startswith("200") for s in statuses)
        if progress is not None:
            progress(chunk.size)
    log.info("cohort loaded", extra={"chunks": report.chunks, "resources": report.resources})
    return report


async def tagged_resources(
    client: FhirClient, *, tag: str = COHORT_TAG, types: Sequence[str] = TYPE_ORDER
) -> list[dict[str, Any]]:
    """The resources of `types` carrying `tag` (checked on each one, not only searched for).

    Raises:
        FhirError: a search failed.
    """
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for resource_type in types:
        result = await client.search_detailed(
            resource_type, [("_tag", tag), ("_count", "200")], fresh=True
        )
        for resource in result.matches:
            if has_tag(resource, tag) and isinstance(resource.get("id"), str):
                found.setdefault((resource_type, resource["id"]), resource)
    return list(found.values())


async def tagged_ids(
    client: FhirClient, *, tag: str = COHORT_TAG, types: Sequence[str] = TYPE_ORDER
) -> dict[str, list[str]]:
    """Ids per type of the resources carrying `tag`.

    Raises:
        FhirError: a search failed.
    """
    found: dict[str, list[str]] = {}
    for resource in await tagged_resources(client, tag=tag, types=types):
        found.setdefault(resource["resourceType"], []).append(resource["id"])
    return found


async def remove_tagged(
    client: FhirClient,
    *,
    tag: str = COHORT_TAG,
    types: Sequence[str] = TYPE_ORDER,
    chunk_size: int = 100,
    progress: Progress | None = None,
) -> RemoveReport:
    """Delete every resource of `types` that carries `tag`; verify none is left.

    Raises:
        RemoveIncomplete: resources carrying the tag remain after the last pass.
        FhirError: a search or a batch failed as a whole.
    """
    report = RemoveReport()
    while True:
        left = await tagged_resources(client, tag=tag, types=list(reversed(types)))
        if not left:
            return report
        if report.passes >= MAX_REMOVE_PASSES:
            counts = Counter(r["resourceType"] for r in left)
            listed = ", ".join(f"{t} {n}" for t, n in counts.items())
            detail = "; ".join(report.problems[-3:])
            raise RemoveIncomplete(f"still tagged after {report.passes} passes: {listed}. {detail}")
        report.passes += 1
        # Referrers first (the reverse of the load order), so integrity checks rarely object.
        targets = [(r["resourceType"], r["id"]) for r in reversed(dependency_order(left))]
        for start in range(0, len(targets), chunk_size):
            part = targets[start : start + chunk_size]
            await _delete(client, part, report)
            if progress is not None:
                progress(len(part))


async def _delete(client: FhirClient, targets: list[tuple[str, str]], report: RemoveReport) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "DELETE", "url": f"{t}/{rid}"}} for t, rid in targets],
    }
    answer = await client.transaction(bundle, retry_server_errors=True)
    for (resource_type, _), entry in zip(targets, answer["entry"], strict=True):
        status = str(entry.get("response", {}).get("status", ""))
        if status.startswith("2"):
            report.deleted[resource_type] = report.deleted.get(resource_type, 0) + 1
        elif not status.startswith(_GONE):
            text = operation_outcome_text(entry.get("response", {}).get("outcome"))
            report.problems.append(f"{resource_type}: {status}" + (f" ({text})" if text else ""))
    log.info("cohort delete batch", extra={"entries": len(targets)})
