"""Monitoring the clinic policy requires for COT patients, when it is overdue.

Intervals are clinic policy (`policy.monitoring`), read by `monitoring.monitoring_status`;
this rule turns an OVERDUE or NEVER item into a finding. Sources: CDC 2022 Recommendation 10
(toxicology testing), 9 (PDMP), 7 (regular evaluation: visits, PEG, PHQ-9) and the Six
Building Blocks 2 and 4 (patient agreements, planned visits).

Only COT patients get these findings: the policy's intervals are COT standard work. One
exception follows Recommendation 9 (check the PDMP before prescribing): a non-COT patient for
whom an opioid is being ordered in this CDS call gets `pdmp-check-overdue` when the PDMP check is
overdue or was never done.
"""

from __future__ import annotations

from app.clinical.citations import (
    REC_7_FOLLOW_UP,
    REC_9_PDMP,
    REC_10_TOXICOLOGY,
    SIX_BB_AGREEMENTS,
    SIX_BB_VISITS,
)
from app.clinical.model import Citation, Finding, Severity
from app.clinical.monitoring import DueStatus, MonitoringItem, monitoring_status
from app.clinical.rules.base import Rule, RuleContext

#: monitoring item key -> (finding code, citation, what is overdue).
OVERDUE_CODES: dict[str, tuple[str, Citation, str]] = {
    "uds": ("uds-overdue", REC_10_TOXICOLOGY, "Urine drug screen"),
    "agreement": ("agreement-overdue", SIX_BB_AGREEMENTS, "Treatment agreement"),
    "pdmp": ("pdmp-check-overdue", REC_9_PDMP, "PDMP check"),
    "opioid-visit": ("opioid-visit-overdue", SIX_BB_VISITS, "Opioid follow-up visit"),
    "peg": ("peg-overdue", REC_7_FOLLOW_UP, "PEG pain and function score"),
    "phq9": ("phq9-overdue", REC_7_FOLLOW_UP, "PHQ-9 depression screen"),
}
_LATE = frozenset({DueStatus.OVERDUE, DueStatus.NEVER})


class MonitoringOverdueRule(Rule):
    id = "monitoring-overdue"
    title = "Monitoring overdue under the clinic policy"
    citation = REC_7_FOLLOW_UP
    codes = tuple(code for code, _, _ in OVERDUE_CODES.values())

    def evaluate(self, ctx: RuleContext) -> tuple[Finding, ...]:
        ordering_opioid = any(d.classification.is_opioid for d in ctx.drafts)
        if not ctx.cot.is_cot and not ordering_opioid:
            return ()
        findings = []
        items = monitoring_status(ctx.chart, ctx.policy, ctx.as_of, terminology=ctx.terminology)
        for item in items:
            if item.status not in _LATE or item.key not in OVERDUE_CODES:
                continue
            if not ctx.cot.is_cot and item.key != "pdmp":
                continue
            findings.append(self._overdue(ctx, item))
        return tuple(findings)

    def _overdue(self, ctx: RuleContext, item: MonitoringItem) -> Finding:
        code, citation, what = OVERDUE_CODES[item.key]
        if item.last_date is None:
            text = (
                f"{what} not on record; the clinic policy asks for one every"
                f" {item.interval_days} days."
            )
        else:
            text = (
                f"{what} overdue: last {item.last_date.isoformat()}, due"
                f" {item.due_date.isoformat() if item.due_date else 'now'}."
            )
        evidence = item.evidence or ctx.cot.evidence or tuple(sorted(ctx.draft_refs))
        return self.finding(
            code,
            Severity.LOW,
            text,
            evidence,
            {
                "key": item.key,
                "status": str(item.status),
                "last_date": item.last_date.isoformat() if item.last_date else None,
                "due_date": item.due_date.isoformat() if item.due_date else None,
                "interval_days": item.interval_days,
                "detail": item.detail,
            },
            citation=citation,
        )
