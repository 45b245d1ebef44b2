"""Server-side sessions: launch tokens and context, encrypted at rest, behind an opaque cookie.

Why: SMART tokens must never reach the browser (SMART App Launch 2.2 "Considerations for
confidentiality"; docs product "Security"). The browser holds one signed, opaque session id; each
launch is stored under its own random ``launch_id`` and names the session it belongs to, so two
tabs launched for two patients never share a context. Pending launches (state, PKCE verifier,
nonce) are stored the same way until the callback burns them.

Storage is a small key-value interface with expiry: :class:`SqlKeyValueStore` (the embedded
default, a table on ``app.storage.db.METADATA``) or :class:`RedisKeyValueStore` when ``redis_url``
is set (several instances). Every value is sealed with Fernet (AES-128-CBC + HMAC-SHA256); the key
comes from settings or a file under the data directory created with mode 0600. Store keys are
hashes of the secrets they index, so a copy of the table cannot be replayed as cookies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import redis
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Column, Float, LargeBinary, String, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from app.storage.db import METADATA

__all__ = [
    "COOKIE_NAME",
    "KeyValueStore",
    "LaunchRecord",
    "RedisKeyValueStore",
    "SessionManager",
    "SqlKeyValueStore",
    "launch_store_key",
    "load_session_key",
    "session_store_key",
]

COOKIE_NAME = "__Host-ppact_session"
PENDING_TTL_SECONDS = 600
KEY_FILE = "session.key"

SESSION_VALUES = Table(
    "session_values",
    METADATA,
    Column("key", String(128), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)


class KeyValueStore(Protocol):
    """Bytes under string keys, each with a time to live."""

    def put(self, key: str, value: bytes, ttl_seconds: int) -> None:
        """Store ``value`` under ``key`` (replacing it) for ``ttl_seconds``."""

    def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""

    def pop(self, key: str) -> bytes | None:
        """Remove and return the value atomically (None when absent or expired)."""

    def delete(self, key: str) -> None:
        """Remove the key if present."""


class SqlKeyValueStore:
    """The embedded store: one table; expired rows are ignored and purged on write."""

    def __init__(self, engine: Engine, *, clock: Any = time.time) -> None:
        """Use ``engine`` (its schema is created by ``ensure_schema``)."""
        self._engine = engine
        self._clock = clock

    def put(self, key: str, value: bytes, ttl_seconds: int) -> None:
        """Store ``value`` under ``key`` for ``ttl_seconds``."""
        now = self._clock()
        # An upsert, not delete-then-insert: on PostgreSQL two tabs of one session writing its
        # key at once made the second insert fail with a unique violation.
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        row = dialect.insert(SESSION_VALUES).values(
            key=key, value=value, expires_at=now + ttl_seconds
        )
        upsert = row.on_conflict_do_update(
            index_elements=[SESSION_VALUES.c.key],
            set_={"value": row.excluded.value, "expires_at": row.excluded.expires_at},
        )
        with self._engine.begin() as conn:
            conn.execute(delete(SESSION_VALUES).where(SESSION_VALUES.c.expires_at <= now))
            conn.execute(upsert)

    def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(SESSION_VALUES.c.value).where(
                    SESSION_VALUES.c.key == key, SESSION_VALUES.c.expires_at > self._clock()
                )
            ).first()
        return None if row is None else bytes(row[0])

    def pop(self, key: str) -> bytes | None:
        """Remove and return the value; of two concurrent pops only one gets it."""
        with self._engine.begin() as conn:
            result = conn.execute(
                delete(SESSION_VALUES)
                .where(SESSION_VALUES.c.key == key, SESSION_VALUES.c.expires_at > self._clock())
                .returning(SESSION_VALUES.c.value)
            ).first()
        return None if result is None else bytes(result[0])

    def delete(self, key: str) -> None:
        """Remove the key if present."""
        with self._engine.begin() as conn:
            conn.execute(delete(SESSION_VALUES).where(SESSION_VALUES.c.key == key))


class RedisKeyValueStore:
    """Redis (``REDIS_URL``): expiry by ``SET EX``, atomic pop by ``GETDEL``."""

    def __init__(self, client: redis.Redis, *, prefix: str = "ppact:") -> None:
        """Use a redis client (bytes responses)."""
        self._redis = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str) -> RedisKeyValueStore:
        """Connect lazily to ``url``."""
        return cls(redis.Redis.from_url(url))

    def put(self, key: str, value: bytes, ttl_seconds: int) -> None:
        """Store ``value`` under ``key`` for ``ttl_seconds``."""
        self._redis.set(self._prefix + key, value, ex=max(1, ttl_seconds))

    def get(self, key: str) -> bytes | None:
        """The value, or None."""
        value = self._redis.get(self._prefix + key)
        return value if isinstance(value, bytes) else None

    def pop(self, key: str) -> bytes | None:
        """Remove and return the value atomically."""
        value = self._redis.getdel(self._prefix + key)
        return value if isinstance(value, bytes) else None

    def delete(self, key: str) -> None:
        """Remove the key if present."""
        self._redis.delete(self._prefix + key)


def load_session_key(data_dir: Path, configured: str | None = None) -> bytes:
    """The Fernet key: the configured one, else ``{data_dir}/session.key`` (created 0600).

    Args:
        data_dir: Where the key file lives.
        configured: A urlsafe-base64 Fernet key from settings, if any.

    Returns:
        The key bytes.

    Raises:
        ValueError: The configured or stored key is not a Fernet key.
    """
    if configured:
        key = configured.encode()
    else:
        path = data_dir / KEY_FILE
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_bytes().strip()
        else:
            key = Fernet.generate_key()
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
    try:
        Fernet(key)
    except ValueError as exc:
        raise ValueError("the session key is not a urlsafe-base64 32-byte Fernet key") from exc
    return key


@dataclass(frozen=True)
class LaunchRecord:
    """One launch as stored: context and tokens (tokens never leave the server)."""

    launch_id: str
    session_id: str = field(repr=False)
    iss: str
    open_server: bool
    patient_id: str | None = field(default=None, repr=False)
    user: str | None = field(default=None, repr=False)
    encounter: str | None = field(default=None, repr=False)
    need_patient_banner: bool = True
    smart_style_url: str | None = None
    intent: str | None = None
    tenant: str | None = None
    scope: str | None = None
    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None

    def with_token(
        self,
        *,
        access_token: str,
        refresh_token: str | None,
        expires_at: datetime | None,
        scope: str | None,
    ) -> LaunchRecord:
        """A copy with new tokens."""
        return replace(
            self,
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=expires_at,
            scope=scope,
        )

    def to_json(self) -> bytes:
        data = asdict(self)
        data["expires_at"] = self.expires_at.isoformat() if self.expires_at else None
        return json.dumps(data).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> LaunchRecord:
        data = json.loads(raw)
        expires = data.get("expires_at")
        data["expires_at"] = datetime.fromisoformat(expires) if expires else None
        return cls(**data)


def _hashed(kind: str, secret: str) -> str:
    return f"{kind}:{hashlib.sha256(secret.encode()).hexdigest()}"


def session_store_key(session_id: str) -> str:
    """The store key of a session (a hash: the session id itself is never a key)."""
    return _hashed("s", session_id)


def launch_store_key(launch_id: str) -> str:
    """The store key of a launch record."""
    return f"l:{launch_id}"


class SessionManager:
    """Sessions, launches and pending launches on a KeyValueStore, sealed with Fernet."""

    def __init__(self, store: KeyValueStore, key: bytes, *, ttl_seconds: int = 8 * 3600) -> None:
        """Seal with ``key`` (from :func:`load_session_key`); sessions live ``ttl_seconds``."""
        self._store = store
        self._fernet = Fernet(key)
        self._mac_key = hmac.new(key, b"ppact-session-cookie", hashlib.sha256).digest()
        self.ttl_seconds = ttl_seconds

    def derived_key(self, purpose: str) -> bytes:
        """A key for another use (CSRF tokens), independent of the sealing key."""
        return hmac.new(self._mac_key, purpose.encode(), hashlib.sha256).digest()

    def _seal(self, value: bytes) -> bytes:
        return self._fernet.encrypt(value)

    def _open(self, sealed: bytes | None) -> bytes | None:
        if sealed is None:
            return None
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            return None

    def _put_json(self, key: str, value: Any, ttl: int) -> None:
        self._store.put(key, self._seal(json.dumps(value).encode()), ttl)

    def _get_json(self, key: str) -> Any:
        raw = self._open(self._store.get(key))
        return None if raw is None else json.loads(raw)

    # --- sessions and the cookie ---

    def new_session(self) -> str:
        """Create a session and return its id (put it in the cookie with :meth:`cookie_value`)."""
        session_id = secrets.token_urlsafe(32)
        self._put_json(session_store_key(session_id), {"launches": []}, self.ttl_seconds)
        return session_id

    def _signature(self, session_id: str) -> str:
        return hmac.new(self._mac_key, session_id.encode(), hashlib.sha256).hexdigest()

    def cookie_value(self, session_id: str) -> str:
        """The signed cookie value for a session."""
        return f"{session_id}.{self._signature(session_id)}"

    def session_id_from(self, cookies: Mapping[str, str]) -> str | None:
        """The live session named by a valid cookie, or None."""
        value = cookies.get(COOKIE_NAME, "")
        session_id, _, signature = value.rpartition(".")
        if not session_id or not hmac.compare_digest(signature, self._signature(session_id)):
            return None
        if self._get_json(session_store_key(session_id)) is None:
            return None
        return session_id

    def end_session(self, session_id: str) -> None:
        """Log out: delete the session and every launch in it."""
        data = self._get_json(session_store_key(session_id)) or {}
        for launch_id in data.get("launches", []):
            self._store.delete(launch_store_key(launch_id))
        self._store.delete(session_store_key(session_id))

    # --- launches ---

    def save_launch(self, record: LaunchRecord) -> None:
        """Store (or update) a launch and list it under its session."""
        self._store.put(
            launch_store_key(record.launch_id), self._seal(record.to_json()), self.ttl_seconds
        )
        key = session_store_key(record.session_id)
        data = self._get_json(key) or {"launches": []}
        if record.launch_id not in data["launches"]:
            data["launches"].append(record.launch_id)
            self._put_json(key, data, self.ttl_seconds)

    def load_launch(self, launch_id: str) -> LaunchRecord | None:
        """The stored launch, or None when unknown, expired or its session has ended."""
        raw = self._open(self._store.get(launch_store_key(launch_id)))
        if raw is None:
            return None
        record = LaunchRecord.from_json(raw)
        # The session's list of launches is read-modify-write: two launches saved at once can
        # drop one from it (seen on every backend), and logout would then miss it.
        # A launch whose session is gone is therefore ended too.
        if self._store.get(session_store_key(record.session_id)) is None:
            return None
        return record

    def delete_launch(self, launch_id: str) -> None:
        """Forget one launch (its session stays)."""
        self._store.delete(launch_store_key(launch_id))

    # --- pending launches (between /launch and /callback) ---

    def save_pending(self, state: str, data: Mapping[str, Any]) -> None:
        """Keep a pending launch under its ``state`` for ten minutes."""
        self._put_json(_hashed("p", state), dict(data), PENDING_TTL_SECONDS)

    def pop_pending(self, state: str) -> dict[str, Any] | None:
        """Remove and return the pending launch stored under ``state`` (single use)."""
        raw = self._open(self._store.pop(_hashed("p", state)))
        return None if raw is None else dict(json.loads(raw))
