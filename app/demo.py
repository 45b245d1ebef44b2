"""`ppact demo` (`make run`): the whole product on one machine, no Docker, no internet.

Issue 4 "The embedded default" and issue 6. Starts, all bound to 127.0.0.1:

1. a local FHIR R4 server from PyPI (SEKMET, `sekmet-fhir`, see docs/fhir-server.md) as a child
   process, open (no auth: it holds only synthetic data and listens on loopback), with its
   hospital simulator off so the cohort stays as generated;
2. the synthetic cohort, loaded with the `ppact seed` logic unless the same cohort is already
   there (the server's SQLite file lives under the data directory, default ``var/demo``);
3. the app (`app.main.create_app`) with ``demo_fhir_base`` set to that server, which makes it an
   open issuer whose patients the landing page lists; the CDS Hooks service is mounted in it and
   may fetch from that server what a hook call does not prefetch (``cds_fhir_servers``).

It prints the URLs, then serves until Ctrl-C or SIGTERM, and then terminates the FHIR server
child. The child also gets SIGTERM from the kernel if this process dies without cleaning up
(Linux ``PR_SET_PDEATHSIG``), so no server is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import uvicorn
import yaml

HOST = "127.0.0.1"
STARTUP_SECONDS = 30.0
CDS_DISCOVERY_PATH = "/cds-services"


class DemoError(Exception):
    """The demo cannot start (port busy, FHIR server failed, bad setting); one line says why."""


class _Stop(Exception):
    """SIGTERM arrived: unwind and clean up as for Ctrl-C."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What `ppact demo` starts.

    Attributes:
        app_port: Port of the app (and the CDS service).
        fhir_port: Port of the local FHIR server.
        data_dir: FHIR server database, its log and the app's data.
        patients: Cohort size.
        seed: Cohort seed.
        anchor: The cohort's "today".
    """

    app_port: int = 8000
    fhir_port: int = 8081
    data_dir: Path = Path("var/demo")
    patients: int = 50
    seed: int = 7
    anchor: date = date(2026, 11, 1)

    @property
    def fhir_base(self) -> str:
        return f"http://{HOST}:{self.fhir_port}/fhir"

    @property
    def app_url(self) -> str:
        return f"http://{HOST}:{self.app_port}"


def check_port_free(port: int, what: str) -> None:
    """Raise DemoError when `port` on 127.0.0.1 cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise DemoError(
                f"port {port} on {HOST} is in use ({what}); choose another with "
                f"--{what.split()[0].lower()}-port"
            ) from exc


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def start_fhir_server(options: DemoOptions) -> subprocess.Popen[bytes]:
    """Start SEKMET on 127.0.0.1 and wait until `/fhir/metadata` answers.

    Raises:
        DemoError: it exited or did not answer in time (the message names its log file).
    """
    workdir = (options.data_dir / "fhir").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    settings = {
        "base_url": options.fhir_base,
        "host": HOST,
        "port": options.fhir_port,
        "data_dir": str(workdir / "data"),
        "own_private_key_path": str(workdir / "keys" / "sekmet_private.pem"),
        "simulator": {"enabled": False},
        "validation": {"inbound": "off"},
        "log_inbound": False,
    }
    config = workdir / "settings.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    log_path = workdir / "server.log"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "sekmet.main:app_factory",
        "--factory",
        *("--host", HOST, "--port", str(options.fhir_port), "--log-level", "warning"),
    ]
    env = {**os.environ, "SEKMET_CONFIG": str(config)}
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(  # noqa: S603 - fixed command, our own interpreter
            command,
            cwd=workdir,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the child in order
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads exist yet
        )
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"the FHIR server exited at start; see {log_path}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{options.fhir_base}/metadata", timeout=2).status_code == 200:
                return process
        time.sleep(0.1)
    stop_process(process)
    raise DemoError(f"the FHIR server did not answer in {STARTUP_SECONDS:.0f} s; see {log_path}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate the child and wait for it (kill after 10 s)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def ensure_cohort(options: DemoOptions, say: Callable[[str], None]) -> None:
    """Load the cohort unless this server already holds the same one (marker + tagged Patients).

    Another cohort found there (other size, seed or anchor) is removed first, so the picker
    lists exactly the cohort asked for.
    """
    from app.seed import run_remove, run_seed

    marker = options.data_dir / "fhir" / "cohort.json"
    wanted = {"patients": options.patients, "seed": options.seed, "anchor": str(options.anchor)}
    present = _tagged_patients(options.fhir_base)
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == wanted:
        if present == options.patients:
            say(f"Synthetic cohort already loaded ({options.patients} patients)")
            return
    marker.unlink(missing_ok=True)
    started = time.monotonic()
    if present:
        run_remove(options.fhir_base)
    report = run_seed(
        options.fhir_base, patients=options.patients, seed=options.seed, anchor=options.anchor
    )
    marker.write_text(json.dumps(wanted), encoding="utf-8")
    seconds = time.monotonic() - started
    say(
        f"Loaded {options.patients} synthetic patients "
        f"({report.resources} resources, {seconds:.1f} s)"
    )


def _tagged_patients(fhir_base: str) -> int:
    from app.seed import COHORT_TAG, seed_client, tagged_ids

    async def count() -> int:
        async with seed_client(fhir_base) as client:
            found = await tagged_ids(client, tag=COHORT_TAG, types=["Patient"])
        return len(found.get("Patient", []))

    return asyncio.run(count())


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_demo(options: DemoOptions, say: Callable[[str], None]) -> None:
    """Start everything, serve until Ctrl-C / SIGTERM, then stop the FHIR server.

    Raises:
        DemoError: something could not start; whatever did start has been stopped.
    """
    from app.main import create_app
    from app.settings import SettingsError, load_settings

    if importlib.util.find_spec("sekmet") is None:
        raise DemoError(
            "the local FHIR server (sekmet-fhir) is not installed; "
            "run make install or pip install -e '.[demo]'"
        )
    check_port_free(options.fhir_port, "FHIR server")
    check_port_free(options.app_port, "app")
    overrides: dict[str, Any] = {
        "host": HOST,
        "port": options.app_port,
        "demo_fhir_base": options.fhir_base,
        "cds_fhir_servers": [options.fhir_base],
        "data_dir": options.data_dir / "app",
        # The demo is a development set-up on loopback: CDS calls from local tools (curl, a
        # local CDS Hooks client) need no signed JWT. Said on start-up; never the default.
        "cds_allow_unsigned": True,
    }
    try:
        settings = load_settings(None, overrides)
    except SettingsError as exc:
        raise DemoError(str(exc)) from exc
    with _sigterm_unwinds():
        process = start_fhir_server(options)
        try:
            say(f"FHIR server: {options.fhir_base} (log in {options.data_dir / 'fhir'})")
            ensure_cohort(options, say)
            app = create_app(settings)
            has_cds = getattr(app.state, "cds", None) is not None
            config = uvicorn.Config(app, host=HOST, port=options.app_port, log_level="warning")
            server = uvicorn.Server(config)

            async def serve() -> None:
                task = asyncio.create_task(server.serve())
                while not server.started and not task.done():
                    await asyncio.sleep(0.05)
                if server.started:
                    say(f"PPACT app: {options.app_url}/")
                    if has_cds:
                        say(
                            f"CDS Hooks discovery: {options.app_url}{CDS_DISCOVERY_PATH}"
                            " (demo: unsigned calls accepted)"
                        )
                    say(f"Demo data: {options.patients} synthetic patients; Ctrl-C stops all")
                await task

            with contextlib.suppress(KeyboardInterrupt, _Stop):
                asyncio.run(serve())
        except (KeyboardInterrupt, _Stop):
            pass
        finally:
            stop_process(process)
    say("Stopped.")
