"""Prefetch templates, and one call's patient data: prefetch first, the FHIR server for the rest.

CDS Hooks 2.0 "Prefetch Template" and "FHIR Resource Access". The templates are the loader's own
queries (`app.fhir.queries.patient_queries`) for the sections the card rules read, so the app and
the hooks ask the EHR the same questions, reduced to the spec's recommended query subset:

- the only token is `{{context.patientId}}`;
- `_include` is left out (not in the subset); referenced Medications are read afterwards;
- date bounds are left out: a template is a fixed string and CDS Hooks 2.0 has no date token, so
  a `ge2025-05-01` would go stale. The rules apply their own windows (180 days of fills for early
  refill, the policy's monitoring intervals);
- instead, the searches whose history grows without end are bounded with the subset's `_sort`
  (most recent first) and `_count` (`PREFETCH_BOUNDS`), so a long-history patient's prefetch
  stays a few MiB, well under `cds_max_body_bytes`. Each bound is far above what the rules read
  (over a year of monthly fills of several drugs, more than the 180 days early refill needs). A
  server that has more answers with a `next` link: that section is then not satisfied and is
  fetched from the FHIR server with the loader's dated queries, so a bound never drops data
  silently. Patient and the problem-list / health-concern Conditions stay unbounded (small, and
  exclusions need every active one).

A key counts as satisfied when it is present and holds `null` (no data), a resource, or a Bundle
without a `next` link. Anything else (missing, an OperationOutcome, a paged Bundle) is fetched
from `fhirServer` with the call's token when the server is allowlisted: every missing section at
once, then the Medications the medication resources reference, all within one deadline. What is
still missing when the deadline passes is named in `PatientData.gaps`, and the cards say so.
The token lives in the FhirClient of this call only; it is never stored or logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.fhir.client import FhirClient, RetryPolicy, SearchLimits
from app.fhir.load import resolve_medications, run_query
from app.fhir.queries import FhirQuery, patient_queries

log = logging.getLogger(__name__)

PATIENT_TOKEN = "{{context.patientId}}"  # noqa: S105 - a template token, not a secret

#: Prefetch key -> the loader queries that fill it in a fallback fetch. The key is the id of
#: the first query; "medication-request" also runs the undated active-orders search.
PREFETCH_SECTIONS: dict[str, tuple[str, ...]] = {
    "patient": ("patient",),
    "medication-request": ("medication-request", "medication-request-active"),
    "medication-dispense": ("medication-dispense",),
    "medication-statement": ("medication-statement",),
    "condition-problem-list": ("condition-problem-list",),
    "condition-encounter-diagnosis": ("condition-encounter-diagnosis",),
    "condition-health-concern": ("condition-health-concern",),
    "observation-laboratory": ("observation-laboratory",),
    "observation-pdmp": ("observation-pdmp",),
    "procedure": ("procedure",),
    "document-agreement": ("document-agreement",),
    "encounter": ("encounter",),
}
#: Prefetch key -> (`_sort`, `_count`): most recent first, at most that many (see above).
PREFETCH_BOUNDS: dict[str, tuple[str, int]] = {
    "medication-request": ("-authoredon", 250),
    "medication-dispense": ("-whenhandedover", 250),
    "medication-statement": ("-effective", 100),
    "condition-encounter-diagnosis": ("-recorded-date", 200),
    "observation-laboratory": ("-date", 200),
    "observation-pdmp": ("-date", 50),
    "procedure": ("-date", 100),
    "document-agreement": ("-date", 50),
    "encounter": ("-date", 100),
}
_DATE_PARAMS = frozenset({"authoredon", "whenhandedover", "date", "authored"})
_OUTSIDE_SUBSET = frozenset({"_include", "_revinclude"})
#: Any day: the dated parameters it produces are removed from the templates.
_TEMPLATE_DAY = date(2000, 1, 1)


def _template(query: FhirQuery) -> str:
    params = tuple(
        (name, value)
        for name, value in query.params
        if name not in _DATE_PARAMS
        and name not in _OUTSIDE_SUBSET
        and name not in {"_sort", "_count"}
    )
    if query.id in PREFETCH_BOUNDS:
        sort, count = PREFETCH_BOUNDS[query.id]
        params += (("_sort", sort), ("_count", str(count)))
    return FhirQuery(query.id, query.resource_type, query.interaction, params, None,
                     query.resource_id).relative_url()  # fmt: skip


def prefetch_templates() -> dict[str, str]:
    """The prefetch templates every service declares, keyed by section id."""
    queries = {q.id: q for q in patient_queries(PATIENT_TOKEN, as_of=_TEMPLATE_DAY)}
    return {key: _template(queries[key]) for key in PREFETCH_SECTIONS}


def is_satisfied(value: object) -> bool:
    """True when a prefetch value can be used as is (see the module docstring)."""
    if value is None:
        return True
    if not isinstance(value, Mapping):
        return False
    kind = value.get("resourceType")
    if kind == "OperationOutcome" or not isinstance(kind, str):
        return False
    if kind == "Bundle":
        links = value.get("link")
        if isinstance(links, list):
            return not any(isinstance(x, Mapping) and x.get("relation") == "next" for x in links)
    return True


@dataclass(frozen=True, slots=True)
class PatientData:
    """What the rules will read, as a prefetch-shaped object, and what could not be had.

    Attributes:
        prefetch: key -> value, for `chart_from_prefetch`; fetched sections are collection
            Bundles, referenced Medications are under "medication-reference".
        gaps: one phrase per section that is missing or incomplete.
        fetched: keys that were fetched from the FHIR server.
        round_trips: sequential rounds of FHIR requests made (0 without a fetch).
    """

    prefetch: dict[str, Any]
    gaps: tuple[str, ...] = ()
    fetched: tuple[str, ...] = ()
    round_trips: int = 0


def missing_keys(prefetch: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The template keys the prefetch does not satisfy."""
    given = prefetch or {}
    return tuple(k for k in PREFETCH_SECTIONS if k not in given or not is_satisfied(given[k]))


def _collection(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def _bundle_resources(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, Mapping):
        return []
    if value.get("resourceType") != "Bundle":
        return [dict(value)]
    entries = value.get("entry")
    out = []
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if isinstance(resource, dict):
            out.append(resource)
    return out


async def gather_patient_data(
    prefetch: Mapping[str, Any] | None,
    *,
    patient_id: str,
    as_of: date,
    client: FhirClient | None,
    deadline_seconds: float,
) -> PatientData:
    """Combine the prefetch with a fallback fetch of what it lacks (when `client` is given).

    Args:
        prefetch: the request's prefetch object (None when absent).
        patient_id: the patient of the call (validated FHIR id).
        as_of: the call's day; dated fallback searches count back from it.
        client: an open client for the allowlisted `fhirServer`, or None without access.
        deadline_seconds: wall-clock budget for all FHIR requests of this call.

    Returns:
        The data to read and the gaps left.
    """
    given = dict(prefetch or {})
    missing = missing_keys(given)
    kept = {k: v for k, v in given.items() if k not in missing}
    if client is None:
        for key in missing:
            if key in given:
                kept[key] = given[key]  # an OperationOutcome is reported by the chart builder
        return PatientData(
            kept,
            tuple(
                f"{k} ({'prefetch incomplete' if k in given else 'not prefetched'})"
                for k in missing
            ),
        )

    started = time.monotonic()
    queries = {q.id: q for q in patient_queries(patient_id, as_of=as_of)}
    wanted = [(key, queries[qid]) for key in missing for qid in PREFETCH_SECTIONS[key]]
    semaphore = asyncio.Semaphore(len(wanted) + 1)
    tasks = {
        asyncio.ensure_future(run_query(client, query, patient_id, semaphore)): (key, query)
        for key, query in wanted
    }
    gaps: list[str] = []
    fetched: dict[str, list[dict[str, Any]]] = {}
    round_trips = 0
    if tasks:
        round_trips += 1
        _done, pending = await asyncio.wait(tasks, timeout=deadline_seconds)
        for task in pending:
            task.cancel()
        failed_keys: set[str] = set()
        for task, (key, _query) in tasks.items():
            if task in pending:
                failed_keys.add(key)
                gaps.append(f"{key} (not fetched within {deadline_seconds * 1000:.0f} ms)")
                continue
            found, status, _error = task.result()
            if status.state in {"failed", "not-permitted"}:
                failed_keys.add(key)
                gaps.append(f"{key} ({status.state})")
                continue
            if status.state == "partial":
                gaps.append(f"{key} (partial)")
            fetched.setdefault(key, []).extend(found)
        for key in missing:
            if key in fetched and key not in failed_keys:
                kept[key] = _collection(fetched[key])
            elif key in given and key not in fetched:
                kept[key] = given[key]
    resources = [r for value in kept.values() for r in _bundle_resources(value)]
    remaining = deadline_seconds - (time.monotonic() - started)
    if _has_medication_references(resources):
        if remaining <= 0:
            gaps.append("medication-reference (no time left)")
        else:
            try:
                round_trips += 1
                medications, status = await asyncio.wait_for(
                    resolve_medications(client, resources, asyncio.Semaphore(8)), remaining
                )
                if medications:
                    kept["medication-reference"] = _collection(medications)
                if status.state != "complete":
                    gaps.append(f"medication-reference ({status.state})")
            except TimeoutError:
                gaps.append(
                    f"medication-reference (not fetched within {deadline_seconds * 1000:.0f} ms)"
                )
    log.info(
        "cds fallback fetch",
        extra={
            "sections": len(missing),
            "gaps": len(gaps),
            "round_trips": round_trips,
            "elapsed_ms": round((time.monotonic() - started) * 1000),
        },
    )
    return PatientData(kept, tuple(gaps), tuple(fetched), round_trips)


def needs_fetch(prefetch: Mapping[str, Any] | None) -> bool:
    """True when the prefetch lacks a section or a Medication its resources reference."""
    if missing_keys(prefetch):
        return True
    resources = [r for value in (prefetch or {}).values() for r in _bundle_resources(value)]
    return _has_medication_references(resources)


def _has_medication_references(resources: list[dict[str, Any]]) -> bool:
    present = {
        f"Medication/{r.get('id')}" for r in resources if r.get("resourceType") == "Medication"
    }
    for resource in resources:
        reference = resource.get("medicationReference")
        ref = reference.get("reference") if isinstance(reference, Mapping) else None
        if isinstance(ref, str) and not ref.startswith("#") and ref not in present:
            return True
    return False


def fallback_client(base_url: str, access_token: str | None, deadline_seconds: float) -> FhirClient:
    """A FHIR client for one call: the call's token, no retries past the deadline."""
    token = access_token

    async def provide() -> str | None:
        return token

    return FhirClient(
        base_url,
        access_token=provide if token else None,
        timeout_seconds=deadline_seconds,
        retry=RetryPolicy(max_retries=0, max_retry_seconds=deadline_seconds),
        limits=SearchLimits(max_pages=10, max_seconds=deadline_seconds, page_size=1000),
        max_connections=32,
    )
