"""The `ppact` command: serve the app, compute MME and findings from a Bundle, make the cohort.

Bad input (not JSON, not a Bundle, more than one patient, a bad setting) exits non-zero with one
line on stderr saying why. This is the only module that calls `sys.exit`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

EXIT_BAD_INPUT = 2
#: Environment variable `ppact seed` reads its bearer token from when --token is not given.
SEED_TOKEN_ENV = "PPACT_SEED_TOKEN"  # noqa: S105 - the name of a variable, not a secret


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _iso_date(text: str) -> date:
    from app.clinical.model import AS_OF_MAX, AS_OF_MIN

    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc
    if not AS_OF_MIN <= day <= AS_OF_MAX:
        raise argparse.ArgumentTypeError(
            f"date must be between {AS_OF_MIN.isoformat()} and {AS_OF_MAX.isoformat()}, got {text}"
        )
    return day


def _read_bundle(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{path}: cannot be read ({exc.strerror})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from exc


#: Bundle types that carry one patient's resources (issue 2: collection, searchset, transaction).
BUNDLE_TYPES = ("collection", "searchset", "transaction", "batch")


def _chart(path: Path) -> Any:
    from app.clinical.chart import ChartInputError, chart_from_bundle

    bundle = _read_bundle(path)
    try:
        chart = chart_from_bundle(bundle)
    except ChartInputError as exc:
        raise CliError(f"{path}: {exc}") from exc
    kind = bundle.get("type")
    if kind not in BUNDLE_TYPES:
        raise CliError(f"{path}: Bundle type {kind!r} is not one of {', '.join(BUNDLE_TYPES)}")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise CliError(f"{path}: the Bundle holds no entries (Bundle.entry must be a list)")
    return chart


def _print_problems(chart: Any) -> None:
    if chart.problems:
        print("Data that could not be read:")
        for problem in chart.problems:
            print(f"  - {problem}")


def _policy(path: Path | None) -> Any:
    from app.clinical.policy import PolicyError, default_policy, parse_policy

    if path is None:
        return default_policy()
    try:
        return parse_policy(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"{path}: cannot be read ({exc.strerror})") from exc
    except PolicyError as exc:
        raise CliError(f"{path}: {exc}") from exc


def _completeness(result: Any) -> str:
    """How complete the total is, in words a prescriber reads correctly."""
    if result.complete:
        return "complete"
    open_lines = [line for line in result.lines if not line.complete]
    missing = any(line.mme_per_day is None for line in open_lines)
    estimated = any(line.mme_per_day is not None for line in open_lines)
    if missing and estimated:
        return "INCOMPLETE: some medications not computable, some values estimated"
    if missing:
        return "INCOMPLETE: at least this much; some medications not computable"
    return "INCOMPLETE: includes estimated or assumed values; check the sigs"


def _fmt(value: float | None) -> str:
    return "not computable" if value is None else f"{value:.1f}"


def cmd_mme(args: argparse.Namespace) -> int:
    from app.clinical.mme import total_mme
    from app.clinical.report import mme_json

    chart = _chart(args.bundle)
    result = total_mme(chart.medications, as_of=args.as_of, edition=args.edition)
    if args.json:
        print(json.dumps({**mme_json(result), "problems": list(chart.problems)}, indent=2))
        return 0
    print(f"MME/day as of {result.as_of.isoformat()} (CDC {result.edition} factors)")
    for line in (*result.lines, *result.excluded):
        name = line.display or line.code or line.ref
        if line.counted:
            print(f"  {name}: {_fmt(line.mme_per_day)}")
        else:
            dose = f", {line.daily_dose:g} {line.unit}" if line.daily_dose is not None else ""
            print(
                f"  {name}: not in the total ({line.notes[0] if line.notes else 'excluded'}{dose})"
            )
        for note in line.notes[0 if line.counted else 1 :]:
            print(f"      - {note}")
    status = _completeness(result)
    print(f"Total: {result.total_mme:.1f} MME/day, {status}")
    for reason in result.reasons:
        print(f"  - {reason}")
    _print_problems(chart)
    return 0


def cmd_findings(args: argparse.Namespace) -> int:
    from app.clinical.findings import evaluate
    from app.clinical.report import finding_json

    chart = _chart(args.bundle)
    policy = _policy(args.policy)
    findings = evaluate(chart, policy, args.as_of)
    if args.json:
        payload = {
            "as_of": args.as_of.isoformat(),
            "findings": [finding_json(f) for f in findings],
            "problems": list(chart.problems),
        }
        print(json.dumps(payload, indent=2))
        return 0
    print(f"Findings as of {args.as_of.isoformat()}: {len(findings)}")
    for finding in findings:
        print(f"  [{finding.severity}] {finding.code}: {finding.text} ({finding.citation.label})")
    _print_problems(chart)
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from app.synth import write_cohort

    paths = write_cohort(args.out, patients=args.patients, seed=args.seed, anchor=args.anchor)
    print(f"wrote {len(paths)} patient bundles to {args.out}")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    import logging

    from app.fhir.errors import FhirConnectionError, FhirError, FhirTimeout
    from app.seed import SeedError, run_remove, run_seed

    # The client logs each retry at WARNING; the command ends with one line instead.
    fhir_log = logging.getLogger("app.fhir")
    level = fhir_log.level
    fhir_log.setLevel(logging.ERROR)
    # A --token value is visible to every user in `ps`; the environment is not.
    token = args.token or os.environ.get(SEED_TOKEN_ENV) or None
    try:
        if args.remove:
            removed = run_remove(args.fhir_base, tag=args.tag, token=token)
            print(f"removed {removed.total} synthetic resources tagged {args.tag}; none left")
            return 0
        report = run_seed(
            args.fhir_base,
            patients=args.patients,
            seed=args.seed,
            anchor=args.anchor,
            token=token,
            chunk_size=args.chunk_size,
        )
    except (FhirConnectionError, FhirTimeout) as exc:
        raise CliError(f"{args.fhir_base}: {exc} (retried)") from exc
    except (SeedError, FhirError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    finally:
        fhir_log.setLevel(level)
    print(
        f"loaded {report.resources} resources of {args.patients} patients in {report.chunks} "
        f"transactions ({report.created} created, {report.replaced} replaced)"
    )
    if report.stale.total:
        print(f"deleted {report.stale.total} resources of another cohort under these patients")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from app.demo import DemoError, DemoOptions, run_demo
    from app.fhir.errors import FhirError
    from app.seed import SeedError

    options = DemoOptions(
        app_port=args.app_port,
        fhir_port=args.fhir_port,
        data_dir=args.data_dir,
        patients=args.patients,
        seed=args.seed,
    )
    try:
        run_demo(options, lambda line: print(line, flush=True))
    except (DemoError, SeedError, FhirError) as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app
    from app.settings import SettingsError, load_settings

    try:
        settings = load_settings(args.config, {"host": args.host, "port": args.port})
    except SettingsError as exc:
        raise CliError(str(exc)) from exc
    app = create_app(settings)
    print(f"PPACT app: {settings.base_url}/")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from datetime import datetime

    from app.settings import SettingsError, load_settings
    from app.storage.db import create_engine, ensure_schema
    from app.storage.feedback import FeedbackStore
    from app.web.alerts import alert_report, default_range

    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        raise CliError(str(exc)) from exc
    first, last = default_range(datetime.now().astimezone(), settings.timezone)
    start, end = args.from_day or first, args.to_day or last
    if end < start:
        raise CliError(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    engine = create_engine(settings.sql_url)
    ensure_schema(engine)
    report = alert_report(FeedbackStore(engine), start, end, settings.timezone)
    engine.dispose()
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
        return 0
    print(f"CDS alerts {start.isoformat()} to {end.isoformat()} ({settings.timezone} days)")
    print(f"{'rule':<28} {'fired':>6} {'accepted':>8} {'overridden':>10} {'snoozed':>7}")
    for row in report.rows:
        counts = f"{row.fired:>6} {row.accepted:>8} {row.overridden:>10} {row.snoozed:>7}"
        print(f"{row.rule:<28} {counts}")
        for reason, count in row.override_reasons.items():
            print(f"    overridden: {reason}: {count}")
    if not report.rows:
        print("no CDS cards or feedback in this period")
    return 0


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line (`ppact mme: argument --as-of: not a date ...`), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}\n")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="ppact", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the web app (and the CDS service)")
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=None, help="port (default 8000)")
    serve.add_argument("--config", type=Path, default=None, help="settings YAML file")
    serve.set_defaults(func=cmd_serve)

    for name, func, helptext in (
        ("mme", cmd_mme, "MME/day per medication and in total from a one-patient Bundle"),
        ("findings", cmd_findings, "clinical findings from a one-patient Bundle"),
    ):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("--bundle", type=Path, required=True, help="FHIR Bundle JSON file")
        cmd.add_argument("--as-of", type=_iso_date, default=date.today(), help="YYYY-MM-DD")
        cmd.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "mme":
            cmd.add_argument("--edition", choices=["2022", "2016"], default="2022")
        else:
            cmd.add_argument("--policy", type=Path, default=None, help="clinic policy YAML")
        cmd.set_defaults(func=func)

    synth = sub.add_parser("synth", help="write the synthetic COT cohort as transaction Bundles")
    synth.add_argument("--patients", type=int, default=50)
    synth.add_argument("--seed", type=int, default=7)
    synth.add_argument("--out", type=Path, required=True)
    synth.add_argument(
        "--anchor",
        type=_iso_date,
        default=date(2026, 11, 1),
        help="the cohort's 'today' (YYYY-MM-DD); history runs 2 years back",
    )
    synth.set_defaults(func=cmd_synth)

    alerts = sub.add_parser("alerts", help="CDS alert analytics")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    report = alerts_sub.add_parser("report", help="per rule: fired, accepted, overridden, snoozed")
    report.add_argument("--from", dest="from_day", type=_iso_date, default=None, help="YYYY-MM-DD")
    report.add_argument("--to", dest="to_day", type=_iso_date, default=None, help="YYYY-MM-DD")
    report.add_argument("--json", action="store_true", help="machine-readable output")
    report.add_argument("--config", type=Path, default=None, help="settings YAML file")
    report.set_defaults(func=cmd_alerts)

    seed = sub.add_parser("seed", help="load the synthetic cohort into a FHIR server, or remove it")
    seed.add_argument("--fhir-base", required=True, help="FHIR R4 base URL")
    seed.add_argument("--patients", type=int, default=50)
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument("--anchor", type=_iso_date, default=date(2026, 11, 1), help="YYYY-MM-DD")
    seed.add_argument(
        "--token",
        default=None,
        help=f"bearer token (default: ${SEED_TOKEN_ENV}, else none: open server); "
        f"prefer ${SEED_TOKEN_ENV}, as a --token value shows in `ps`",
    )
    seed.add_argument("--chunk-size", type=int, default=100, help="resources per transaction")
    seed.add_argument(
        "--remove", action="store_true", help="delete every resource carrying the tag instead"
    )
    seed.add_argument(
        "--tag",
        default="urn:ppact-cot:tags|synthetic-cohort",
        help="with --remove: delete synthetic resources that also carry this tag (system|code)",
    )
    seed.set_defaults(func=cmd_seed)

    demo = sub.add_parser(
        "demo", help="local FHIR server + synthetic cohort + app on 127.0.0.1 (make run)"
    )
    demo.add_argument("--app-port", type=int, default=8000, help="app and CDS port (8000)")
    demo.add_argument("--fhir-port", type=int, default=8081, help="FHIR server port (8081)")
    demo.add_argument(
        "--data-dir", type=Path, default=Path("var/demo"), help="FHIR database, logs (var/demo)"
    )
    demo.add_argument("--patients", type=int, default=50, help="cohort size (50)")
    demo.add_argument("--seed", type=int, default=7, help="cohort seed (7)")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        status = args.func(args)
    except CliError as exc:
        print(f"ppact {args.command}: {exc}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(status)
