"""`make bench`: the speed targets named in the issues, measured and printed.

Figures printed here are recorded in BENCHMARKS.md together with the command and the machine.
Targets (issue 2): terminology load <= 300 ms (fresh process); MME + findings for the most complex
synthetic patient (>= 300 medication resources over 2 years) <= 5 ms per patient after load.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ANCHOR = date(2026, 11, 1)


def bench_terminology_load(runs: int = 5) -> list[float]:
    """Cold load in a fresh interpreter each time (the cache would hide it otherwise)."""
    code = (
        "import time; t=time.perf_counter();"
        "from app.clinical.terminology import load_terminology; load_terminology();"
        "print((time.perf_counter()-t)*1000)"
    )
    return [
        float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(runs)
    ]


def bench_core(iterations: int = 200) -> dict[str, float]:
    from app.clinical.chart import chart_from_bundle
    from app.clinical.findings import build_context, evaluate_context
    from app.clinical.mme import daily_mme_series, total_mme
    from app.clinical.policy import default_policy
    from app.synth import generate_cohort, most_complex_patient_id

    target = most_complex_patient_id()
    bundles = generate_cohort(patients=5, seed=7, anchor=ANCHOR)
    bundle = next(
        b
        for b in bundles
        if any(
            e["resource"].get("id") == target and e["resource"]["resourceType"] == "Patient"
            for e in b["entry"]
        )
    )
    from app.clinical.terminology import load_terminology

    load_terminology()  # measured separately above
    t0 = time.perf_counter()
    chart = chart_from_bundle(bundle)
    parse_ms = (time.perf_counter() - t0) * 1000
    policy = default_policy()
    n_meds = len(chart.medications)

    def once() -> None:
        # What every surface does: one context (MME total, supply windows, COT status,
        # exclusions), then every rule over it.
        ctx = build_context(chart, policy, ANCHOR)
        evaluate_context(ctx)

    once()  # warm caches (terminology, factor tables)
    samples = []
    for _ in range(iterations):
        t = time.perf_counter()
        once()
        samples.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    for _ in range(iterations):
        total_mme(chart.medications, as_of=ANCHOR, edition=policy.mme.edition)
    mme_ms = (time.perf_counter() - t) * 1000 / iterations
    t = time.perf_counter()
    daily_mme_series(
        chart.medications, start=date(ANCHOR.year - 2, ANCHOR.month, ANCHOR.day), end=ANCHOR
    )
    series_ms = (time.perf_counter() - t) * 1000
    return {
        "medication_records": n_meds,
        "parse_ms": parse_ms,
        "p50_ms": statistics.median(samples),
        "p95_ms": statistics.quantiles(samples, n=20)[18],
        "series_730d_ms": series_ms,
        "mme_only_ms": mme_ms,
    }


def bench_clinical_core() -> int:
    """Issue 2's figures; 1 when a target is missed."""
    loads = bench_terminology_load()
    print(
        f"terminology load (fresh process, {len(loads)} runs): "
        f"median {statistics.median(loads):.0f} ms, max {max(loads):.0f} ms (target <= 300 ms)"
    )
    core = bench_core()
    print(
        f"most complex synthetic patient: {core['medication_records']:.0f} medication records, "
        f"chart built from JSON in {core['parse_ms']:.1f} ms"
    )
    print(
        f"MME + findings per patient after load: p50 {core['p50_ms']:.2f} ms, "
        f"p95 {core['p95_ms']:.2f} ms (target <= 5 ms)"
    )
    print(f"MME total alone: {core['mme_only_ms']:.2f} ms")
    print(f"daily MME series over 2 years: {core['series_730d_ms']:.2f} ms")
    missed = statistics.median(loads) > 300 or core["p50_ms"] > 5
    print("targets missed" if missed else "targets met")
    return 1 if missed else 0


def main() -> int:
    """Every benchmark, one section each; exit status 1 when a target is missed."""
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_cds
    import bench_load
    import bench_pages

    print("== clinical core (issue 2)")
    status = bench_clinical_core()
    print("\n== patient record load with 50 ms FHIR latency (issue 3)")
    status = bench_load.main() or status
    print("\n== pages (issue 4)")
    bench_pages.main()
    print("\n== CDS Hooks (issue 5)")
    status = bench_cds.main() or status
    return status


if __name__ == "__main__":
    sys.exit(main())
