"""A real FHIR R4 server on 127.0.0.1 for integration tests: SEKMET (PyPI `sekmet-fhir`).

SEKMET is a FastAPI + SQLite FHIR R4 server (see docs/fhir-server.md for what it does and does
not do). We start it as a child process with `sys.executable -m uvicorn sekmet.main:app_factory`
on a free port, with a settings YAML and data directory in a temp dir, wait until
`/fhir/metadata` answers, and stop it at teardown.

Settings chosen:
- `simulator.enabled: false`: its hospital simulator otherwise writes a MedicationDispense
  for every MedicationRequest it receives, which would change the chart under test.
- `validation.inbound: off`: real charts hold resources that a validating model rejects; the
  loader must keep them, so the server must store them.
- `server_auth`: a static bearer token, so the client's Authorization header is exercised.
- `base_url` names the real port: SEKMET builds paging links from it.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

STARTUP_SECONDS = 30.0


@dataclass
class FhirTestServer:
    """A running SEKMET server.

    Attributes:
        base_url: FHIR base, e.g. "http://127.0.0.1:41234/fhir".
        token: Bearer token the server accepts.
        process: The child process.
    """

    base_url: str
    token: str
    process: subprocess.Popen[bytes]

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/fhir+json",
            "Content-Type": "application/fhir+json",
        }

    def transaction(self, resources: list[dict[str, Any]]) -> dict[str, Any]:
        """PUT every resource (by id) in one transaction Bundle; returns the response Bundle."""
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": f"{self.base_url}/{r['resourceType']}/{r['id']}",
                    "resource": r,
                    "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
                }
                for r in resources
            ],
        }
        response = httpx.post(self.base_url, json=bundle, headers=self.headers(), timeout=30)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_fhir_server(workdir: Path) -> FhirTestServer:
    """Start SEKMET in `workdir` (settings, database, logs) and wait until it answers.

    Raises:
        RuntimeError: it exited or did not answer within STARTUP_SECONDS; the message carries
            the end of its log.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/fhir"
    token = secrets.token_urlsafe(16)
    settings = {
        "base_url": base_url,
        "host": "127.0.0.1",
        "port": port,
        "data_dir": str(workdir / "data"),
        "own_private_key_path": str(workdir / "keys" / "sekmet_private.pem"),
        "simulator": {"enabled": False},
        "validation": {"inbound": "off"},
        "log_inbound": False,
        "server_auth": {"types": ["bearer"], "tokens": [token]},
    }
    config = workdir / "settings.yaml"
    config.write_text(yaml.safe_dump(settings))
    log_path = workdir / "server.log"
    env = {**os.environ, "SEKMET_CONFIG": str(config)}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "sekmet.main:app_factory",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    server = FhirTestServer(base_url, token, process)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"FHIR test server exited: {_tail(log_path)}")
        try:
            if httpx.get(f"{base_url}/metadata", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_fhir_server(server)
    raise RuntimeError(f"FHIR test server did not answer in {STARTUP_SECONDS} s: {_tail(log_path)}")


def stop_fhir_server(server: FhirTestServer) -> None:
    """Terminate the server process (kill it if it does not stop within 10 s)."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


def _tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"
