"""The CDS JWT `jti` replay cache, shared by every instance of the service.

Why: CDS Hooks 2.0 "Trusting CDS Clients" asks the service to refuse a token it has already seen
(docs standards section 3, "Keep a replay cache of `jti`"; issue 5). A cache in process memory
only protects one instance: behind a load balancer the same token replayed to another instance
would pass. So the authority is the product's own store, the one sessions already use:

- Redis when `redis_url` is set: `SET key 1 NX EX ttl` (the key exists -> replay);
- else the SQL engine (`app.storage.db`): a row per token id with its expiry, claimed by one
  `INSERT ... ON CONFLICT DO UPDATE ... WHERE expired RETURNING` statement, atomic on SQLite and
  PostgreSQL alike. Of two instances claiming the same id at once, exactly one succeeds.

A token id is kept until the token expires (plus leeway); expired rows are purged on write, and
Redis expires its keys itself. Keys are SHA-256 hashes of issuer and `jti`, so the table holds
no caller-chosen text and every key has the same length.

:class:`MemoryReplayStore` holds ids in process memory: it serves a single process (unit tests,
a verifier built without a store) and, in front of a shared store, as a cache of ids already
seen (see :class:`CachedReplayStore`), never as the authority.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import Protocol

import redis
from sqlalchemy import Column, Float, String, Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from app.storage.db import METADATA

__all__ = [
    "CDS_JTI_SEEN",
    "CachedReplayStore",
    "MemoryReplayStore",
    "RedisReplayStore",
    "ReplayStore",
    "SqlReplayStore",
    "replay_key",
]

CDS_JTI_SEEN = Table(
    "cds_jti_seen",
    METADATA,
    Column("key", String(64), primary_key=True),
    Column("expires_at", Float, nullable=False, index=True),
)

MEMORY_LIMIT = 10_000
"""Ids a memory store keeps at most; beyond that expired ones are dropped, then the oldest."""


def replay_key(issuer: str, jti: str) -> str:
    """The store key of one token id: SHA-256 (hex) of issuer and `jti`."""
    return hashlib.sha256(f"{issuer}\x00{jti}".encode()).hexdigest()


class ReplayStore(Protocol):
    """Remembers token ids until they expire."""

    def claim(self, key: str, expires_at: float) -> bool:
        """Record `key` until `expires_at` (epoch seconds).

        Returns:
            True when the key was not held (first use); False when it is (a replay).
        """


class MemoryReplayStore:
    """Token ids in this process only (a single instance, or the cache in front of a store)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        """Use `clock` (epoch seconds) to expire ids."""
        self._clock = clock
        self._held: dict[str, float] = {}

    def holds(self, key: str) -> bool:
        """True when `key` is held and not expired."""
        expires_at = self._held.get(key)
        return expires_at is not None and expires_at > self._clock()

    def claim(self, key: str, expires_at: float) -> bool:
        """Record `key`; False when it is already held."""
        if self.holds(key):
            return False
        self.remember(key, expires_at)
        return True

    def remember(self, key: str, expires_at: float) -> None:
        """Hold `key` until `expires_at` whatever was there, pruning when over the limit."""
        self._held[key] = expires_at
        if len(self._held) > MEMORY_LIMIT:
            now = self._clock()
            self._held = {k: v for k, v in self._held.items() if v > now}
            while len(self._held) > MEMORY_LIMIT:
                del self._held[next(iter(self._held))]


class SqlReplayStore:
    """Token ids in the `cds_jti_seen` table (SQLite file or PostgreSQL)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        """Use `engine` (its schema is created by `ensure_schema`)."""
        self._engine = engine
        self._clock = clock
        self._dialect = postgresql if engine.dialect.name == "postgresql" else sqlite

    def claim(self, key: str, expires_at: float) -> bool:
        """Insert the key, or take over its row when that row has expired; False otherwise."""
        now = self._clock()
        row = self._dialect.insert(CDS_JTI_SEEN).values(key=key, expires_at=expires_at)
        # Insert-or-fail on the primary key in one statement: a live row makes it a no-op
        # (no row returned: a replay); an expired one is taken over. RETURNING, not rowcount:
        # through SQLAlchemy, psycopg reports rowcount -1 for this statement.
        statement = row.on_conflict_do_update(
            index_elements=[CDS_JTI_SEEN.c.key],
            set_={"expires_at": row.excluded.expires_at},
            where=CDS_JTI_SEEN.c.expires_at <= now,
        ).returning(CDS_JTI_SEEN.c.key)
        with self._engine.begin() as conn:
            claimed = conn.execute(statement).first() is not None
            if claimed:
                conn.execute(delete(CDS_JTI_SEEN).where(CDS_JTI_SEEN.c.expires_at <= now))
        return claimed

    def count(self) -> int:
        """Rows in the table, expired or not (tests and operations)."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(CDS_JTI_SEEN)).scalar_one())


class RedisReplayStore:
    """Token ids as Redis keys with a TTL (`redis_url`, several instances)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "ppact:cds-jti:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Use a redis client; keys are `prefix` + the replay key."""
        self._redis = client
        self._prefix = prefix
        self._clock = clock

    @classmethod
    def from_url(cls, url: str) -> RedisReplayStore:
        """Connect lazily to `url`."""
        return cls(redis.Redis.from_url(url))

    def claim(self, key: str, expires_at: float) -> bool:
        """`SET key 1 NX EX ttl`: True when Redis set it, False when the key exists."""
        ttl_seconds = max(1, math.ceil(expires_at - self._clock()))
        return bool(self._redis.set(self._prefix + key, b"1", nx=True, ex=ttl_seconds))


class CachedReplayStore:
    """A shared store with this process's memory in front, for ids already seen here.

    A replay this instance has seen is refused without a round trip; every first sighting goes
    to the shared store, which alone decides.
    """

    def __init__(self, store: ReplayStore, *, clock: Callable[[], float] = time.time) -> None:
        """Put a memory cache in front of `store`."""
        self._store = store
        self._seen = MemoryReplayStore(clock=clock)

    def claim(self, key: str, expires_at: float) -> bool:
        """False at once when seen here; else whatever the shared store says."""
        if self._seen.holds(key):
            return False
        claimed = self._store.claim(key, expires_at)
        self._seen.remember(key, expires_at)
        return claimed
