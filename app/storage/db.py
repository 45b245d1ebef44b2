"""One SQL engine for the product's own tables (feedback, snoozes, audit log, sessions, registry).

The URL selects the backend: `sqlite:///path/to/file.db` (the embedded default, a file under the
data directory) or `postgresql://user:pass@host/db` (served with psycopg 3). Tables are declared
with SQLAlchemy Core next to the store that owns them, on the shared `METADATA`, and created on
first use; there is no ORM.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine import create_engine as _create_engine

METADATA = MetaData()
SCHEMA_LOCK_KEY = 0x7070_6163_7473_6368  # "ppactsch": our advisory lock id for schema creation


class StorageConfigError(ValueError):
    """The database URL names an unsupported backend or cannot be parsed."""


def default_database_url(data_dir: Path) -> str:
    """The embedded default: a SQLite file in the data directory."""
    return f"sqlite:///{(data_dir / 'ppact.db').resolve()}"


def create_engine(url: str) -> Engine:
    """An engine for `url`, with the driver and pragmas each backend needs.

    Raises:
        StorageConfigError: for a backend other than sqlite or postgresql.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with the URL in it
        raise StorageConfigError("database URL cannot be parsed") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = _create_engine(parsed, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        return _create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True)
    raise StorageConfigError(f"unsupported database backend {backend!r} (use sqlite or postgresql)")


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # WAL lets readers work while the feedback endpoint writes; busy_timeout avoids spurious
    # "database is locked" under concurrent requests.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def ensure_schema(engine: Engine) -> None:
    """Create every table declared on `METADATA` that does not exist yet.

    On PostgreSQL, instances started together (several behind a load balancer) take turns on
    a transaction-scoped advisory lock; without it, each saw the tables missing and all but one
    failed start-up with a unique violation in the catalog. DDL is transactional there, so the
    next instance sees the committed tables and creates nothing.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        METADATA.create_all(conn)
