"""Throw-away PostgreSQL and Redis servers on 127.0.0.1 for the storage tests, one per session.

The product's stores run on SQLite by default and on PostgreSQL / Redis when a URL names them
(`app.storage.db`, `app.storage.sessions`); these fixtures start the real servers so the same
behavioural checks run on each backend.

PostgreSQL: Debian's binaries (`initdb`, `postgres` on PATH or under
`/usr/lib/postgresql/<version>/bin`). `initdb` makes a cluster in a temp directory (trust
authentication for the `ppact` role, C locale, no fsync), then `postgres` listens on 127.0.0.1 on a
free port with its unix socket in the same temp directory. The server's TimeZone is deliberately
not UTC (`America/Los_Angeles`, a common server default) so timestamp handling is tested against
the case that breaks naive code.

PostgreSQL refuses to run as root. When the tests run as root, both programs are started as an
unprivileged account (`postgres` if the machine has it, else `nobody`) through
`subprocess.Popen(user=..., group=..., extra_groups=[])`: the child drops privileges itself
before `exec`, so no `runuser`/`sudo` is needed and the process we hold is `postgres` itself,
which we stop with SIGINT (fast shutdown). The temp directory is created by us and handed to that
account with `chown`; it lives directly under the system temp dir because pytest's own temp
directories are private (0700) to root.

Redis: `redis-server --port N --bind 127.0.0.1 --save '' --appendonly no`, nothing written to
disk; stopped with SIGTERM.

When a binary is missing the fixture skips with the reason, unless `PPACT_REQUIRE_SERVERS=1`
(set by `.ci/run`), where it fails. Servers are started once per process, however many test
modules import the fixtures, and stopped when the last of them is finalised.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy.engine import Engine

from app.storage.db import create_engine, ensure_schema
from tests.integration.fhir_server import free_port

STARTUP_SECONDS = 30.0
STOP_SECONDS = 20.0
PORT_ATTEMPTS = 3
PG_ROLE = "ppact"
PG_DATABASE = "ppact_test"
PG_TIMEZONE = "America/Los_Angeles"
REQUIRE_ENV = "PPACT_REQUIRE_SERVERS"


class ServerUnavailable(RuntimeError):
    """The server's binaries are not installed (a skip, or a failure under CI)."""


@dataclass
class RunningServer:
    """A started server process and how to reach and remove it."""

    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log: Path
    stop_signal: int = signal.SIGTERM
    users: int = field(default=0)


def _unavailable(reason: str) -> None:
    """Skip with ``reason``, or fail when the environment requires the servers."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)")
    pytest.skip(reason)


def postgres_bindir() -> Path | None:
    """The directory holding `initdb` and `postgres`, or None when PostgreSQL is not installed."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres"):
        return Path(on_path).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def _unprivileged_account() -> pwd.struct_passwd | None:
    """The account PostgreSQL runs as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ServerUnavailable("running as root and neither a postgres nor a nobody account exists")


def _start_on_free_port(
    launch: Callable[[int], subprocess.Popen[bytes]],
    ready: Callable[[int], bool],
    workdir: Path,
    log: Path,
) -> tuple[int, subprocess.Popen[bytes]]:
    """Start on a free port and wait until ``ready``; retry on a new port if it was taken.

    Raises:
        RuntimeError: it did not start in three tries (the message has the end of its log).
    """
    for _attempt in range(PORT_ATTEMPTS):
        port = free_port()  # another process may take it before the server binds it
        process = launch(port)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not ready(port):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                break
            time.sleep(0.05)
        else:
            return port, process
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    shutil.rmtree(workdir, ignore_errors=True)
    raise RuntimeError(f"server did not start; its log ends:\n{tail}")


def start_postgres() -> RunningServer:
    """Make a cluster in a temp dir, start `postgres` on a free loopback port, create a database.

    Raises:
        ServerUnavailable: PostgreSQL is not installed or cannot be run here.
        RuntimeError: it is installed but did not start (the message has its log).
    """
    bindir = postgres_bindir()
    if bindir is None:
        raise ServerUnavailable("PostgreSQL binaries (initdb, postgres) are not installed")
    account = _unprivileged_account()
    workdir = Path(tempfile.mkdtemp(prefix="ppact-pg-"))
    uid = gid = None
    groups: list[int] | None = None
    if account is not None:
        uid, gid, groups = account.pw_uid, account.pw_gid, []
        os.chown(workdir, uid, gid)
    data, log = workdir / "data", workdir / "postgres.log"
    initdb = subprocess.run(
        [str(bindir / "initdb"), "-D", str(data), "-U", PG_ROLE, "-A", "trust",
         "-E", "UTF8", "--locale=C", "--no-sync"],
        cwd=workdir, capture_output=True, check=False, user=uid, group=gid, extra_groups=groups,
    )  # fmt: skip
    if initdb.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {initdb.stderr.decode(errors='replace')[-2000:]}")

    def launch(port: int) -> subprocess.Popen[bytes]:
        with log.open("ab") as log_file:
            return subprocess.Popen(
                [str(bindir / "postgres"), "-D", str(data),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"port={port}",
                 "-c", f"unix_socket_directories={workdir}", "-c", f"timezone={PG_TIMEZONE}",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                cwd=workdir, stdout=log_file, stderr=subprocess.STDOUT,
                user=uid, group=gid, extra_groups=groups,
            )  # fmt: skip

    def accepts(port: int) -> bool:
        conninfo = f"host=127.0.0.1 port={port} user={PG_ROLE} dbname=postgres connect_timeout=2"
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                row = conn.execute("SELECT current_setting('data_directory')").fetchone()
                if row is None or row[0] != str(data):
                    return False  # another test run's server got this port first
                conn.execute(f"CREATE DATABASE {PG_DATABASE}")
        except psycopg.OperationalError:
            return False
        return True

    port, process = _start_on_free_port(launch, accepts, workdir, log)
    return RunningServer(
        url=f"postgresql://{PG_ROLE}@127.0.0.1:{port}/{PG_DATABASE}",
        process=process,
        workdir=workdir,
        log=log,
        stop_signal=signal.SIGINT,  # "fast shutdown": roll back sessions, exit
    )


def start_redis() -> RunningServer:
    """Start `redis-server` on a free loopback port with persistence off.

    Raises:
        ServerUnavailable: redis-server is not installed.
        RuntimeError: it did not start (the message has its log).
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerUnavailable("redis-server is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="ppact-redis-"))
    log = workdir / "redis.log"

    def launch(port: int) -> subprocess.Popen[bytes]:
        with log.open("ab") as log_file:
            return subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(workdir), "--daemonize", "no"],
                cwd=workdir, stdout=log_file, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def answers(port: int) -> bool:
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        try:
            served: dict[str, str] = client.config_get("dir")  # type: ignore[assignment]
        except redis.ConnectionError:
            return False
        finally:
            client.close()
        # Our own server, not another test run's that holds this port.
        return served.get("dir") == os.path.realpath(workdir)

    port, process = _start_on_free_port(launch, answers, workdir, log)
    url = f"redis://127.0.0.1:{port}/0"
    return RunningServer(url=url, process=process, workdir=workdir, log=log)


def stop_server(server: RunningServer) -> None:
    """Stop the process (gracefully, then by force) and remove its temp directory."""
    if server.process.poll() is None:
        server.process.send_signal(server.stop_signal)
        try:
            server.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    shutil.rmtree(server.workdir, ignore_errors=True)


_RUNNING: dict[str, RunningServer] = {}


def _shared(kind: str, start: Callable[[], RunningServer]) -> Iterator[str]:
    """Start ``kind`` once per process; stop it when its last fixture user finishes."""
    server = _RUNNING.get(kind)
    if server is None:
        try:
            server = start()
        except ServerUnavailable as exc:
            _unavailable(str(exc))
            raise  # unreachable: _unavailable skips or fails
        _RUNNING[kind] = server
    server.users += 1
    try:
        yield server.url
    finally:
        server.users -= 1
        if server.users == 0:
            del _RUNNING[kind]
            stop_server(server)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a throw-away PostgreSQL database (``postgresql://ppact@127.0.0.1:N/ppact_test``)."""
    yield from _shared("postgres", start_postgres)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a throw-away Redis (``redis://127.0.0.1:N/0``), nothing persisted."""
    yield from _shared("redis", start_redis)


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The product's tables on a fresh SQLite file (the embedded default)."""
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'ppact.db'}")
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def postgresql_engine(postgres_url: str) -> Iterator[Engine]:
    """The product's tables on the throwaway PostgreSQL server."""
    engine = create_engine(postgres_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()
