"""Slow uploads cannot hold the call gate: the body is read first, within a time limit (408).

Real uvicorn on loopback and raw sockets that send headers and part of a body, then stall.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import cds_hooks.api
from app.main import create_app
from app.settings import Settings
from tests.support.servers import serve
from tests.unit.cds_hooks.conftest import SELECT
from tests.unit.cds_hooks.support import (
    ANCHOR,
    OXY_5,
    hook_request,
    medication_request,
    monitored_cot_patient,
    prefetch_for,
)

TIMEOUT = 2.0
SLOW_CLIENTS = 6  # more than the gate's 4 places


@pytest.fixture
def base_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(cds_hooks.api, "BODY_TIMEOUT_SECONDS", TIMEOUT)
    app = create_app(Settings(data_dir=tmp_path, cds_allow_unsigned=True))
    with serve(app) as url:
        yield url


def stalled_upload(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    head = (
        f"POST {SELECT} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100000\r\n\r\n"
    )
    sock.sendall(head.encode() + b'{"hook": "order-select", ')
    return sock


def read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_stalled_uploads_get_408_and_do_not_block_other_calls(base_url: str) -> None:
    patient = monitored_cot_patient("pt-slow")
    draft = medication_request("d1", *OXY_5, patient="pt-slow", authored=ANCHOR.isoformat())
    request = hook_request(
        "order-select", "pt-slow", drafts=[draft], prefetch=prefetch_for(patient)
    )
    sockets = [stalled_upload(base_url) for _ in range(SLOW_CLIENTS)]
    try:
        time.sleep(0.2)  # every slow upload is in the handler now
        started = time.monotonic()
        answer = httpx.post(base_url + SELECT, json=request, timeout=10)
        elapsed = time.monotonic() - started
        assert answer.status_code == 200, answer.text
        assert "cards" in answer.json()
        assert elapsed < TIMEOUT / 2, f"order-time call waited {elapsed:.2f} s behind slow uploads"

        for sock in sockets:
            raw = read_response(sock)
            status_line, _, rest = raw.partition(b"\r\n")
            assert status_line.startswith(b"HTTP/1.1 408"), raw[:200]
            reason = json.loads(rest.partition(b"\r\n\r\n")[2])["error"]
            assert reason == f"body not received within {TIMEOUT:g} s"
        assert time.monotonic() - started < TIMEOUT + 3
    finally:
        for sock in sockets:
            sock.close()
