"""Reading searchset and batch-response Bundles: entries by search mode, links, ignored params.

Follows R4 search (https://hl7.org/fhir/R4/search.html): `entry.search.mode` tells `match`,
`include` and `outcome` apart; the `self` link states the parameters the server applied
(3.1.1.3), so one missing from it was ignored. Batch responses follow R4 http 3.1.0.11.3: one
entry per request, in request order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.fhir.errors import operation_outcome_text

RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
RESOURCE_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # R4 "id" datatype


@dataclass(slots=True)
class SearchResult:
    """Everything one search returned, all pages, with entries told apart by `search.mode`.

    Attributes:
        resource_type: The searched type.
        matches: `match` entries (entries without a mode that are not OperationOutcomes too).
        included: `include` entries (e.g. Medications from `_include`), each once.
        outcomes: `outcome` entries: OperationOutcomes with the server's warnings.
        pages: Pages read.
        truncated: Why paging stopped before the last page, or None when all pages were read.
        ignored_params: Search parameters the server did not apply, as told by the `self` link.
        self_link: The first page's `self` link (what the server says it searched), if any.
    """

    resource_type: str
    matches: list[dict[str, Any]] = field(default_factory=list)
    included: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    truncated: str | None = None
    ignored_params: tuple[str, ...] = ()
    self_link: str | None = None

    @property
    def resources(self) -> list[dict[str, Any]]:
        """Matches followed by included resources."""
        return [*self.matches, *self.included]

    @property
    def outcome_text(self) -> str | None:
        """The text of the outcome entries, joined, or None."""
        texts = [t for t in (operation_outcome_text(o) for o in self.outcomes) if t]
        return "; ".join(texts) or None


@dataclass(frozen=True, slots=True)
class ReadResults:
    """Result of reading several references.

    Attributes:
        found: Reference ("Medication/123") -> resource.
        failed: Reference -> why it could not be read (status and OperationOutcome text).
    """

    found: dict[str, dict[str, Any]]
    failed: dict[str, str]


def split_reference(reference: str) -> tuple[str, str] | None:
    """("Medication", "123") for a relative literal reference "Medication/123", else None."""
    parts = reference.split("/")
    if len(parts) == 2 and RESOURCE_TYPE.fullmatch(parts[0]) and RESOURCE_ID.fullmatch(parts[1]):
        return parts[0], parts[1]
    return None


def link(bundle: Mapping[str, Any], relation: str) -> str | None:
    """The URL of the Bundle link with this relation ("self", "next"), or None."""
    links = bundle.get("link")
    for item in links if isinstance(links, list) else []:
        if isinstance(item, Mapping) and item.get("relation") == relation:
            url = item.get("url")
            if isinstance(url, str) and url:
                return url
    return None


def collect_page(bundle: Mapping[str, Any], result: SearchResult) -> None:
    """Sort one page's entries into matches, included and outcomes."""
    seen_included = {(r.get("resourceType"), r.get("id")) for r in result.included}
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), dict):
            continue
        resource: dict[str, Any] = entry["resource"]
        search = entry.get("search")
        mode = search.get("mode") if isinstance(search, Mapping) else None
        if mode == "include":
            key = (resource.get("resourceType"), resource.get("id"))
            if key not in seen_included:  # the same Medication is often included on every page
                seen_included.add(key)
                result.included.append(resource)
        elif mode == "outcome" or (
            mode is None and resource.get("resourceType") == "OperationOutcome"
        ):
            result.outcomes.append(resource)
        else:
            result.matches.append(resource)


def ignored_params(sent: Sequence[tuple[str, str]], bundle: Mapping[str, Any]) -> tuple[str, ...]:
    """Parameters the server left out of its `self` link, i.e. did not apply (R4 search 3.1.1.3).

    Only judged when the self link carries a query; control parameters (`_count` ...) are not.
    """
    self_url = link(bundle, "self")
    if self_url is None or "?" not in self_url:
        return ()
    applied = {name.split(":")[0] for name, _ in httpx.URL(self_url).params.multi_items()}
    ignored = [
        name for name, _ in sent if not name.startswith("_") and name.split(":")[0] not in applied
    ]
    return tuple(dict.fromkeys(ignored))


def batch_entry(ref: str, entry: Any) -> tuple[dict[str, Any] | None, str]:
    """The resource of one batch-response entry, or None and why."""
    if not isinstance(entry, Mapping):
        return None, "malformed batch-response entry"
    response = entry.get("response")
    response = response if isinstance(response, Mapping) else {}
    status_text = str(response.get("status", "")).strip()
    status = int(status_text[:3]) if status_text[:3].isdigit() else None
    resource = entry.get("resource")
    expected_type, expected_id = ref.split("/")
    if (
        status is not None
        and 200 <= status < 300
        and isinstance(resource, dict)
        and resource.get("resourceType") == expected_type
        and resource.get("id") in (None, expected_id)
    ):
        return resource, ""
    text = operation_outcome_text(response.get("outcome"))
    problem = f"HTTP {status}" if status is not None else "no status"
    return None, f"{problem}: {text}" if text else problem
