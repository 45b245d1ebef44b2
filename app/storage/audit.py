"""The audit log: who looked at which patient's record, through which launch, and when.

Why: access to PHI is audited, not logged (docs product "Security"; HIPAA 45 CFR 164.312(b) audit
controls). Application logs carry no ids; this table carries the ids and nothing clinical: an event
name, the user reference, the patient id, the launch id and an optional short detail such as a
section name. It lives on the shared ``METADATA`` (SQLite by default, PostgreSQL by URL).

Pages call :func:`audit` with their :class:`~app.web.context.LaunchContext`; the instance is
``app.state.audit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from fastapi import Request
from sqlalchemy import Column, DateTime, Integer, String, Table, insert, select
from sqlalchemy.engine import Engine

from app.storage.db import METADATA

__all__ = ["AUDIT_LOG", "AuditEntry", "AuditLog", "LaunchLike", "audit"]

MAX_DETAIL = 200

AUDIT_LOG = Table(
    "audit_log",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("event", String(64), nullable=False),
    Column("user", String(256)),
    Column("patient", String(128), index=True),
    Column("launch", String(64)),
    Column("detail", String(MAX_DETAIL)),
)


@dataclass(frozen=True)
class AuditEntry:
    """One audit record."""

    at: datetime
    event: str
    user: str | None
    patient: str | None
    launch: str | None
    detail: str | None


class AuditLog:
    """Append-only audit records in the product database."""

    def __init__(self, engine: Engine) -> None:
        """Write to ``engine`` (the table is created by ``ensure_schema``)."""
        self._engine = engine

    def record(
        self,
        event: str,
        *,
        user: str | None,
        patient: str | None,
        launch: str | None,
        detail: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Append one record.

        Args:
            event: What happened, e.g. ``launch``, ``view-summary``, ``logout``.
            user: The fhirUser reference, or None when the server did not say.
            patient: The patient id, or None.
            launch: The launch id.
            detail: A short non-clinical note (truncated to 200 characters).
            at: When; defaults to now (UTC).
        """
        # Stored as UTC: SQLite keeps the wall-clock digits only, so another zone's time would
        # shift; PostgreSQL enforces the column lengths (a fhirUser URL can be long), SQLite not.
        values = {"event": event, "user": user, "patient": patient, "launch": launch}
        with self._engine.begin() as conn:
            conn.execute(
                insert(AUDIT_LOG).values(
                    at=_utc(at or datetime.now(UTC)),
                    detail=detail[:MAX_DETAIL] if detail else None,
                    **{name: _clip(name, value) for name, value in values.items()},
                )
            )

    def entries(self, *, patient: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest records first, optionally for one patient."""
        query = select(AUDIT_LOG).order_by(AUDIT_LOG.c.id.desc()).limit(limit)
        if patient is not None:
            query = query.where(AUDIT_LOG.c.patient == patient)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEntry(
                at=_utc(row.at),
                event=row.event,
                user=row.user,
                patient=row.patient,
                launch=row.launch,
                detail=row.detail,
            )
            for row in rows
        ]


def _utc(moment: datetime) -> datetime:
    """Aware UTC; naive values (SQLite returns them) are UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _clip(column: str, value: str | None) -> str | None:
    """``value`` cut to the column's length (the start of a reference identifies it)."""
    length = getattr(AUDIT_LOG.c[column].type, "length", None)
    return value[:length] if value is not None and length else value


class LaunchLike(Protocol):
    """What :func:`audit` reads from a launch context."""

    @property
    def launch_id(self) -> str: ...

    @property
    def user(self) -> str | None: ...

    @property
    def patient_id(self) -> str | None: ...


def audit(request: Request, event: str, ctx: LaunchLike, detail: str | None = None) -> None:
    """Record that a page of this launch did ``event`` (the helper pages call).

    Args:
        request: The current request (``app.state.audit`` is used).
        event: E.g. ``view-summary``.
        ctx: The launch context.
        detail: A short non-clinical note.
    """
    log: AuditLog = request.app.state.audit
    log.record(event, user=ctx.user, patient=ctx.patient_id, launch=ctx.launch_id, detail=detail)
