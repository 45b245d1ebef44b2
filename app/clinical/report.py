"""JSON-safe views of core results: the stable contracts of `ppact mme --json` and friends.

The `mme_json` shape is a public contract (CLI, registry exports):
``{"as_of", "edition", "total_mme", "complete", "medications": [{"code", "display",
"mme_per_day", "daily_dose", "unit", "complete", "notes"}]}``. Fields may be added, never renamed.
"""

from __future__ import annotations

from typing import Any

from app.clinical.model import Finding, MmeLine, MmeTotal


def _line_json(line: MmeLine) -> dict[str, Any]:
    return {
        "code": line.code,
        "display": line.display,
        "mme_per_day": line.mme_per_day,
        "daily_dose": line.daily_dose,
        "unit": line.unit,
        "complete": line.complete,
        "notes": list(line.notes),
        "counted": line.counted,
        "ref": line.ref,
    }


def mme_json(result: MmeTotal) -> dict[str, Any]:
    """The stable JSON contract for an MME total (unrounded numbers; round for display only)."""
    return {
        "as_of": result.as_of.isoformat(),
        "edition": result.edition,
        "total_mme": result.total_mme,
        "complete": result.complete,
        "medications": [_line_json(line) for line in (*result.lines, *result.excluded)],
        "incomplete_reasons": list(result.reasons),
    }


def finding_json(finding: Finding) -> dict[str, Any]:
    """A finding as JSON: code, severity, text, citation, evidence and its data payload."""
    return {
        "code": finding.code,
        "severity": str(finding.severity),
        "text": finding.text,
        "citation": {"label": finding.citation.label, "url": finding.citation.url},
        "evidence": list(finding.evidence),
        "data": _json_safe(finding.data),
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
