"""Load one patient's COT record from a FHIR server: every section at once, failures kept apart.

Runs the queries of `queries.py` concurrently (bounded by a semaphore per call), then reads the
Medications that MedicationRequest/Dispense/Statement reference and that were neither contained
nor brought by `_include` (one batch Bundle; single reads when the server refuses batch). The
chart builder (`app.clinical.chart.build_chart`) turns `PatientRecord.resources` into a Chart.

Clinical safety (docs product "Safety rule"): a section that fails (timeout, 5xx after retries,
403) is reported in `sections` and never fails the load, so a missing MedicationRequest search
shows as "failed", not as "no opioids". Resources are not validated here; one that a model
library would reject is still handed on, for the chart builder to report.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeVar, cast

import httpx

from app.fhir.client import FhirClient, ReadResults, SearchResult, split_reference
from app.fhir.errors import (
    FhirError,
    FhirRequestError,
    FhirTimeout,
    NotAuthorized,
    NotPermitted,
)
from app.fhir.queries import DEFAULT_LOOKBACK_DAYS, FhirQuery, patient_queries

log = logging.getLogger(__name__)
_T = TypeVar("_T")

SectionState = Literal["complete", "partial", "failed", "not-permitted"]
MEDICATION_REFERENCE_SECTION = "medication-reference"
_MEDICATION_RESOURCES = ("MedicationRequest", "MedicationDispense", "MedicationStatement")


@dataclass(frozen=True, slots=True)
class SectionStatus:
    """How one section of the record loaded.

    Attributes:
        state: "complete"; "partial" (some pages or items missing, see reason); "failed";
            "not-permitted" (403: the token lacks the scope or policy forbids it).
        reason: What went wrong or what to know, in words; None when nothing to say.
        count: Resources the section contributed (before de-duplication across sections).
    """

    state: SectionState
    reason: str | None
    count: int


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """All resources loaded for one patient, de-duplicated, and the status of each section.

    Attributes:
        resources: FHIR JSON resources, each (type, id) once, in query order.
        sections: Section id (a `FhirQuery.id`, or "medication-reference") -> status.
    """

    resources: list[dict[str, Any]]
    sections: dict[str, SectionStatus]

    @property
    def complete(self) -> bool:
        """True when every section loaded completely."""
        return all(s.state == "complete" for s in self.sections.values())

    @property
    def incomplete_sections(self) -> tuple[str, ...]:
        """Ids of the sections that are not complete."""
        return tuple(k for k, s in self.sections.items() if s.state != "complete")


#: Requests one record load keeps in flight at most. High enough that every search of a record
#: goes out at once (one round trip of EHR latency; issue 3 measures it in benchmarks/
#: bench_load.py), and a cap so that one launch never floods an EHR with more than this.
DEFAULT_CONCURRENCY = 24


async def load_patient_record(
    client: FhirClient,
    patient_id: str,
    *,
    as_of: date,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    concurrency: int = DEFAULT_CONCURRENCY,
    deadline_seconds: float | None = None,
) -> PatientRecord:
    """Fetch one patient's record; sections load concurrently and fail independently.

    Args:
        client: Open FHIR client for the patient's server.
        patient_id: Patient logical id.
        as_of: Day the record is loaded for (sets the lookback window).
        lookback_days: How far back dated searches reach.
        concurrency: Requests in flight at most for this call.
        deadline_seconds: Wall-time budget for the whole load (retries included). A section
            still waiting when it runs out is marked failed ("no answer within N s") and the
            rest is returned, so a slow EHR costs the page at most this long.

    Returns:
        The resources and one SectionStatus per query plus "medication-reference".

    Raises:
        NotAuthorized: the token was refused (after one refresh) on every section; nothing
            can be loaded without a new launch.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    started = time.monotonic()
    semaphore = asyncio.Semaphore(concurrency)
    queries = patient_queries(patient_id, as_of=as_of, lookback_days=lookback_days)
    deadline = None if deadline_seconds is None else started + deadline_seconds
    outcomes = await asyncio.gather(
        *(
            _within(
                deadline,
                deadline_seconds,
                query.id,
                run_query(client, query, patient_id, semaphore),
            )
            for query in queries
        )
    )
    sections: dict[str, SectionStatus] = {}
    resources: list[dict[str, Any]] = []
    unauthorized: list[NotAuthorized] = []
    for query, (found, status, error) in zip(queries, outcomes, strict=True):
        sections[query.id] = status
        resources.extend(found)
        if isinstance(error, NotAuthorized):
            unauthorized.append(error)
    if len(unauthorized) == len(queries):
        raise unauthorized[0]
    resources = _deduplicated(resources)
    medications, sections[MEDICATION_REFERENCE_SECTION] = await _within(
        deadline,
        deadline_seconds,
        MEDICATION_REFERENCE_SECTION,
        resolve_medications(client, resources, semaphore),
    )
    resources.extend(medications)
    log.info(
        "patient record loaded",
        extra={
            "resources": len(resources),
            "incomplete_sections": sum(s.state != "complete" for s in sections.values()),
            "elapsed_ms": round((time.monotonic() - started) * 1000),
        },
    )
    return PatientRecord(resources, sections)


# ---------------------------------------------------------------------- sections


async def _within(
    deadline: float | None, seconds: float | None, section: str, work: Awaitable[_T]
) -> _T:
    """`work`, or a failed section when the load's deadline passes first."""
    if deadline is None or seconds is None:
        return await work
    try:
        return await asyncio.wait_for(work, timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        log.warning("fhir section timed out", extra={"section": section})
        budget = f"no answer within {seconds:g} s"
        failed = SectionStatus("failed", budget, 0)
        if section == MEDICATION_REFERENCE_SECTION:
            return cast(_T, ([], failed))
        return cast(_T, ([], failed, FhirTimeout(budget)))


async def run_query(
    client: FhirClient, query: FhirQuery, patient_id: str, semaphore: asyncio.Semaphore
) -> tuple[list[dict[str, Any]], SectionStatus, FhirError | None]:
    """Run one query of `queries.py` as one record section.

    Shared by `load_patient_record` and the CDS service's fallback fetch
    (`cds_hooks/prefetch.py`), so both report a section the same way (docs product "Safety
    rule": a failed section is reported, never read as "no data").

    Args:
        client: The FHIR client of the launch or CDS call.
        query: The query to run (a read or a search).
        patient_id: The patient; search results about anyone else are dropped.
        semaphore: Bounds the requests in flight for this record.

    Returns:
        The resources, the section's status and the FhirError that failed it (None when it
        did not fail). FhirError is never raised.
    """
    try:
        async with semaphore:
            if query.interaction == "read":
                assert query.resource_id is not None  # noqa: S101 - set by patient_queries
                resource = await client.read(query.resource_type, query.resource_id)
                return [resource], SectionStatus("complete", None, 1), None
            return _search_section(
                *await _search_with_fallback(client, query),
                patient_id=patient_id,
                resource_type=query.resource_type,
            )
    except NotPermitted as exc:
        return [], SectionStatus("not-permitted", str(exc), 0), exc
    except FhirError as exc:
        log.warning(
            "fhir section failed",
            extra={"section": query.id, "error": type(exc).__name__},
        )
        return [], SectionStatus("failed", str(exc), 0), exc


async def _search_with_fallback(
    client: FhirClient, query: FhirQuery
) -> tuple[SearchResult, str | None]:
    """Search; on 400 retry once with the query's fallback parameters (docs standards 4)."""
    try:
        return await client.search_detailed(query.resource_type, query.params), None
    except FhirRequestError as exc:
        if exc.status != 400 or query.fallback_params is None:
            raise
        result = await client.search_detailed(query.resource_type, query.fallback_params)
        note = f"server refused the first search ({exc}); retried with {_params_text(query)}"
        return result, note


def _search_section(
    result: SearchResult, fallback_note: str | None, *, patient_id: str, resource_type: str
) -> tuple[list[dict[str, Any]], SectionStatus, None]:
    """Turn a search result into the section's resources and status."""
    reasons: list[str] = []
    state: SectionState = "complete"
    if fallback_note:
        state = "partial"
        reasons.append(fallback_note)
    if result.truncated:
        state = "partial"
        reasons.append(result.truncated)
    matches = [r for r in result.matches if r.get("resourceType") == resource_type]
    others = len(result.matches) - len(matches)
    if "patient" in result.ignored_params:
        # the server returned every patient's resources: keep only those naming ours
        kept = [r for r in matches if _patient_of(r) == patient_id]
    else:
        kept = [r for r in matches if _patient_of(r) in (None, patient_id)]
    discarded = len(matches) - len(kept)
    if result.ignored_params:
        reasons.append("server ignored search parameters: " + ", ".join(result.ignored_params))
    if discarded:
        # e.g. a server that does not know `patient` on this type returns everyone's resources
        reasons.append(f"{discarded} resources not of this patient discarded")
    if others:
        reasons.append(f"{others} entries of another resource type kept apart")
    found = [*kept, *result.included]
    return found, SectionStatus(state, "; ".join(reasons) or None, len(found)), None


def _params_text(query: FhirQuery) -> str:
    """The fallback parameters that differ from the first search, as `name=value`."""
    changed = [f"{n}={v}" for n, v in query.fallback_params or () if (n, v) not in query.params]
    return ", ".join(changed) or "fewer parameters"


def _patient_of(resource: Mapping[str, Any]) -> str | None:
    """The Patient id in the resource's subject/patient reference, or None when it names none.

    Relative, absolute and versioned references are read; a resource without one is kept
    when the server applied `patient` (the server matched it).
    """
    for element in ("subject", "patient"):
        reference = resource.get(element)
        if isinstance(reference, Mapping) and isinstance(reference.get("reference"), str):
            ref = str(reference["reference"]).split("/_history/")[0]
            parts = ref.rstrip("/").split("/")
            if len(parts) >= 2 and parts[-2] == "Patient":
                return parts[-1]
            return ""  # a reference to something else (Group ...): not this patient's
    return None


def _deduplicated(resources: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each (type, id) once, first occurrence kept; resources without an id are all kept."""
    seen: set[tuple[str, str]] = set()
    out: list[dict[str, Any]] = []
    for resource in resources:
        rid = resource.get("id")
        if isinstance(rid, str):
            key = (str(resource.get("resourceType")), rid)
            if key in seen:
                continue
            seen.add(key)
        out.append(resource)
    return out


# ---------------------------------------------------------------------- medications


async def resolve_medications(
    client: FhirClient, resources: list[dict[str, Any]], semaphore: asyncio.Semaphore
) -> tuple[list[dict[str, Any]], SectionStatus]:
    """Read the Medications that `resources` reference and that are not already present.

    Contained (`#id`) and `_include`d Medications need no read; the rest are read in one batch
    (single reads when the server refuses batch). Used by `load_patient_record` and the CDS
    fallback fetch. FhirError is never raised: it becomes the section status.

    Args:
        client: The FHIR client; references to another server are not followed.
        resources: The record's resources so far (MedicationRequest/Dispense/Statement and any
            Medications already loaded).
        semaphore: Bounds the requests in flight.

    Returns:
        The Medications read, and the status of the "medication-reference" section.
    """
    present = {f"Medication/{r['id']}" for r in resources if r.get("resourceType") == "Medication"}
    wanted: list[str] = []
    foreign = 0
    for resource in resources:
        if resource.get("resourceType") not in _MEDICATION_RESOURCES:
            continue
        reference = resource.get("medicationReference")
        ref = reference.get("reference") if isinstance(reference, Mapping) else None
        if not isinstance(ref, str) or ref.startswith("#"):
            continue  # contained, or medicationCodeableConcept: the chart builder reads it
        relative = _relative_to(client.base_url, ref)
        if relative is None:
            foreign += 1
        elif relative not in present and relative not in wanted:
            wanted.append(relative)
    reasons: list[str] = []
    if foreign:
        reasons.append(f"{foreign} Medication references on another server or not Type/id")
    if not wanted:
        state: SectionState = "partial" if foreign else "complete"
        return [], SectionStatus(state, "; ".join(reasons) or None, 0)
    try:
        results = await _read_medications(client, wanted, semaphore, reasons)
    except FhirError as exc:
        failed_state: SectionState = "not-permitted" if isinstance(exc, NotPermitted) else "failed"
        reasons.append(f"{len(wanted)} referenced Medications not read: {exc}")
        return [], SectionStatus(failed_state, "; ".join(reasons), 0)
    found = list(results.found.values())
    if results.failed:
        reasons.append(
            "unresolved: " + "; ".join(f"{ref} ({why})" for ref, why in results.failed.items())
        )
    state = "complete"
    if results.failed or foreign:
        state = "failed" if not found else "partial"
    return found, SectionStatus(state, "; ".join(reasons) or None, len(found))


async def _read_medications(
    client: FhirClient, refs: list[str], semaphore: asyncio.Semaphore, reasons: list[str]
) -> ReadResults:
    """One batch read; single reads in parallel when the batch itself is refused."""
    try:
        async with semaphore:
            return await client.batch_read(refs)
    except (NotAuthorized, NotPermitted):
        raise  # single reads would be refused the same way
    except FhirError as exc:
        reasons.append(f"batch read refused ({type(exc).__name__}); read one by one")

    async def read_one(ref: str) -> tuple[str, dict[str, Any] | None, str]:
        resource_type, resource_id = ref.split("/")
        try:
            async with semaphore:
                return ref, await client.read(resource_type, resource_id), ""
        except FhirError as exc:
            return ref, None, str(exc)

    found: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    for ref, resource, why in await asyncio.gather(*(read_one(ref) for ref in refs)):
        if resource is not None:
            found[ref] = resource
        else:
            failed[ref] = why
    return ReadResults(found, failed)


def _relative_to(base_url: str, reference: str) -> str | None:
    """ "Medication/x" for a relative reference or an absolute one on our server, else None."""
    if split_reference(reference) is not None:
        return reference
    if reference.startswith(("http://", "https://")):
        base = httpx.URL(base_url.rstrip("/") + "/")
        url = httpx.URL(reference)
        if (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port):
            tail = url.path[len(base.path) :] if url.path.startswith(base.path) else ""
            if split_reference(tail) is not None and not url.query:
                return tail
    return None
