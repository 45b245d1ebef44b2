"""The CDS `jti` replay cache is shared by every instance, on each backend the product runs on.

CDS Hooks 2.0 "Trusting CDS Clients" (issue 5, "jti replay cache"). Two app instances
(`create_app`) share one store: a SQLite file, a PostgreSQL database, or Redis (there each
instance keeps its own SQLite file, so only Redis can carry the replay across). A token accepted
by one instance is refused by the other. The SQL store's expiry and purge run under a moved
clock; Redis expires keys itself, so its TTL is read back. PostgreSQL and Redis are real servers
from `tests.support.db_servers` (skipped with a reason where they are not installed).
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey
from sqlalchemy import select
from sqlalchemy.engine import Engine

from app.main import create_app
from app.settings import Settings
from app.storage.db import create_engine, ensure_schema
from app.storage.replay import (
    CDS_JTI_SEEN,
    CachedReplayStore,
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    SqlReplayStore,
    replay_key,
)
from cds_hooks.auth import JwtVerifier, parse_issuers
from cds_hooks.errors import CdsAuthError
from tests.integration.fhir_server import free_port
from tests.unit.cds_hooks.support import sign_jwt

BASE = "https://ppact.example.org"
DISCOVERY = f"{BASE}/cds-services"
EHR = "https://ehr.example.org"
KEY = ECKey.generate_key("P-384", parameters={"kid": "ec-1"})
ISSUERS = [
    {"iss": EHR, "jwks": {"keys": [KEY.as_dict(private=False)]}, "algorithms": ["ES384"]},
]
SERVERS = pytest.mark.integration


def token(jti: str | None = None, lifetime: int = 300) -> str:
    return sign_jwt(
        KEY, iss=EHR, aud=DISCOVERY, alg="ES384", kid="ec-1", jti=jti, lifetime=lifetime
    )


def discover(client: TestClient, bearer: str) -> Any:
    return client.get("/cds-services", headers={"Authorization": f"Bearer {bearer}"})


# --------------------------------------------------------------------------- two instances


def _instances(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> Iterator[tuple[TestClient, TestClient]]:
    shared: dict[str, Any] = {}
    if backend == "sqlite":
        shared["database_url"] = f"sqlite:///{tmp_path / 'shared' / 'ppact.db'}"
    elif backend == "postgresql":
        shared["database_url"] = request.getfixturevalue("postgres_url")
    else:  # each instance its own SQLite file: only Redis can carry a replay across
        shared["redis_url"] = request.getfixturevalue("redis_url")
    clients = []
    for name in ("a", "b"):
        settings = Settings(
            data_dir=tmp_path / name,
            public_url=BASE,
            cds_trusted_issuers=ISSUERS,
            **shared,
        )
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
    try:
        yield clients[0], clients[1]
    finally:
        for client in clients:
            client.__exit__(None, None, None)


BACKENDS = [
    pytest.param("sqlite", id="sqlite-file"),
    pytest.param("postgresql", id="postgresql", marks=SERVERS),
    pytest.param("redis", id="redis", marks=SERVERS),
]


@pytest.fixture(params=BACKENDS)
def two_instances(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[TestClient, TestClient]]:
    """Two app instances that share the backend named by the parameter."""
    yield from _instances(request, request.param, tmp_path)


def test_a_token_accepted_by_one_instance_is_refused_by_the_other(
    two_instances: tuple[TestClient, TestClient],
) -> None:
    first, second = two_instances
    bearer = token()

    assert discover(first, bearer).status_code == 200
    replayed = discover(second, bearer)

    assert replayed.status_code == 401
    assert "jti" in replayed.json()["error"]
    # and the other way round, with a fresh token
    other = token()
    assert discover(second, other).status_code == 200
    assert discover(first, other).status_code == 401


def test_distinct_tokens_pass_on_both_instances(
    two_instances: tuple[TestClient, TestClient],
) -> None:
    first, second = two_instances
    for _ in range(3):
        assert discover(first, token()).status_code == 200
        assert discover(second, token()).status_code == 200


def test_the_same_jti_from_another_issuer_is_not_a_replay() -> None:
    assert replay_key(EHR, "j1") != replay_key("https://other.example.org", "j1")
    assert len(replay_key(EHR, "x" * 5000)) == 64


# --------------------------------------------------------------------------- SQL store


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=SERVERS),
    ]
)
def engine(request: pytest.FixtureRequest) -> Engine:
    """The product database on one SQL backend, with an empty replay table."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    with engine.begin() as conn:
        conn.execute(CDS_JTI_SEEN.delete())
    return engine


def held_keys(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(select(CDS_JTI_SEEN.c.key))}


def test_sql_store_refuses_a_live_key_and_takes_over_an_expired_one(engine: Engine) -> None:
    clock = Clock()
    store = SqlReplayStore(engine, clock=clock)

    assert store.claim("k1", clock.now + 60) is True
    assert store.claim("k1", clock.now + 60) is False
    clock.now += 59
    assert store.claim("k1", clock.now + 60) is False
    clock.now += 2  # k1 has expired: the same id is a new token now
    assert store.claim("k1", clock.now + 60) is True
    assert store.claim("k1", clock.now + 60) is False


def test_sql_store_purges_expired_rows_on_write(engine: Engine) -> None:
    clock = Clock()
    store = SqlReplayStore(engine, clock=clock)
    for n in range(5):
        assert store.claim(f"old-{n}", clock.now + 30)
    assert store.claim("late", clock.now + 600)
    assert held_keys(engine) == {*(f"old-{n}" for n in range(5)), "late"}

    clock.now += 31
    assert store.claim("new", clock.now + 30)

    assert held_keys(engine) == {"late", "new"}
    assert store.count() == 2


def test_sql_store_claims_race_exactly_one_winner(engine: Engine) -> None:
    # Two stores on one database, as two instances have; twelve claims of one id at once.
    clock = Clock()
    stores = [SqlReplayStore(engine, clock=clock), SqlReplayStore(engine, clock=clock)]
    key = f"race-{uuid.uuid4()}"
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda n: stores[n % 2].claim(key, clock.now + 60), range(12)))
    assert results.count(True) == 1


# --------------------------------------------------------------------------- Redis store


@SERVERS
def test_redis_store_sets_once_with_the_token_lifetime(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        clock = Clock(now=1_800_000_000.0)
        store = RedisReplayStore(client, clock=clock)
        key = replay_key(EHR, str(uuid.uuid4()))

        assert store.claim(key, clock.now + 90.2) is True
        assert store.claim(key, clock.now + 90.2) is False

        ttl = client.ttl(f"ppact:cds-jti:{key}")
        assert isinstance(ttl, int) and 85 <= ttl <= 91
        client.delete(f"ppact:cds-jti:{key}")  # what expiry does: the id is free again
        assert store.claim(key, clock.now + 90) is True
    finally:
        client.close()


# --------------------------------------------------------------------------- memory in front


class Counting:
    """A shared store that counts the claims reaching it."""

    def __init__(self, store: ReplayStore) -> None:
        self.store = store
        self.calls = 0

    def claim(self, key: str, expires_at: float) -> bool:
        self.calls += 1
        return self.store.claim(key, expires_at)


def test_memory_answers_only_for_ids_it_has_seen_the_store_decides_the_rest() -> None:
    clock = Clock()
    shared = Counting(MemoryReplayStore(clock=clock))
    here = CachedReplayStore(shared, clock=clock)
    there = CachedReplayStore(shared, clock=clock)

    assert here.claim("k", clock.now + 60) is True
    assert here.claim("k", clock.now + 60) is False
    assert shared.calls == 1  # the second answer came from memory
    assert there.claim("k", clock.now + 60) is False  # not in its memory: the store said no
    assert shared.calls == 2
    clock.now += 61
    assert there.claim("k", clock.now + 60) is True


def test_memory_store_forgets_expired_ids() -> None:
    clock = Clock()
    store = MemoryReplayStore(clock=clock)
    assert store.claim("k", clock.now + 10)
    assert not store.claim("k", clock.now + 10)
    clock.now += 11
    assert store.claim("k", clock.now + 10)


# --------------------------------------------------------------------------- failure


def test_an_unreachable_store_refuses_the_call_rather_than_risk_a_replay() -> None:
    # A real connection to a loopback port nobody listens on.
    dead = RedisReplayStore(
        redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    )
    verifier = JwtVerifier(parse_issuers(ISSUERS), replay=dead)

    with pytest.raises(CdsAuthError, match="replay"):
        asyncio.run(verifier.verify(f"Bearer {token()}", [DISCOVERY]))


def test_verifier_records_the_id_until_expiry_plus_leeway(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'ppact.db'}")
    ensure_schema(engine)
    seen: list[tuple[str, float]] = []

    class Recording(SqlReplayStore):
        def claim(self, key: str, expires_at: float) -> bool:
            seen.append((key, expires_at))
            return super().claim(key, expires_at)

    verifier = JwtVerifier(parse_issuers(ISSUERS), leeway_seconds=30, replay=Recording(engine))

    def run(bearer: str) -> Any:
        return asyncio.run(verifier.verify(f"Bearer {bearer}", [DISCOVERY]))

    bearer = token(jti="fixed-id", lifetime=120)
    caller = run(bearer)
    with pytest.raises(CdsAuthError, match="already used"):
        run(bearer)

    assert caller.jti == "fixed-id"
    ((key, expires_at), _) = seen
    assert key == replay_key(EHR, "fixed-id")
    claims = json.loads(base64.urlsafe_b64decode(bearer.split(".")[1] + "=="))
    assert expires_at == claims["exp"] + 30
    engine.dispose()
