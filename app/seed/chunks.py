"""Cut the synthetic cohort's transaction Bundles into load-sized chunks, and re-tag copies of it.

Pure functions over FHIR JSON; no I/O. Why chunks: one patient Bundle of the cohort holds up to
~500 resources and the whole 50-patient cohort ~5,700; servers (HAPI's default transaction
limits, proxies' body limits) and the progress bar both want smaller requests. Why order: a
server that enforces referential integrity on write (HAPI JPA does, by default) refuses a
resource whose reference points at one not yet stored, so entries are emitted referenced-first
(a depth-first post-order over in-Bundle references), and any cut between chunks is safe.

Every entry stays a PUT to ``Type/id`` (R4 http.html#upsert): loading twice leaves the server
unchanged. The Practitioners and Organizations each patient Bundle repeats are sent once.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from app.synth.codes import SYNTHETIC_TAG_CODE, SYNTHETIC_TAG_SYSTEM

Resource = dict[str, Any]

#: The search token (`_tag=`) of every synthetic resource.
COHORT_TAG = f"{SYNTHETIC_TAG_SYSTEM}|{SYNTHETIC_TAG_CODE}"


@dataclass(frozen=True, slots=True)
class Chunk:
    """One transaction Bundle to send.

    Attributes:
        number: 1-based position among all chunks.
        bundle: The transaction Bundle (PUT entries only).
        patients: Patient ids whose resources are in it (for messages; synthetic ids only).
    """

    number: int
    bundle: dict[str, Any]
    patients: tuple[str, ...]

    @property
    def size(self) -> int:
        """Entries in the chunk."""
        return len(self.bundle["entry"])


def has_tag(resource: Resource, tag: str) -> bool:
    """True when `resource.meta.tag` holds the token "system|code"."""
    system, _, code = tag.partition("|")
    meta = resource.get("meta")
    tags = meta.get("tag") if isinstance(meta, dict) else None
    return any(
        isinstance(t, dict) and t.get("system") == system and t.get("code") == code
        for t in (tags if isinstance(tags, list) else [])
    )


def _key(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for name, item in value.items():
            if name == "reference" and isinstance(item, str):
                yield item
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def dependency_order(resources: Sequence[Resource]) -> list[Resource]:
    """The resources with every in-list reference target before the resource that refers to it.

    A cycle (none exists in the cohort) keeps its members in their given order.
    """
    by_key = {_key(r): r for r in resources}
    done: set[str] = set()
    ordered: list[Resource] = []

    def visit(key: str, path: set[str]) -> None:
        if key in done or key in path:
            return
        path.add(key)
        for target in _references(by_key[key]):
            if target in by_key:
                visit(target, path)
        path.discard(key)
        done.add(key)
        ordered.append(by_key[key])

    for resource in resources:
        visit(_key(resource), set())
    return ordered


def bundle_resources(bundle: dict[str, Any], *, tag: str = COHORT_TAG) -> list[Resource]:
    """The resources of one cohort transaction Bundle, checked to be synthetic and PUT by id.

    Raises:
        ValueError: an entry is not a PUT to its own ``Type/id`` or lacks the synthetic tag;
            only the generated cohort is ever sent.
    """
    resources = []
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        request = entry.get("request", {})
        if request.get("method") != "PUT" or request.get("url") != _key(resource):
            raise ValueError("every cohort entry must be a PUT to its own Type/id")
        if not has_tag(resource, tag):
            raise ValueError(f"a resource without the tag {tag} is not part of the cohort")
        resources.append(resource)
    return resources


def make_chunks(
    bundles: Iterable[dict[str, Any]], *, size: int, tag: str = COHORT_TAG
) -> list[Chunk]:
    """Transaction Bundles of at most `size` PUT entries, referenced resources first.

    Patients follow one another in the given order; a chunk may end inside one patient's
    resources (order makes that safe) or hold several small patients. A resource already sent
    with the same content (the shared staff and organizations) is sent once.

    Raises:
        ValueError: `size` < 1, or a Bundle entry is not a tagged PUT (see `bundle_resources`).
    """
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    sent: dict[str, Resource] = {}
    stream: list[tuple[Resource, str | None]] = []
    for bundle in bundles:
        resources = bundle_resources(bundle, tag=tag)
        patient = next((r["id"] for r in resources if r["resourceType"] == "Patient"), None)
        for resource in dependency_order(resources):
            key = _key(resource)
            if sent.get(key) == resource:
                continue
            sent[key] = resource
            stream.append((resource, patient))
    chunks: list[Chunk] = []
    for start in range(0, len(stream), size):
        part = stream[start : start + size]
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {"resource": r, "request": {"method": "PUT", "url": _key(r)}} for r, _ in part
            ],
        }
        patients = tuple(dict.fromkeys(p for _, p in part if p is not None))
        chunks.append(Chunk(len(chunks) + 1, bundle, patients))
    return chunks


def retagged(
    bundles: Iterable[dict[str, Any]], *, tag: str, id_prefix: str
) -> list[dict[str, Any]]:
    """Copies of cohort Bundles with one more tag and ids prefixed, references rewritten to match.

    Used to load a run of the cohort beside others on a shared server (the public HAPI
    sandbox) and remove exactly that run afterwards.

    Args:
        bundles: Cohort transaction Bundles (left unchanged).
        tag: Token "system|code" added to every resource's `meta.tag`.
        id_prefix: Put before every resource id; ids stay within the R4 64-character limit.

    Raises:
        ValueError: a prefixed id would be longer than 64 characters.
    """
    system, _, code = tag.partition("|")
    out = []
    for original in bundles:
        bundle = copy.deepcopy(original)
        keys = {_key(e["resource"]) for e in bundle.get("entry", [])}
        for entry in bundle.get("entry", []):
            resource = entry["resource"]
            _prefix_references(resource, keys, id_prefix)
            resource["id"] = new_id = id_prefix + resource["id"]
            if len(new_id) > 64:
                raise ValueError("id prefix makes an id longer than 64 characters")
            resource.setdefault("meta", {}).setdefault("tag", []).append(
                {"system": system, "code": code}
            )
            entry["request"]["url"] = _key(resource)
        if "id" in bundle:
            bundle["id"] = id_prefix + bundle["id"]
        out.append(bundle)
    return out


def _prefix_references(value: Any, keys: set[str], prefix: str) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            if name == "reference" and isinstance(item, str) and item in keys:
                kind, _, ident = item.partition("/")
                value[name] = f"{kind}/{prefix}{ident}"
            else:
                _prefix_references(item, keys, prefix)
    elif isinstance(value, list):
        for item in value:
            _prefix_references(item, keys, prefix)
