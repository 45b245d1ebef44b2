"""The feedback store on a real PostgreSQL (a throw-away cluster on 127.0.0.1), as on SQLite.

Starts `initdb` + `postgres` from the machine's PostgreSQL binaries as the `postgres` user in a
temp directory, on a free port; skips with the reason when they are not there or we cannot
switch user. The same store calls as the SQLite unit tests: cards, idempotent feedback, snooze
with expiry, the per-rule report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from app.storage.db import create_engine, ensure_schema
from app.storage.feedback import FeedbackRecord, FeedbackStore, IssuedCard
from tests.integration.fhir_server import free_port

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 2, 7, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if shutil.which("initdb") is None or shutil.which("postgres") is None:
        pytest.skip("PostgreSQL binaries (initdb, postgres) are not installed")
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root to run PostgreSQL as the postgres user")
    workdir = Path(tempfile.mkdtemp(prefix="ppact-pg-"))
    data = workdir / "data"
    shutil.chown(workdir, "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_postgres, "initdb", "-D", str(data), "-A", "trust", "-U", "ppact", "--no-sync"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [*as_postgres, "postgres", "-D", str(data), "-p", str(port), "-h", "127.0.0.1",
         "-k", str(workdir), "-c", "fsync=off"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"postgresql://ppact@127.0.0.1:{port}/postgres"
    engine = create_engine(url)
    deadline = time.monotonic() + 30
    while True:
        try:
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            break
        except Exception:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("PostgreSQL did not start")
            time.sleep(0.1)
    engine.dispose()
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(workdir, ignore_errors=True)


def test_feedback_store_on_postgresql(postgres_url):
    engine = create_engine(postgres_url)
    ensure_schema(engine)
    store = FeedbackStore(engine)
    store.record_cards(
        [
            IssuedCard("c-1", "svc", "coprescribing", "p1", "h-1", "warning", NOW),
            IssuedCard("c-2", "svc", "early-refill", "p1", "h-1", "warning", NOW),
        ]
    )
    assert store.card("c-1").rule == "coprescribing"
    snooze = FeedbackRecord(
        "c-1", "svc", "overridden", NOW, reason_code="snooze-1-month", reason_system="x"
    )
    assert store.record_feedback(snooze, snooze_days=30)[0] is True
    assert store.record_feedback(snooze, snooze_days=30)[0] is False  # idempotent
    accepted = FeedbackRecord("c-2", "svc", "accepted", NOW, accepted_suggestions=("s-1",))
    assert store.record_feedback(accepted)[0] is True

    assert store.snoozed_rules("p1", NOW + timedelta(days=29)) == {"coprescribing"}
    assert store.snoozed_rules("p1", NOW + timedelta(days=31)) == frozenset()
    (active,) = store.active_snoozes("p1", NOW)
    assert active.until == NOW + timedelta(days=30)

    rows = {r.rule: r for r in store.report(NOW - timedelta(days=1), NOW + timedelta(days=1))}
    assert (rows["coprescribing"].fired, rows["coprescribing"].overridden) == (1, 1)
    assert rows["coprescribing"].override_reasons == {"snooze-1-month": 1}
    assert rows["coprescribing"].snoozed == 1
    assert rows["early-refill"].accepted == 1
    engine.dispose()
