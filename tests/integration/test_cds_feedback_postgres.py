"""The feedback store on a real PostgreSQL (a throw-away cluster on 127.0.0.1), as on SQLite.

The cluster comes from `tests.support.db_servers` (skips with the reason when PostgreSQL is not
installed, fails instead under PPACT_REQUIRE_SERVERS=1). The same store calls as the SQLite unit
tests: cards, idempotent feedback, snooze with expiry, the per-rule report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.storage.db import create_engine, ensure_schema
from app.storage.feedback import FeedbackRecord, FeedbackStore, IssuedCard

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 2, 7, 30, tzinfo=UTC)


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
