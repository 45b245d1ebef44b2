"""Audit log: who, which patient, which launch, when; no clinical content."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import inspect

from app.storage.audit import MAX_DETAIL, AuditLog, audit
from app.storage.db import create_engine, ensure_schema


def make_log(tmp_path: Path) -> AuditLog:
    engine = create_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    ensure_schema(engine)
    return AuditLog(engine)


def test_records_come_back_newest_first_and_filter_by_patient(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    at = datetime(2026, 11, 1, 9, tzinfo=UTC)
    log.record("launch", user="Practitioner/1", patient="p1", launch="L1", at=at)
    log.record("view-summary", user="Practitioner/1", patient="p1", launch="L1", detail="x" * 500)
    log.record("launch", user=None, patient="p2", launch="L2")
    entries = log.entries()
    assert [e.event for e in entries] == ["launch", "view-summary", "launch"]
    assert entries[2].at == at
    assert entries[1].detail == "x" * MAX_DETAIL
    assert entries[0].user is None
    assert [e.launch for e in log.entries(patient="p1")] == ["L1", "L1"]
    assert log.entries(limit=1)[0].patient == "p2"


def test_the_table_has_no_column_for_clinical_content(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    columns = {c["name"] for c in inspect(log._engine).get_columns("audit_log")}
    assert columns == {"id", "at", "event", "user", "patient", "launch", "detail"}


def test_helper_records_the_launch_context(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(audit=log)))
    ctx = SimpleNamespace(launch_id="L9", user="Practitioner/9", patient_id="p9")
    audit(request, "view-dashboard", ctx, detail="dashboard")  # type: ignore[arg-type]
    (entry,) = log.entries()
    assert (entry.event, entry.user, entry.patient, entry.launch, entry.detail) == (
        "view-dashboard",
        "Practitioner/9",
        "p9",
        "L9",
        "dashboard",
    )
