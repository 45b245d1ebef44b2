"""Save the one-page summary to the chart as a FHIR R4 DocumentReference holding the PDF.

Issue 4 "Save to chart": written only when the launch was granted
``DocumentReference.c`` (SMART App Launch 2.2 scopes; docs/standards.md section 1 "Scopes"), and
idempotent on a double click. The document carries an identifier made from a SHA-256 of the
summary's text, patient and as-of date; before writing we search for it, and the write itself is a
conditional create (``ifNoneExist``, R4 http.html#ccreate) inside a transaction Bundle, so two
clicks, or two app instances, give one document. A lock per identifier serialises clicks that reach
this process together.

Type: LOINC 34133-9 "Summary of episode note"; category: US Core ``clinical-note``. The PDF goes
inline as ``attachment.data`` (base64), with its size and SHA-1 hash as R4 defines them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from fhir.resources.R4B.documentreference import DocumentReference

from app.fhir.client import FhirClient

__all__ = [
    "IDENTIFIER_SYSTEM",
    "SUMMARY_NOTE_LOINC",
    "SaveResult",
    "build_document_reference",
    "save_summary",
    "summary_identifier",
]

log = logging.getLogger(__name__)

IDENTIFIER_SYSTEM = "urn:ppact:cot-summary"
SUMMARY_NOTE_LOINC = "34133-9"
_CATEGORY_SYSTEM = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
_locks: dict[str, asyncio.Lock] = {}


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What happened: a new document, or the one saved before."""

    outcome: Literal["created", "exists"]
    reference: str | None  # "DocumentReference/123" when the server said


def summary_identifier(patient_id: str, as_of: date, text: str) -> str:
    """The identifier value of a summary: SHA-256 over patient, as-of date and summary text."""
    digest = hashlib.sha256(f"{patient_id}\n{as_of.isoformat()}\n{text}".encode()).hexdigest()
    return f"sha256-{digest}"


def build_document_reference(
    *,
    patient_id: str,
    as_of: date,
    pdf: bytes,
    identifier: str,
    author: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The DocumentReference JSON (validated with fhir.resources R4B).

    Args:
        patient_id: Patient logical id.
        as_of: The date the summary is for.
        pdf: The summary PDF.
        identifier: `summary_identifier` value.
        author: fhirUser reference of the launch user (Practitioner/...), when known.
        now: Creation time (defaults to now, UTC).
    """
    created = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": identifier}],
        "status": "current",
        "docStatus": "final",
        "type": {
            "coding": [
                {
                    "system": "http://loinc.org",
                    "code": SUMMARY_NOTE_LOINC,
                    "display": "Summary of episode note",
                }
            ],
            "text": "PPACT chronic opioid therapy summary",
        },
        "category": [
            {
                "coding": [
                    {
                        "system": _CATEGORY_SYSTEM,
                        "code": "clinical-note",
                        "display": "Clinical Note",
                    }
                ]
            }
        ],
        "subject": {"reference": f"Patient/{patient_id}"},
        "date": created,
        "description": f"PPACT COT one-page summary as of {as_of.isoformat()}",
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "data": base64.b64encode(pdf).decode(),
                    "size": len(pdf),
                    "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode(),  # noqa: S324 - R4 Attachment.hash is SHA-1
                    "title": f"PPACT summary {as_of.isoformat()}.pdf",
                    "creation": created,
                }
            }
        ],
    }
    if author and author.split("/")[0] in {"Practitioner", "PractitionerRole"}:
        resource["author"] = [{"reference": author}]
    model = DocumentReference.model_validate(resource)
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return dumped


async def save_summary(
    client: FhirClient,
    *,
    patient_id: str,
    as_of: date,
    text: str,
    pdf: bytes,
    author: str | None,
) -> SaveResult:
    """Write the summary unless a document with the same identifier exists.

    Raises:
        FhirError: the search or the write failed (the page says so).
    """
    identifier = summary_identifier(patient_id, as_of, text)
    lock = _locks.setdefault(identifier, asyncio.Lock())
    try:
        async with lock:
            return await _save_once(
                client, patient_id=patient_id, as_of=as_of, pdf=pdf, author=author,
                identifier=identifier,
            )  # fmt: skip
    finally:
        if not lock.locked():
            _locks.pop(identifier, None)  # nobody else is saving this summary right now


async def _save_once(
    client: FhirClient,
    *,
    patient_id: str,
    as_of: date,
    pdf: bytes,
    author: str | None,
    identifier: str,
) -> SaveResult:
    token = f"{IDENTIFIER_SYSTEM}|{identifier}"
    found = await client.search(
        "DocumentReference", [("patient", patient_id), ("identifier", token)]
    )
    if found:
        log.info("summary already in chart")
        return SaveResult("exists", f"DocumentReference/{found[0].get('id')}")
    resource = build_document_reference(
        patient_id=patient_id, as_of=as_of, pdf=pdf, identifier=identifier, author=author
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": resource,
                "request": {
                    "method": "POST",
                    "url": "DocumentReference",
                    "ifNoneExist": f"identifier={token}",
                },
            }
        ],
    }
    answer = await client.transaction(bundle)
    response = answer["entry"][0].get("response", {})
    status = str(response.get("status", ""))
    location = str(response.get("location", ""))
    reference = "/".join(location.split("/_history")[0].split("/")[-2:]) if location else None
    outcome: Literal["created", "exists"] = "created" if status.startswith("201") else "exists"
    log.info("summary saved to chart", extra={"outcome": outcome})
    return SaveResult(outcome, reference)
