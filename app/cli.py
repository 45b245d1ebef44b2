"""The `ppact` command: serve the app, compute MME and findings from a Bundle, make the cohort.

Bad input (not JSON, not a Bundle, more than one patient, a bad setting) exits non-zero with one
line on stderr saying why. This is the only module that calls `sys.exit`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

EXIT_BAD_INPUT = 2


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _read_bundle(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{path}: cannot be read ({exc.strerror})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from exc


def _chart(path: Path) -> Any:
    from app.clinical.chart import ChartInputError, chart_from_bundle

    bundle = _read_bundle(path)
    try:
        return chart_from_bundle(bundle)
    except ChartInputError as exc:
        raise CliError(f"{path}: {exc}") from exc


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


def _fmt(value: float | None) -> str:
    return "not computable" if value is None else f"{value:.1f}"


def cmd_mme(args: argparse.Namespace) -> int:
    from app.clinical.mme import total_mme
    from app.clinical.report import mme_json

    chart = _chart(args.bundle)
    result = total_mme(chart.medications, as_of=args.as_of, edition=args.edition)
    if args.json:
        print(json.dumps(mme_json(result), indent=2))
        return 0
    print(f"MME/day as of {result.as_of.isoformat()} (CDC {result.edition} factors)")
    for line in (*result.lines, *result.excluded):
        counted = "" if line.counted else "  [not in total]"
        print(f"  {line.display or line.code or line.ref}: {_fmt(line.mme_per_day)}{counted}")
        for note in line.notes:
            print(f"      - {note}")
    status = "complete" if result.complete else "INCOMPLETE (at least this much)"
    print(f"Total: {result.total_mme:.1f} MME/day, {status}")
    for reason in result.reasons:
        print(f"  - {reason}")
    return 0


def cmd_findings(args: argparse.Namespace) -> int:
    from app.clinical.findings import evaluate
    from app.clinical.report import finding_json

    chart = _chart(args.bundle)
    policy = _policy(args.policy)
    findings = evaluate(chart, policy, args.as_of)
    if args.json:
        payload = {"as_of": args.as_of.isoformat(), "findings": [finding_json(f) for f in findings]}
        print(json.dumps(payload, indent=2))
        return 0
    print(f"Findings as of {args.as_of.isoformat()}: {len(findings)}")
    for finding in findings:
        print(f"  [{finding.severity}] {finding.code}: {finding.text} ({finding.citation.label})")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from app.synth import write_cohort

    paths = write_cohort(args.out, patients=args.patients, seed=args.seed, anchor=args.anchor)
    print(f"wrote {len(paths)} patient bundles to {args.out}")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ppact", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the web app (and the CDS service)")
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
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
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        status = args.func(args)
    except CliError as exc:
        print(f"ppact {args.command}: {exc}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(status)
