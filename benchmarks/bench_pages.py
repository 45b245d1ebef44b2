"""Server time of the patient pages for the most complex synthetic patient (issue 4 benchmark).

Targets: summary <= 100 ms and dashboard <= 100 ms with the data already loaded; summary PDF
<= 1.5 s. "Already loaded" means the FHIR resources are in memory: the record loader is replaced
by one that returns patient 1's resources (what `load_patient_record` returned), so the time is
the app's own: chart reading, the clinical core, the view model, the charts and the template
(and the PDF). Requests go through the real app (`create_app`, middleware, launch check, audit
write) in process. Two figures per page: "fresh" (the chart is read from the resources on every
request) and "cached" (the page cache holds the chart, as when a PCP moves between pages).

Run: ``python benchmarks/bench_pages.py`` (or ``make bench``).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

from fastapi.testclient import TestClient  # noqa: E402

from app.clinical.chart import bundle_resources  # noqa: E402
from app.fhir.load import PatientRecord, SectionStatus  # noqa: E402
from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.storage.sessions import COOKIE_NAME, LaunchRecord  # noqa: E402
from app.synth import most_complex_patient_id  # noqa: E402
from app.synth.bundle import DEFAULT_SEED, patient_bundle  # noqa: E402
from app.web import pages  # noqa: E402

ANCHOR = date(2026, 11, 1)
RUNS = 20
PDF_RUNS = 5
TARGET_PAGE_MS = 100.0
TARGET_PDF_MS = 1500.0


@contextmanager
def app_client(resources: list[dict[str, Any]]) -> Iterator[tuple[TestClient, str]]:
    """The real app with the loader returning `resources`, and a launch for the patient."""

    async def loaded(client: Any, patient_id: str, *, as_of: date, **_: Any) -> PatientRecord:
        return PatientRecord(list(resources), {"patient": SectionStatus("complete", None, 1)})

    setattr(pages, "load_patient_record", loaded)  # noqa: B010 - swap the loader for the run
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(Settings(data_dir=Path(data_dir)))
        with TestClient(app, base_url="https://testserver") as client:
            sessions = app.state.smart.sessions
            session_id = sessions.new_session()
            client.cookies.set(COOKIE_NAME, sessions.cookie_value(session_id))
            record = LaunchRecord(
                launch_id="bench",
                session_id=session_id,
                iss="http://127.0.0.1:9/fhir",
                open_server=True,
                patient_id=most_complex_patient_id(),
            )
            sessions.save_launch(record)
            yield client, "bench"


def timed(request: Callable[[], Any], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = request()
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"page answered {response.status_code}")
    return times


def line(name: str, times: list[float], target: float) -> str:
    median = statistics.median(times)
    verdict = "ok" if median <= target else "OVER TARGET"
    return (
        f"{name:<28} median {median:7.1f} ms   min {min(times):7.1f} ms   "
        f"max {max(times):7.1f} ms   target <= {target:.0f} ms  {verdict}"
    )


def main() -> None:
    """Measure and print the page figures."""
    number = int(most_complex_patient_id().rsplit("-", 1)[1])
    resources = bundle_resources(patient_bundle(number, seed=DEFAULT_SEED, anchor=ANCHOR))
    query = f"?as_of={ANCHOR.isoformat()}"
    print(f"Pages for {most_complex_patient_id()} ({len(resources)} resources), runs={RUNS}")
    with app_client(resources) as (client, launch_id):
        url = f"/l/{launch_id}/{{}}{query}"
        for page in ("summary", "dashboard", "outreach"):
            client.get(url.format(page))  # warm-up: templates compiled, terminology loaded
        no_cache = pages.RecordCache.get
        pages.RecordCache.get = lambda self, key: None  # type: ignore[method-assign]
        try:
            for page in ("summary", "dashboard"):
                times = timed(partial(client.get, url.format(page)), RUNS)
                print(line(f"{page} (fresh chart)", times, TARGET_PAGE_MS))
        finally:
            pages.RecordCache.get = no_cache  # type: ignore[method-assign]
        for page in ("summary", "dashboard"):
            times = timed(partial(client.get, url.format(page)), RUNS)
            print(line(f"{page} (cached chart)", times, TARGET_PAGE_MS))
        client.get(url.format("summary.pdf"))  # warm-up: fonts and stylesheets
        times = timed(partial(client.get, url.format("summary.pdf")), PDF_RUNS)
        print(line("summary.pdf (cached chart)", times, TARGET_PDF_MS))


if __name__ == "__main__":
    main()
