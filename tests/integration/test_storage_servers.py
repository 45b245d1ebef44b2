"""The product's stores behave the same on every backend: SQLite file, PostgreSQL, Redis.

Each behavioural check runs once per backend that can hold that store (sessions: SQLite,
PostgreSQL, Redis; audit log and CDS feedback: SQLite, PostgreSQL) against real servers started
by `tests.support.db_servers`. The PostgreSQL server runs in a non-UTC time zone, so stored
times must come back as the same instants in UTC. Several checks release threads together
(one pending launch popped by many callbacks, one key written by many tabs, one feedback item
sent twice at once, instances creating the schema together): server backends show races that
a single SQLite writer hides. The last test serves the whole app with `database_url` and
`redis_url` set and walks a launch, CDS feedback and the alerts page through it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
import redis
from cryptography.fernet import Fernet
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine

from app.main import create_app
from app.settings import Settings
from app.storage.audit import AUDIT_LOG, AuditLog
from app.storage.db import METADATA, create_engine, ensure_schema
from app.storage.feedback import FEEDBACK, FeedbackRecord, FeedbackStore, IssuedCard
from app.storage.sessions import (
    COOKIE_NAME,
    SESSION_VALUES,
    KeyValueStore,
    LaunchRecord,
    RedisKeyValueStore,
    SessionManager,
    SqlKeyValueStore,
    launch_store_key,
    session_store_key,
)
from tests.integration.fhir_server import FhirTestServer
from tests.support.browser import Browser
from tests.support.launch_env import PATIENT_A, seed_patients
from tests.support.servers import serve
from tests.support.smart_server import SmartServerState, build_smart_server

pytestmark = pytest.mark.integration

SQL_BACKENDS = ["sqlite", "postgresql"]
KV_BACKENDS = [*SQL_BACKENDS, "redis"]
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 2, 7, 30, tzinfo=UTC)
SECRETS = ("AT-very-secret", "RT-very-secret", "the-verifier", "patient-one", "patient-two")


# --------------------------------------------------------------------------- backends


@pytest.fixture(params=SQL_BACKENDS)
def engine(request: pytest.FixtureRequest) -> Engine:
    """An empty product database on one SQL backend."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    with engine.begin() as conn:
        for table in reversed(METADATA.sorted_tables):
            conn.execute(table.delete())
    return engine


class Clock:
    """Time for the SQL store (Redis keeps its own, so there we really wait)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class KvBackend:
    name: str
    store: KeyValueStore
    raw: Callable[[], list[tuple[str, bytes]]]
    clock: Clock | None

    def pass_time(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.now += seconds
        else:
            time.sleep(seconds)


@pytest.fixture(params=KV_BACKENDS)
def kv(request: pytest.FixtureRequest) -> Iterator[KvBackend]:
    """A session key-value store on one backend, with a view of what it holds raw."""
    if request.param == "redis":
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        client.flushdb()

        def raw_redis() -> list[tuple[str, bytes]]:
            stored: list[tuple[str, bytes]] = []
            for key in client.keys("*"):
                value = client.get(key)
                assert isinstance(key, bytes) and isinstance(value, bytes)
                stored.append((key.decode(), value))
            return stored

        yield KvBackend("redis", RedisKeyValueStore(client), raw_redis, None)
        client.close()
        return
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    with engine.begin() as conn:
        conn.execute(SESSION_VALUES.delete())

    def raw_sql() -> list[tuple[str, bytes]]:
        with engine.connect() as conn:
            rows = conn.execute(select(SESSION_VALUES.c.key, SESSION_VALUES.c.value)).all()
        return [(row.key, bytes(row.value)) for row in rows]

    clock = Clock()
    yield KvBackend(request.param, SqlKeyValueStore(engine, clock=clock), raw_sql, clock)


def launch(launch_id: str, session_id: str, patient: str, **fields: Any) -> LaunchRecord:
    return LaunchRecord(
        launch_id=launch_id,
        session_id=session_id,
        iss="https://ehr.example.org/fhir",
        open_server=False,
        patient_id=patient,
        scope="patient/*.rs",
        access_token=fields.pop("access_token", "AT-very-secret"),
        refresh_token="RT-very-secret",
        expires_at=datetime(2026, 11, 1, 12, tzinfo=UTC),
        **fields,
    )


def all_at_once(count: int, work: Callable[[], Any]) -> list[Any]:
    """Run ``work`` in ``count`` threads released together; their results."""
    barrier = threading.Barrier(count)

    def run() -> Any:
        barrier.wait()
        return work()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: run(), range(count)))


def test_instances_starting_together_create_the_schema_once(postgres_url: str) -> None:
    server, _, _ = postgres_url.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS fresh_start")
        conn.execute("CREATE DATABASE fresh_start")
    engines = [create_engine(f"{server}/fresh_start") for _ in range(4)]
    try:
        each = iter(engines)  # one engine (one instance) per thread
        all_at_once(4, lambda: ensure_schema(next(each)))
        with engines[0].connect() as conn:
            tables = set(inspect(conn).get_table_names())
    finally:
        for engine in engines:
            engine.dispose()
    assert set(METADATA.tables) <= tables


# --------------------------------------------------------------------------- sessions


def test_store_puts_replaces_reads_pops_once_and_deletes(kv: KvBackend) -> None:
    kv.store.put("a", b"1", 60)
    kv.store.put("a", b"2", 60)
    assert kv.store.get("a") == b"2"
    assert kv.store.pop("a") == b"2"
    assert kv.store.pop("a") is None
    assert kv.store.get("a") is None
    kv.store.put("b", b"\x00\xff binary", 60)
    assert kv.store.get("b") == b"\x00\xff binary"
    kv.store.delete("b")
    kv.store.delete("never-there")
    assert kv.store.get("b") is None


def test_redis_keys_carry_the_prefix_and_a_server_side_ttl(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    RedisKeyValueStore(client).put("k", b"v", 30)
    RedisKeyValueStore(client).put("z", b"v", 0)  # a TTL of 0 must not mean "forever"
    assert 0 < client.ttl("ppact:k") <= 30
    assert client.ttl("ppact:z") == 1
    client.close()


def test_values_sessions_and_pending_launches_expire(kv: KvBackend) -> None:
    sessions = SessionManager(kv.store, Fernet.generate_key(), ttl_seconds=1)
    kv.store.put("short", b"x", 1)
    kv.store.put("long", b"y", 600)
    sid = sessions.new_session()
    sessions.save_launch(launch("L1", sid, "patient-one"))
    cookie = {COOKIE_NAME: sessions.cookie_value(sid)}
    assert sessions.session_id_from(cookie) == sid
    kv.pass_time(1.2)
    assert kv.store.get("short") is None
    assert kv.store.pop("short") is None
    assert kv.store.get("long") == b"y"
    assert sessions.session_id_from(cookie) is None
    assert sessions.load_launch("L1") is None


def test_session_is_created_read_back_and_refuses_forged_cookies(kv: KvBackend) -> None:
    sessions = SessionManager(kv.store, Fernet.generate_key())
    sid = sessions.new_session()
    value = sessions.cookie_value(sid)
    assert sessions.session_id_from({COOKIE_NAME: value}) == sid
    assert sessions.session_id_from({COOKIE_NAME: value[:-1] + "x"}) is None
    assert sessions.session_id_from({COOKIE_NAME: sessions.cookie_value("unknown")}) is None
    assert SessionManager(kv.store, Fernet.generate_key()).session_id_from({}) is None


def test_logout_clears_the_session_and_its_launches_only(kv: KvBackend) -> None:
    sessions = SessionManager(kv.store, Fernet.generate_key())
    mine, other = sessions.new_session(), sessions.new_session()
    sessions.save_launch(launch("L1", mine, "patient-one"))
    sessions.save_launch(launch("L2", mine, "patient-two"))
    sessions.save_launch(launch("L3", other, "patient-two"))
    sessions.end_session(mine)
    assert sessions.load_launch("L1") is None
    assert sessions.load_launch("L2") is None
    assert sessions.session_id_from({COOKIE_NAME: sessions.cookie_value(mine)}) is None
    assert sessions.load_launch("L3") == launch("L3", other, "patient-two")
    assert sessions.session_id_from({COOKIE_NAME: sessions.cookie_value(other)}) == other
    assert [key for key, _ in kv.raw() if "L1" in key or "L2" in key] == []


def test_logout_ends_launches_saved_at_the_same_moment(kv: KvBackend) -> None:
    sessions = SessionManager(kv.store, Fernet.generate_key())
    sid = sessions.new_session()
    ids = iter(f"L{n}" for n in range(6))
    all_at_once(6, lambda: sessions.save_launch(launch(next(ids), sid, "patient-one")))
    assert all(sessions.load_launch(f"L{n}") is not None for n in range(6))
    sessions.end_session(sid)
    assert [n for n in range(6) if sessions.load_launch(f"L{n}") is not None] == []


def test_two_launches_keep_their_own_patient_and_tokens(kv: KvBackend) -> None:
    sessions = SessionManager(kv.store, Fernet.generate_key())
    sid = sessions.new_session()
    first = launch("L1", sid, "patient-one", access_token="AT-one")
    second = launch("L2", sid, "patient-two", access_token="AT-two")
    sessions.save_launch(first)
    sessions.save_launch(second)
    refreshed = first.with_token(
        access_token="AT-one-refreshed", refresh_token=None, expires_at=None, scope="patient/*.rs"
    )
    sessions.save_launch(refreshed)
    assert sessions.load_launch("L1") == refreshed
    assert sessions.load_launch("L2") == second
    sessions.delete_launch("L1")
    assert sessions.load_launch("L1") is None
    assert sessions.load_launch("L2") == second


def test_values_are_encrypted_at_rest_and_keys_reveal_no_secret(kv: KvBackend) -> None:
    sessions = SessionManager(kv.store, Fernet.generate_key())
    sid = sessions.new_session()
    sessions.save_launch(launch("L1", sid, "patient-one"))
    sessions.save_launch(launch("L2", sid, "patient-two"))
    sessions.save_pending("the-state", {"code_verifier": "the-verifier"})
    stored = kv.raw()
    assert len(stored) == 4  # session, two launches, one pending launch
    dump = b"\n".join(key.encode() + b"=" + value for key, value in stored)
    for secret in (*SECRETS, sid, "the-state", "ehr.example.org"):
        assert secret.encode() not in dump, secret
    assert sessions.pop_pending("the-state") == {"code_verifier": "the-verifier"}


def test_a_pending_launch_is_popped_by_exactly_one_of_many_callbacks(kv: KvBackend) -> None:
    sessions = SessionManager(kv.store, Fernet.generate_key())
    for state in ("state-1", "state-2", "state-3"):
        sessions.save_pending(state, {"state": state})
        got = all_at_once(6, partial(sessions.pop_pending, state))
        assert [g for g in got if g is not None] == [{"state": state}]


def test_concurrent_writes_to_one_key_all_succeed(kv: KvBackend) -> None:
    # Two tabs of one session save their launches at once: both write the session's key (and
    # on SQL each write also purges expired rows).
    for key in ("k1", "k2", "k3"):
        for n in range(5):
            kv.store.put(f"old-{key}-{n}", b"x", 1)
        kv.pass_time(1.1 if kv.clock else 0)
        all_at_once(6, partial(kv.store.put, key, b"v", 60))
        assert kv.store.get(key) == b"v"
    if kv.clock is not None:
        assert sorted(key for key, _ in kv.raw()) == ["k1", "k2", "k3"]


# --------------------------------------------------------------------------- audit log


def test_audit_log_records_and_queries_newest_first_in_utc(engine: Engine) -> None:
    log = AuditLog(engine)
    log.record("launch", user="Practitioner/1", patient="p-1", launch="L1", at=NOW)
    log.record(
        "view-summary",
        user="Practitioner/1",
        patient="p-1",
        launch="L1",
        detail="x" * 300,
        at=(NOW + timedelta(minutes=5)).astimezone(NEW_YORK),
    )
    log.record("view-summary", user=None, patient="p-2", launch="L2", at=NOW + timedelta(hours=1))
    before = datetime.now(UTC)
    log.record("logout", user="Practitioner/1", patient=None, launch="L1")
    after = datetime.now(UTC)

    newest = log.entries()
    assert [e.event for e in newest] == ["logout", "view-summary", "view-summary", "launch"]
    assert before <= newest[0].at <= after
    for entry in newest:
        assert entry.at.utcoffset() == timedelta(0)
    of_p1 = log.entries(patient="p-1")
    assert [(e.event, e.at) for e in of_p1] == [
        ("view-summary", NOW + timedelta(minutes=5)),
        ("launch", NOW),
    ]
    assert of_p1[0].detail == "x" * 200
    assert (of_p1[1].user, of_p1[1].launch) == ("Practitioner/1", "L1")
    assert len(log.entries(limit=2)) == 2
    assert log.entries(patient="nobody") == []


def test_audit_log_keeps_long_references_without_failing(engine: Engine) -> None:
    # A fhirUser is a full URL; PostgreSQL enforces column lengths, SQLite does not.
    user = "https://ehr.example.org/fhir/Practitioner/" + "a" * 300
    AuditLog(engine).record("view-summary", user=user, patient="p" * 200, launch="L" * 100)
    entry = AuditLog(engine).entries()[0]
    assert entry.user is not None and user.startswith(entry.user)
    assert entry.patient is not None and entry.patient.startswith("ppp")


# --------------------------------------------------------------------------- CDS feedback


def card(uuid: str, rule: str, patient: str = "p-1", at: datetime = NOW) -> IssuedCard:
    return IssuedCard(
        uuid=uuid,
        service_id="ppact-order-sign",
        rule=rule,
        patient_id=patient,
        hook_instance="d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        indicator="warning",
        issued_at=at,
    )


def overridden(
    uuid: str, at: datetime, code: str | None, display: str | None = None
) -> FeedbackRecord:
    return FeedbackRecord(
        card_uuid=uuid,
        service_id="ppact-order-sign",
        outcome="overridden",
        outcome_at=at,
        reason_system="http://example.org/override" if code else None,
        reason_code=code,
        reason_display=display,
    )


def test_feedback_is_stored_once_even_when_sent_twice_or_at_once(engine: Engine) -> None:
    store = FeedbackStore(engine)
    store.record_cards([card("c1", "early-refill")])
    item = overridden("c1", NOW, "patient-request")
    assert store.record_feedback(item) == (True, store.card("c1"))
    same_instant = overridden("c1", NOW.astimezone(NEW_YORK), "patient-request")
    assert store.record_feedback(same_instant)[0] is False
    racing = overridden("c1", NOW + timedelta(minutes=1), "patient-request")
    results = all_at_once(5, lambda: store.record_feedback(racing)[0])
    assert sorted(results) == [False, False, False, False, True]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(FEEDBACK)).scalar_one() == 2
    issued = store.card("c1")
    assert issued is not None and issued.issued_at == NOW
    assert issued.issued_at.utcoffset() == timedelta(0)


def test_snooze_is_active_for_its_days_only(engine: Engine) -> None:
    store = FeedbackStore(engine)
    store.record_cards([card("c1", "opioid-benzo-coprescribing"), card("c2", "high-mme")])
    assert store.record_feedback(overridden("c1", NOW, "snooze-7"), snooze_days=7)[0]
    assert store.record_feedback(overridden("c2", NOW, "snooze-1"), snooze_days=1)[0]
    assert store.record_feedback(overridden("unknown", NOW, "snooze-7"), snooze_days=7)[0]

    in_a_day = store.active_snoozes("p-1", (NOW + timedelta(hours=12)).astimezone(NEW_YORK))
    assert [(s.rule, s.until) for s in in_a_day] == [
        ("opioid-benzo-coprescribing", NOW + timedelta(days=7)),
        ("high-mme", NOW + timedelta(days=1)),
    ]
    assert all(s.starts_at == NOW and s.until.utcoffset() == timedelta(0) for s in in_a_day)
    assert store.snoozed_rules("p-1", NOW + timedelta(days=2)) == {"opioid-benzo-coprescribing"}
    assert store.active_snoozes("p-1", NOW + timedelta(days=7)) == []
    assert store.active_snoozes("p-1", NOW - timedelta(seconds=1)) == []
    assert store.active_snoozes("p-2", NOW + timedelta(hours=1)) == []


def test_alert_analytics_count_fired_accepted_overridden_and_snoozed(engine: Engine) -> None:
    store = FeedbackStore(engine)
    early = NOW - timedelta(days=40)
    store.record_cards(
        [
            card("a1", "early-refill"),
            card("a2", "early-refill"),
            card("a3", "early-refill", patient="p-2"),
            card("b1", "naloxone"),
            card("old", "naloxone", at=early),
        ]
    )
    accepted = FeedbackRecord(
        card_uuid="b1",
        service_id="ppact-order-sign",
        outcome="accepted",
        outcome_at=NOW,
        accepted_suggestions=("add-naloxone",),
    )
    store.record_feedback(accepted)
    store.record_feedback(overridden("a1", NOW, "patient-request"))
    store.record_feedback(overridden("a2", NOW, "patient-request"))
    store.record_feedback(overridden("a3", NOW, "snooze-7"), snooze_days=7)
    store.record_feedback(overridden("zz", NOW, None))
    store.record_feedback(overridden("old", early, "other"))

    rows = {
        r.rule: r
        for r in store.report(NOW - timedelta(days=1), NOW.astimezone(NEW_YORK) + timedelta(days=1))
    }
    assert set(rows) == {"early-refill", "naloxone", "unknown-card"}
    refill = rows["early-refill"]
    assert (refill.fired, refill.accepted, refill.overridden, refill.snoozed) == (3, 0, 3, 1)
    assert refill.override_reasons == {"patient-request": 2, "snooze-7": 1}
    naloxone = rows["naloxone"]
    assert (naloxone.fired, naloxone.accepted, naloxone.overridden) == (1, 1, 0)
    assert rows["unknown-card"].override_reasons == {"no reason given": 1}


def test_feedback_with_long_reason_text_from_the_ehr_is_stored(engine: Engine) -> None:
    # Reason codings come from the EHR unbounded; PostgreSQL enforces column lengths.
    store = FeedbackStore(engine)
    store.record_cards([card("c1", "high-mme")])
    item = overridden("c1", NOW, "c" * 300, display="d" * 600)
    assert store.record_feedback(item, snooze_days=3)[0] is True
    assert store.record_feedback(item, snooze_days=3)[0] is False
    assert store.snoozed_rules("p-1", NOW + timedelta(days=1)) == {"high-mme"}
    report = store.report(NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert report[0].overridden == 1


# --------------------------------------------------------------------------- the app


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_app_on_postgresql_and_redis_serves_a_launch_end_to_end(
    fhir_server: FhirTestServer,
    postgres_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    seed_patients(fhir_server)
    raw = redis.Redis.from_url(redis_url)
    raw.flushdb()
    state = SmartServerState(fhir_upstream=fhir_server.base_url, fhir_token=fhir_server.token)
    browser = Browser()
    with serve(build_smart_server(state)) as auth_base:
        state.base = auth_base
        open_iss = f"{auth_base}/open/fhir"
        settings = Settings(
            data_dir=tmp_path,
            database_url=postgres_url,
            redis_url=redis_url,
            issuers=[{"iss": open_iss, "open": True}],
            cds_allow_unsigned=True,
        )
        app = create_app(settings)
        with serve(app) as base:
            assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
            pick = browser.get(f"{base}/launch?iss={open_iss}")
            assert pick.status_code == 200 and pick.request.url.path.endswith("/pick")
            launch_id = pick.request.url.path.split("/")[2]
            cookie = browser.cookies[httpx.URL(base).netloc.decode()][COOKIE_NAME]
            ours = [launch_store_key(launch_id), session_store_key(cookie.rpartition(".")[0])]
            assert all(raw.exists(f"ppact:{key}") for key in ours)  # in Redis
            token = _csrf(pick.text)
            chosen = browser.post(
                f"{base}/l/{launch_id}/pick", {"patient": PATIENT_A, "csrf_token": token}
            )
            assert chosen.status_code == 200, chosen.text
            assert chosen.request.url.path == f"/l/{launch_id}/summary"
            assert "Alpha" in chosen.text
            service = httpx.get(f"{base}/cds-services").json()["services"][0]["id"]
            item = {
                "card": "0b2d9a5e-unknown-card",
                "outcome": "overridden",
                "outcomeTimestamp": datetime.now(UTC).isoformat(),
                "overrideReason": {"reason": {"code": "r" * 200, "display": "d" * 400}},
            }
            for expected in ({"stored": 1, "duplicates": 0}, {"stored": 0, "duplicates": 1}):
                sent = httpx.post(
                    f"{base}/cds-services/{service}/feedback", json={"feedback": [item]}
                )
                assert sent.status_code == 200, sent.text
                assert sent.json() | expected == sent.json()
            alerts = browser.get(f"{base}/alerts")
            assert alerts.status_code == 200
            assert "<code>unknown-card</code>" in alerts.text
            out = browser.post(f"{base}/l/{launch_id}/logout", {"csrf_token": token})
            assert out.status_code == 200
            assert not raw.exists(f"ppact:l:{launch_id}")
    browser.close()
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        events = (
            conn.execute(
                select(AUDIT_LOG.c.event)
                .where(AUDIT_LOG.c.launch == launch_id)
                .order_by(AUDIT_LOG.c.id)
            )
            .scalars()
            .all()
        )
        # Only this app's keys: other tests share the table. None of them reached PostgreSQL.
        in_sql = select(func.count()).where(SESSION_VALUES.c.key.in_(ours))
        assert conn.execute(in_sql).scalar_one() == 0
    engine.dispose()
    raw.close()
    assert events == ["pick-patient", "view-summary", "logout"]
    assert not (tmp_path / "ppact.db").exists()  # nothing fell back to the embedded SQLite
