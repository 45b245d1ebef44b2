"""Send the cohort's chunks to a FHIR server, count what is there, and remove it again.

The I/O half of `ppact seed`, on the shared `FhirClient` (its retry machinery: 429/5xx with
backoff and Retry-After, R4 http.html and docs standards section 4). Transactions here hold
only PUTs by id and batches only DELETEs, so a repeat after a lost answer changes nothing and
500 is retried as well. A 4xx is not retried: it stops the load with the server's
OperationOutcome text (R4 http.html#transaction: a transaction fails or succeeds as a whole).

Only synthetic resources are ever deleted: every resource removed carries the cohort tag
(`COHORT_TAG`) checked on the resource itself, whatever other tag was asked for (a run tag
narrows the set, never widens it; a server that ignored `_tag` must not get its other
resources deleted). Tagged resources are found with one system-level search
(`GET [base]?_tag=`, R4 search.html#all) when the CapabilityStatement declares
`search-system` and the server applied `_tag`; otherwise per type, over the union of
`TYPE_ORDER`, the types the cohort generator emits and `smart_launch.DEFAULT_RESOURCE_TYPES`,
so a type new to the cohort is not left behind. Verification uses the same search.

Deletes go in batch Bundles, referrers before what they refer to, repeated until a search
finds none (searches bypass HAPI's 60-second result cache, which would otherwise answer with
resources already deleted). A delete refused because a reference still points at the resource
(HAPI's referential integrity, 409) succeeds on a later pass once the referrer is gone.

Reseeding with another seed: ids depend on the patient number only, so a new cohort over an
old one would leave the old one's extra resources under the same patients. Before loading,
`load_chunks` lists the cohort-tagged resources of the patients being loaded that the new
cohort does not hold; after the load (when nothing new refers to them any more) it deletes
exactly those.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.fhir.client import FhirClient
from app.fhir.errors import FhirRequestError, InvalidResponse, operation_outcome_text
from app.seed.chunks import COHORT_TAG, Chunk, dependency_order, has_tag
from app.synth import generate_cohort
from app.synth.bundle import TYPE_ORDER
from smart_launch import DEFAULT_RESOURCE_TYPES

log = logging.getLogger(__name__)

Resource = dict[str, Any]
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


@dataclass(slots=True)
class LoadReport:
    """What a load did.

    A PUT answered "200" replaced a resource that was there; servers do not say reliably
    whether its content changed, so no "unchanged" count is claimed.

    Attributes:
        chunks: Transactions sent.
        resources: Entries sent.
        created: Entries the server answered "201" (new).
        replaced: Entries answered "200" (a resource with that id was there and was replaced).
        stale: Resources of another cohort under the same patients, deleted after the load.
    """

    chunks: int = 0
    resources: int = 0
    created: int = 0
    replaced: int = 0
    stale: RemoveReport = field(default_factory=RemoveReport)


def _key(resource: Resource) -> tuple[str, str]:
    return (resource["resourceType"], resource["id"])


@functools.cache
def _generated_types() -> frozenset[str]:
    return frozenset(
        e["resource"]["resourceType"] for b in generate_cohort() for e in b.get("entry", [])
    )


def cohort_types(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Types searched when the server has no system-level search, in load order.

    The union of `TYPE_ORDER`, the types the cohort generator emits (default cohort),
    `smart_launch.DEFAULT_RESOURCE_TYPES` and `extra`.
    """
    others = (_generated_types() | set(DEFAULT_RESOURCE_TYPES) | set(extra)) - set(TYPE_ORDER)
    return (*TYPE_ORDER, *sorted(others))


async def supports_system_search(client: FhirClient) -> bool:
    """True when the CapabilityStatement declares the `search-system` interaction."""
    try:
        statement = await client.capabilities()
    except (FhirRequestError, InvalidResponse):
        return False  # no usable CapabilityStatement: search per type
    rests = statement.get("rest")
    return any(
        isinstance(rest, dict)
        and any(
            isinstance(i, dict) and i.get("code") == "search-system"
            for i in rest.get("interaction") or []
        )
        for rest in (rests if isinstance(rests, list) else [])
    )


async def _system_search(client: FhirClient, tag: str) -> list[Resource] | None:
    """`GET [base]?_tag=tag`, all pages; None when the server refused it, ignored `_tag` or the
    answer was cut short (paging off this server, page or time cap): only a whole answer is
    trusted for deleting."""
    try:
        result = await client.search_detailed(None, [("_tag", tag), ("_count", "200")], fresh=True)
    except FhirRequestError:
        return None
    applied = result.self_link is not None and "_tag" in httpx.URL(result.self_link).params
    if not applied or result.truncated is not None:
        return None
    return result.matches


async def tagged_resources(
    client: FhirClient,
    *,
    tag: str = COHORT_TAG,
    types: Sequence[str] | None = None,
    system_search: bool | None = None,
) -> list[Resource]:
    """The synthetic resources carrying `tag`: both it and `COHORT_TAG`, checked on each one.

    Args:
        client: The server.
        tag: Token "system|code" searched for (`COHORT_TAG`, or a run tag that narrows it).
        types: Types searched without system-level search; default `cohort_types()`.
        system_search: Try `GET [base]?_tag=` first; None asks the CapabilityStatement.

    Raises:
        FhirError: a search failed.
    """
    if system_search is None:
        system_search = await supports_system_search(client)
    matches = await _system_search(client, tag) if system_search else None
    if matches is None:
        matches = []
        for resource_type in types if types is not None else cohort_types():
            result = await client.search_detailed(
                resource_type, [("_tag", tag), ("_count", "200")], fresh=True
            )
            matches += result.matches
    found: dict[tuple[str, str], Resource] = {}
    for resource in matches:
        if (
            has_tag(resource, tag)
            and has_tag(resource, COHORT_TAG)
            and isinstance(resource.get("resourceType"), str)
            and isinstance(resource.get("id"), str)
        ):
            found.setdefault(_key(resource), resource)
    return list(found.values())


async def tagged_ids(
    client: FhirClient, *, tag: str = COHORT_TAG, types: Sequence[str] | None = None
) -> dict[str, list[str]]:
    """Ids per type of the synthetic resources carrying `tag` (see `tagged_resources`).

    Raises:
        FhirError: a search failed.
    """
    found: dict[str, list[str]] = {}
    for resource in await tagged_resources(client, tag=tag, types=types):
        found.setdefault(resource["resourceType"], []).append(resource["id"])
    return found


def _belongs(resource: Resource, patients: frozenset[str]) -> bool:
    """Whether `resource` is one of `patients` or theirs: id "<patient>-..." or subject/patient."""
    rid = resource["id"]
    if rid in patients or any(rid.startswith(f"{p}-") for p in patients):
        return True
    refs = [resource.get(k) for k in ("subject", "patient")]
    owners = {r.get("reference") for r in refs if isinstance(r, dict)}
    return any(f"Patient/{p}" in owners for p in patients)


def _load_tag(chunks: Sequence[Chunk]) -> str:
    """The narrowest tag all chunk resources carry: a run tag if there is one, else the cohort's."""
    common: set[str] | None = None
    for chunk in chunks:
        for entry in chunk.bundle["entry"]:
            tags = entry["resource"].get("meta", {}).get("tag", [])
            mine = {f"{t.get('system')}|{t.get('code')}" for t in tags if isinstance(t, dict)}
            common = mine if common is None else common & mine
    narrower = sorted((common or set()) - {COHORT_TAG})
    return narrower[0] if narrower else COHORT_TAG


async def stale_resources(
    client: FhirClient, chunks: Sequence[Chunk], *, system_search: bool | None = None
) -> list[Resource]:
    """Synthetic resources on the server, of the patients in `chunks`, that `chunks` do not hold.

    Only resources carrying the narrowest tag the chunks share are looked at (a run's tag for
    `retagged` copies), so a run on a shared server never touches another run's resources.

    Raises:
        FhirError: a search failed.
    """
    patients = frozenset(p for c in chunks for p in c.patients)
    if not patients:
        return []
    new = {_key(e["resource"]) for c in chunks for e in c.bundle["entry"]}
    types = cohort_types(k[0] for k in new)
    there = await tagged_resources(
        client, tag=_load_tag(chunks), types=types, system_search=system_search
    )
    return [r for r in there if _key(r) not in new and _belongs(r, patients)]


async def load_chunks(
    client: FhirClient, chunks: Sequence[Chunk], *, progress: Progress | None = None
) -> LoadReport:
    """Send each chunk as one transaction, in order; then delete another cohort's leftovers.

    Leftovers (`stale_resources`, listed before the load) are deleted rather than refused:
    they are synthetic and of the very patients being loaded, and a user reseeding wants the
    new cohort, not an instruction to run `--remove` first. They are deleted after the load,
    when the replaced resources that referred to them are gone, so integrity checks pass.

    Raises:
        ChunkRefused: a chunk was refused; the ones before it are stored.
        RemoveIncomplete: leftovers of another cohort could not all be deleted.
        FhirError: the server could not be reached or answered nonsense, after retries.
    """
    report = LoadReport()
    system = await supports_system_search(client)
    stale = {_key(r) for r in await stale_resources(client, chunks, system_search=system)}
    for chunk in chunks:
        try:
            answer = await client.transaction(chunk.bundle, retry_server_errors=True)
        except FhirRequestError as exc:
            raise ChunkRefused(chunk, len(chunks), exc) from exc
        statuses = [str(e.get("response", {}).get("status", "")) for e in answer["entry"]]
        report.chunks += 1
        report.resources += chunk.size
        report.created += sum(s.startswith("201") for s in statuses)
        report.replaced += sum(s.startswith("200") for s in statuses)
        if progress is not None:
            progress(chunk.size)
    if stale:

        async def still_there() -> list[Resource]:
            types = cohort_types(k[0] for k in stale)
            found = await tagged_resources(
                client, tag=_load_tag(chunks), types=types, system_search=system
            )
            return [r for r in found if _key(r) in stale]

        report.stale = await _remove(client, still_there, chunk_size=100, progress=None)
    log.info("cohort loaded", extra={"chunks": report.chunks, "resources": report.resources})
    return report


async def remove_tagged(
    client: FhirClient,
    *,
    tag: str = COHORT_TAG,
    types: Sequence[str] | None = None,
    chunk_size: int = 100,
    progress: Progress | None = None,
) -> RemoveReport:
    """Delete every synthetic resource carrying `tag`; verify none is left.

    Args:
        client: The server.
        tag: `COHORT_TAG`, or a run tag: only resources carrying both are deleted.
        types: Types searched when the server has no system-level search; default
            `cohort_types()`.
        chunk_size: Deletes per batch Bundle.
        progress: Called with the number of deletes sent.

    Raises:
        RemoveIncomplete: resources carrying the tag remain after the last pass.
        FhirError: a search or a batch failed as a whole.
    """
    system = await supports_system_search(client)
    searched = tuple(types) if types is not None else cohort_types()

    async def left() -> list[Resource]:
        return await tagged_resources(client, tag=tag, types=searched, system_search=system)

    return await _remove(client, left, chunk_size=chunk_size, progress=progress)


async def _remove(
    client: FhirClient,
    find: Callable[[], Awaitable[list[Resource]]],
    *,
    chunk_size: int,
    progress: Progress | None,
) -> RemoveReport:
    """Delete what `find` returns, referrers first, until `find` returns nothing."""
    report = RemoveReport()
    while True:
        left = await find()
        if not left:
            return report
        if report.passes >= MAX_REMOVE_PASSES:
            counts = Counter(r["resourceType"] for r in left)
            listed = ", ".join(f"{t} {n}" for t, n in counts.items())
            detail = "; ".join(report.problems[-3:])
            raise RemoveIncomplete(f"still tagged after {report.passes} passes: {listed}. {detail}")
        report.passes += 1
        # Referrers first (the reverse of the load order), so integrity checks rarely object.
        targets = [_key(r) for r in reversed(dependency_order(left))]
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
