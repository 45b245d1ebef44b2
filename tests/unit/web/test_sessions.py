"""Session store on SQLite: expiry, single-use pops, encryption at rest, signed cookies.

The same checks on PostgreSQL and a real Redis are in tests/integration/test_storage_servers.py.
"""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from app.storage.db import create_engine, ensure_schema
from app.storage.sessions import (
    COOKIE_NAME,
    SESSION_VALUES,
    KeyValueStore,
    LaunchRecord,
    SessionManager,
    SqlKeyValueStore,
    load_session_key,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ensure_schema(engine)
    yield engine
    engine.dispose()


def record(launch_id: str = "L1", session_id: str = "S1", **fields) -> LaunchRecord:
    values = {
        "iss": "https://ehr.example.org/fhir",
        "open_server": False,
        "patient_id": "p-1",
        "scope": "patient/Patient.rs",
        "access_token": "AT-very-secret",
        "refresh_token": "RT-very-secret",
        "expires_at": datetime(2026, 11, 1, 12, tzinfo=UTC),
        **fields,
    }
    return LaunchRecord(launch_id=launch_id, session_id=session_id, **values)


def test_sql_store_expires_values_and_pops_once(engine) -> None:
    clock = Clock()
    store = SqlKeyValueStore(engine, clock=clock)
    store.put("a", b"1", 10)
    store.put("b", b"2", 100)
    assert store.get("a") == b"1"
    clock.now += 11
    assert store.get("a") is None
    assert store.pop("a") is None
    assert store.pop("b") == b"2"
    assert store.pop("b") is None
    store.put("c", b"3", 10)
    store.put("c", b"4", 10)
    assert store.get("c") == b"4"
    store.delete("c")
    assert store.get("c") is None


def test_sql_store_purges_expired_rows_on_write(engine) -> None:
    clock = Clock()
    store = SqlKeyValueStore(engine, clock=clock)
    store.put("old", b"x", 1)
    clock.now += 5
    store.put("new", b"y", 10)
    with engine.connect() as conn:
        keys = [row.key for row in conn.execute(select(SESSION_VALUES.c.key))]
    assert keys == ["new"]


@pytest.fixture
def store(engine) -> KeyValueStore:
    return SqlKeyValueStore(engine)


def test_sessions_sign_cookies_and_refuse_tampering(store: KeyValueStore) -> None:
    sessions = SessionManager(store, Fernet.generate_key())
    sid = sessions.new_session()
    value = sessions.cookie_value(sid)
    assert sessions.session_id_from({COOKIE_NAME: value}) == sid
    flipped = value[:-1] + ("1" if value.endswith("0") else "0")
    assert sessions.session_id_from({COOKIE_NAME: flipped}) is None
    assert sessions.session_id_from({COOKIE_NAME: "x" + value}) is None
    assert sessions.session_id_from({}) is None
    other = SessionManager(store, Fernet.generate_key())
    assert other.session_id_from({COOKIE_NAME: value}) is None
    forged = sessions.cookie_value("not-a-session")
    assert sessions.session_id_from({COOKIE_NAME: forged}) is None


def test_launches_round_trip_and_logout_clears_them(store: KeyValueStore) -> None:
    sessions = SessionManager(store, Fernet.generate_key())
    sid = sessions.new_session()
    first, second = record("L1", sid), record("L2", sid, patient_id="p-2")
    sessions.save_launch(first)
    sessions.save_launch(second)
    assert sessions.load_launch("L1") == first
    assert sessions.load_launch("L2").patient_id == "p-2"
    sessions.end_session(sid)
    assert sessions.load_launch("L1") is None
    assert sessions.load_launch("L2") is None
    assert sessions.session_id_from({COOKIE_NAME: sessions.cookie_value(sid)}) is None


def test_pending_launch_is_single_use(store: KeyValueStore) -> None:
    sessions = SessionManager(store, Fernet.generate_key())
    sessions.save_pending("state-1", {"code_verifier": "v"})
    assert sessions.pop_pending("state-1") == {"code_verifier": "v"}
    assert sessions.pop_pending("state-1") is None


def test_values_are_encrypted_at_rest_and_keys_do_not_reveal_secrets(engine) -> None:
    sessions = SessionManager(SqlKeyValueStore(engine), Fernet.generate_key())
    sid = sessions.new_session()
    sessions.save_launch(record("L1", sid))
    sessions.save_pending("the-state", {"code_verifier": "the-verifier"})
    with engine.connect() as conn:
        rows = conn.execute(select(SESSION_VALUES.c.key, SESSION_VALUES.c.value)).all()
    dump = b"".join(row.key.encode() + row.value for row in rows)
    for secret in (b"AT-very-secret", b"RT-very-secret", b"the-verifier", b"p-1"):
        assert secret not in dump
    for secret in (sid, "the-state"):
        assert secret.encode() not in dump


def test_a_value_sealed_with_another_key_reads_as_absent(engine) -> None:
    store = SqlKeyValueStore(engine)
    SessionManager(store, Fernet.generate_key()).save_launch(record("L1", "S"))
    assert SessionManager(store, Fernet.generate_key()).load_launch("L1") is None


def test_session_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    key = load_session_key(tmp_path / "data")
    path = tmp_path / "data" / "session.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_session_key(tmp_path / "data") == key
    configured = Fernet.generate_key().decode()
    assert load_session_key(tmp_path / "other", configured) == configured.encode()
    assert not (tmp_path / "other").exists()
    with pytest.raises(ValueError, match="Fernet"):
        load_session_key(tmp_path, "not-a-key")


def test_launch_record_repr_hides_tokens_and_ids() -> None:
    text = repr(record())
    for hidden in ("AT-very-secret", "RT-very-secret", "p-1", "S1"):
        assert hidden not in text


def test_launch_record_json_round_trip() -> None:
    original = record(expires_at=None, open_server=True, scope=None)
    assert LaunchRecord.from_json(original.to_json()) == original
