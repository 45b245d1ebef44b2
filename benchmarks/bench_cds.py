"""CDS Hooks service speed (issue 5 benchmark): order-select under load, and the FHIR fallback.

1. `order-select` for the most complex synthetic patient (``most_complex_patient_id``) with a full
   prefetch, against the app on uvicorn in its own process on 127.0.0.1, at concurrency 1, 16
   and 64 (httpx async load generator; each level bounded by a request count and a time limit).
   The same app also serves ``POST /bench/echo``, which only parses the same body and echoes it:
   the floor. Prints p50, p99 and requests/s for both, and our latency as a ratio to the floor.
   Targets: p99 <= 50 ms at concurrency 16; ratio <= 3.
2. The fallback path: the same call without prefetch, with the FHIR server (SEKMET, as in
   tests/integration) behind a proxy that adds 50 ms per request. Prints the wall time and the
   FHIR round trips (waves of requests seen by the proxy). Target: <= 2 round trips.

Run: ``python benchmarks/bench_cds.py`` (``make bench`` calls ``main()``);
``BENCH_CDS_CONCURRENCY=1,16,64`` (the default) chooses the concurrency levels.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse, Response  # noqa: E402

from app.synth import generate_cohort, most_complex_patient_id  # noqa: E402
from tests.integration.fhir_server import free_port, start_fhir_server, stop_fhir_server  # noqa: E402
from tests.unit.cds_hooks.support import (  # noqa: E402
    OXY_5,
    bundle_resources,
    hook_request,
    medication_request,
    prefetch_for,
)

ANCHOR = date(2026, 11, 1)
NOW = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)  # 2026-11-01 20:00 in Los Angeles
CONCURRENCY = tuple(int(c) for c in os.environ.get("BENCH_CDS_CONCURRENCY", "1,16,64").split(","))
MAX_SECONDS = 20.0
LATENCY = 0.050
FALLBACK_RUNS = 5
SELECT = "/cds-services/ppact-opioid-order-select"


def bench_app() -> FastAPI:
    """The product app (settings from PPACT_* variables) plus the echo floor; clock at ANCHOR."""
    from app.main import create_app
    from app.settings import load_settings

    app = create_app(load_settings())
    app.state.cds.clock = lambda: NOW

    @app.post("/bench/echo")
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(json.loads(await request.body()))

    return app


def start_app(workdir: Path, fhir_base: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PPACT_DATA_DIR": str(workdir),
        "PPACT_CDS_ALLOW_UNSIGNED": "true",
        "PPACT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PPACT_CDS_FHIR_SERVERS": json.dumps([fhir_base] if fhir_base else []),
        "PPACT_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable, "-m", "uvicorn", "benchmarks.bench_cds:bench_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the app did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def load(url: str, body: bytes, concurrency: int) -> dict[str, float]:
    """Send 150-960 requests (30 per connection) with `concurrency` in flight, for MAX_SECONDS
    at most."""
    latencies: list[float] = []
    errors = 0
    total = min(960, max(150, 30 * concurrency))
    sent = 0
    headers = {"Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        for _ in range(min(concurrency, 8)):  # warm connections and caches
            await client.post(url, content=body, headers=headers)
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal sent, errors
            while sent < total and time.perf_counter() - started < MAX_SECONDS:
                sent += 1
                t0 = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - t0)
                errors += response.status_code != 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "n": len(latencies),
        "errors": errors,
        "p50": pct(latencies, 0.50) * 1000,
        "p99": pct(latencies, 0.99) * 1000,
        "rps": len(latencies) / elapsed,
    }


def order_select_body(resources: list[dict[str, Any]], patient_id: str, **extra: Any) -> bytes:
    draft = medication_request("draft-bench", *OXY_5, patient=patient_id, authored="2026-11-01")
    body = hook_request("order-select", patient_id, drafts=[draft], **extra)
    body["hookInstance"] = str(uuid.uuid4())
    return json.dumps(body).encode()


def bench_prefetch(workdir: Path) -> int:
    patient_id = most_complex_patient_id()
    resources = bundle_resources(generate_cohort(patients=1, anchor=ANCHOR)[0])
    body = order_select_body(resources, patient_id, prefetch=prefetch_for(resources))
    process, base = start_app(workdir / "prefetch", None)
    try:
        cards = httpx.post(f"{base}{SELECT}", content=body, timeout=30).json()["cards"]
        print(
            f"order-select, patient {patient_id}: {len(resources)} resources in the prefetch,"
            f" {len(body) / 1024:.0f} KiB body, {len(cards)} cards"
        )
        print(f"{'':>4} {'endpoint':<13} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
        status = 0
        for concurrency in CONCURRENCY:
            ours = asyncio.run(load(f"{base}{SELECT}", body, concurrency))
            floor = asyncio.run(load(f"{base}/bench/echo", body, concurrency))
            for name, row in (("order-select", ours), ("echo floor", floor)):
                print(
                    f"c={concurrency:<2} {name:<13} {row['n']:>5.0f} {row['p50']:>8.1f}"
                    f" {row['p99']:>8.1f} {row['rps']:>8.1f}"
                    + (f"  errors {row['errors']:.0f}" if row["errors"] else "")
                )
            ratio50 = ours["p50"] / floor["p50"]
            ratio99 = ours["p99"] / floor["p99"]
            print(f"     ratio to floor: p50 {ratio50:.1f}x, p99 {ratio99:.1f}x (target <= 3)")
            if concurrency == 16:
                met = ours["p99"] <= 50 and ratio99 <= 3
                print(
                    f"     target at c=16 (p99 <= 50 ms, ratio <= 3): {'met' if met else 'MISSED'}"
                )
            status |= int(bool(ours["errors"]))
        return status
    finally:
        stop(process)


def wave_count(starts: list[float], gap: float) -> int:
    """Sequential rounds: requests starting within `gap` of a round's first one share it."""
    waves = 0
    first = None
    for moment in sorted(starts):
        if first is None or moment - first > gap:
            waves += 1
            first = moment
    return waves


def latency_proxy(upstream: str, public: str, token: str, starts: list[float]) -> FastAPI:
    """Adds LATENCY to every FHIR request and records when each one arrived."""
    app = FastAPI()
    clients: dict[str, httpx.AsyncClient] = {}

    @app.api_route("/fhir/{path:path}", methods=["GET", "POST"])
    async def forward(request: Request, path: str) -> Response:
        starts.append(time.perf_counter())
        await asyncio.sleep(LATENCY)
        client = clients.get("c") or clients.setdefault(
            "c", httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64))
        )
        answer = await client.request(
            request.method,
            f"{upstream}/{path}",
            params=list(request.query_params.multi_items()),
            content=await request.body(),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"},
        )
        body = answer.content.replace(upstream.encode(), public.encode())
        return Response(body, status_code=answer.status_code, media_type="application/fhir+json")

    return app


async def _fallback(workdir: Path) -> int:
    (workdir / "fhir").mkdir(parents=True, exist_ok=True)
    server = start_fhir_server(workdir / "fhir")
    patient_id = most_complex_patient_id()
    process = None
    try:
        (bundle,) = generate_cohort(patients=1, anchor=ANCHOR)
        httpx.post(server.base_url, json=bundle, headers=server.headers(), timeout=120)
        port = free_port()
        public = f"http://127.0.0.1:{port}/fhir"
        starts: list[float] = []
        proxy = uvicorn.Server(
            uvicorn.Config(
                latency_proxy(server.base_url, public, server.token, starts),
                host="127.0.0.1", port=port, log_level="warning", access_log=False,
            )
        )  # fmt: skip
        serving = asyncio.create_task(proxy.serve())
        while not proxy.started:
            await asyncio.sleep(0.01)
        process, base = start_app(workdir / "fallback", public)
        access = {
            "access_token": "unused-by-the-proxy",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "bench",
        }
        body = order_select_body([], patient_id, fhirServer=public, fhirAuthorization=access)
        walls, waves, counts, gaps = [], [], [], []
        async with httpx.AsyncClient(timeout=30) as client:
            for run in range(FALLBACK_RUNS + 1):
                starts.clear()
                t0 = time.perf_counter()
                answer = await client.post(f"{base}{SELECT}", content=body)
                wall = time.perf_counter() - t0
                cards = answer.json()["cards"]
                if run:  # the first call warms the app
                    walls.append(wall)
                    waves.append(wave_count(starts, LATENCY / 2))
                    counts.append(len(starts))
                    gaps.append(sum("Data not available" in c.get("detail", "") for c in cards))
        proxy.should_exit = True
        await serving
    finally:
        if process is not None:
            stop(process)
        stop_fhir_server(server)
    wall = statistics.median(walls)
    print(
        f"fallback (no prefetch), 50 ms per FHIR request: wall {wall * 1000:.0f} ms median"
        f" (min {min(walls) * 1000:.0f}, max {max(walls) * 1000:.0f}),"
        f" {statistics.median(counts):.0f} FHIR requests in {max(waves)} round trip(s);"
        f" cards with missing data: {max(gaps)}"
    )
    met = max(waves) <= 2 and max(gaps) == 0
    print(f"     target (<= 2 round trips, nothing missing): {'met' if met else 'MISSED'}")
    return 0


def main() -> int:
    """Run both parts; prints the figures. Returns 1 when a request failed."""
    with tempfile.TemporaryDirectory(prefix="ppact-bench-cds-") as tmp:
        status = bench_prefetch(Path(tmp))
        status |= asyncio.run(_fallback(Path(tmp)))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
