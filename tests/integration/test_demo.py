"""`ppact demo` (`make run`) as a user runs it: a subprocess, URLs printed, Ctrl-C, nothing left.

Free ports and a small cohort keep it quick; the FHIR server is the real local one (SEKMET) that
the demo starts as its child process.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.integration.fhir_server import free_port
from tests.support.chromium import CHROMIUM_ARGS, require_chromium

pytestmark = pytest.mark.integration


START_SECONDS = 90.0
COMMAND = [sys.executable, "-c", "from app.cli import main; main()", "demo"]


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found.update(int(p) for p in text.split())
    return found


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Demo:
    """A `ppact demo` child whose stdout lines are collected by a reader thread."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [*COMMAND, *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._err: str | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, prefix: str, timeout: float = START_SECONDS) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no {prefix!r} line; saw {self.seen}; stderr: {self.stderr()}")

    def stderr(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        if self._err is None:
            assert self.process.stderr is not None
            self._err = self.process.stderr.read()[-2000:]
        return self._err

    def stop(self) -> None:
        """Kill it if still running, then close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.stderr()
        self._reader.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def picker_names(executable: str, app_url: str, fhir_base: str) -> list[str]:
    """Open-server launch in headless Chromium: the patient picker's synthetic names.

    A browser, not httpx: the launch cookie is `Secure`, which browsers send to 127.0.0.1
    (a secure context) and httpx does not.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{app_url}/launch?iss={fhir_base}")
            assert "/pick" in page.url
            return sorted(set(re.findall(r"Synth\d{4}", page.content())))
        finally:
            browser.close()


@pytest.fixture
def ports():
    return free_port(), free_port()


@pytest.mark.browser
def test_demo_serves_the_cohort_and_stops_cleanly_on_ctrl_c(tmp_path, ports):
    chromium = require_chromium()
    app_port, fhir_port = ports
    args = ["--app-port", str(app_port), "--fhir-port", str(fhir_port)]
    args += ["--patients", "3", "--data-dir", str(tmp_path / "demo")]
    demo = Demo(args, tmp_path)
    try:
        fhir_line = demo.wait_for("FHIR server: ")
        fhir_base = f"http://127.0.0.1:{fhir_port}/fhir"
        assert fhir_line.startswith(f"FHIR server: {fhir_base}")
        assert demo.wait_for("Loaded 3 synthetic patients")
        app_line = demo.wait_for("PPACT app: ")
        app_url = f"http://127.0.0.1:{app_port}"
        assert app_line == f"PPACT app: {app_url}/"
        assert demo.wait_for("CDS Hooks discovery: ") == (
            f"CDS Hooks discovery: {app_url}/cds-services (demo: unsigned calls accepted)"
        )
        discovery = httpx.get(f"{app_url}/cds-services", timeout=10)
        assert discovery.status_code == 200
        assert {s["hook"] for s in discovery.json()["services"]} >= {"patient-view", "order-sign"}
        fhir_children = children_of(demo.process.pid)
        assert len(fhir_children) == 1

        landing = httpx.get(f"{app_url}/", timeout=10)
        assert landing.status_code == 200
        assert "PPACT" in landing.text and fhir_base in landing.text
        assert tagged_patient_ids(fhir_base) == ["ppact-0001", "ppact-0002", "ppact-0003"]
        # In a thread of its own: Playwright's sync API refuses a thread with a running loop.
        with ThreadPoolExecutor(1) as pool:
            names = pool.submit(picker_names, chromium, app_url, fhir_base).result(timeout=60)
        assert names == ["Synth0001", "Synth0002", "Synth0003"]

        demo.process.send_signal(signal.SIGINT)
        assert demo.process.wait(timeout=30) == 0, demo.stderr()
        assert demo.wait_for("Stopped.", timeout=5)
    finally:
        demo.stop()
    deadline = time.monotonic() + 5
    while any(is_running(pid) for pid in fhir_children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(is_running(pid) for pid in fhir_children), "FHIR server left running"
    assert not port_open(fhir_port) and not port_open(app_port)


def tagged_patient_ids(fhir_base: str) -> list[str]:
    bundle = httpx.get(
        f"{fhir_base}/Patient",
        params={"_tag": "urn:ppact-cot:tags|synthetic-cohort"},
        headers={"Accept": "application/fhir+json"},
        timeout=10,
    ).json()
    return sorted(e["resource"]["id"] for e in bundle.get("entry", []))


def test_restarts_reuse_or_replace_the_cohort_and_sigterm_stops_it(tmp_path, ports):
    app_port, fhir_port = ports
    fhir_base = f"http://127.0.0.1:{fhir_port}/fhir"
    common = ["--app-port", str(app_port), "--fhir-port", str(fhir_port)]
    common += ["--data-dir", str(tmp_path / "demo")]
    runs = [
        ("2", "Loaded 2 synthetic patients", ["ppact-0001", "ppact-0002"]),
        ("1", "Loaded 1 synthetic patients", ["ppact-0001"]),  # the other cohort is removed
        ("1", "Synthetic cohort already loaded (1 patients)", ["ppact-0001"]),
    ]
    for patients, expected, ids in runs:
        demo = Demo([*common, "--patients", patients], tmp_path)
        try:
            demo.wait_for(expected)
            demo.wait_for("PPACT app: ")
            assert tagged_patient_ids(fhir_base) == ids
            children = children_of(demo.process.pid)
            demo.process.send_signal(signal.SIGTERM)
            assert demo.process.wait(timeout=30) == 0, demo.stderr()
        finally:
            demo.stop()
        time.sleep(0.2)
        assert children and not any(is_running(pid) for pid in children)


def test_busy_port_fails_with_one_clear_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*COMMAND, "--fhir-port", str(port), "--app-port", str(free_port())],
            check=False,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"ppact demo: port {port} on 127.0.0.1 is in use (FHIR server); "
        "choose another with --fhir-port"
    )
    assert not (tmp_path / "var").exists()
