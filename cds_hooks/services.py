"""The three CDS services and what one call does: drafts, data, rules, cards, records.

CDS Hooks 2.0 "Discovery" and "Calling a CDS Service"; hooks per the CDS Hooks Library
(order-select: `selections` + `draftOrders`; order-sign: `draftOrders`; patient-view). One call:

1. checks the hook and context (`ServiceError` 400/422 with a one-line reason);
2. reads the draft orders with the core's reader (`medication_record`, Medications inside the
   draftOrders bundle resolve `medicationReference`); a draft that is not valid FHIR R4 (R4B
   model) is still read as far as it goes, and the cards say it could not be fully read; when
   no targeted order is an opioid or a sedative the answer is `{"cards": []}`, chart unread;
3. gathers the patient's data: prefetch, then the FHIR server for what is missing
   (`prefetch.gather_patient_data`); neither prefetch nor access is 412;
4. builds the rule context once at the clinic's local day and runs the hook's rules one at a
   time, so a rule that raises is logged and skipped while the others answer;
5. drops cards whose rule is snoozed for this patient, records each card's uuid with its rule,
   patient and hookInstance (for feedback), and answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from app.clinical.chart import ChartInputError, chart_from_prefetch
from app.clinical.findings import build_context, evaluate_context, rules_for_hook, sort_findings
from app.clinical.model import Finding
from app.clinical.policy import ClinicPolicy
from app.clinical.rules.base import RuleContext
from app.clinical.terminology import Terminology
from app.storage.feedback import FeedbackStore, IssuedCard
from cds_hooks import cards
from cds_hooks.drafts import read_drafts
from cds_hooks.errors import ServiceError
from cds_hooks.models import CdsRequest, CdsResponse, Discovery, ServiceDescription
from cds_hooks.order_cards import ORDER_CARD_BUILDERS
from cds_hooks.prefetch import (
    PatientData,
    fallback_client,
    gather_patient_data,
    needs_fetch,
    prefetch_templates,
)
from cds_hooks.suggestions import override_reasons

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServiceDef:
    id: str
    hook: str
    title: str
    description: str


SERVICES: tuple[ServiceDef, ...] = (
    ServiceDef(
        "ppact-opioid-order-select",
        "order-select",
        "Opioid and sedative order checks (order-select)",
        "Early refill, sedative co-prescribing, required monitoring, MME/day at or over the"
        " clinic thresholds and naloxone, for the opioid or sedative order being selected.",
    ),
    ServiceDef(
        "ppact-opioid-order-sign",
        "order-sign",
        "Opioid and sedative order checks (order-sign)",
        "The order-select checks, repeated for every opioid or sedative order being signed.",
    ),
    ServiceDef(
        "ppact-cot-patient-view",
        "patient-view",
        "Chronic opioid therapy status",
        "One card: total MME/day, key findings and what monitoring is due, with a link to the"
        " PPACT summary.",
    ),
)
SERVICES_BY_ID = {s.id: s for s in SERVICES}


def discovery() -> Discovery:
    """The discovery document; every service declares the same prefetch templates."""
    templates = prefetch_templates()
    return Discovery(
        services=[
            ServiceDescription(
                hook=s.hook,
                id=s.id,
                title=s.title,
                description=s.description,
                prefetch=templates,
                usageRequirements="Prefetch or FHIR access to the patient's medications,"
                " dispenses, conditions, lab observations, procedures, agreements and encounters.",
            )
            for s in SERVICES
        ]
    )


def _check_context(service: ServiceDef, request: CdsRequest) -> None:
    if request.hook != service.hook:
        raise ServiceError(400, f"hook {request.hook!r} does not match service {service.id!r}")
    context = request.context
    if service.hook in {"order-select", "order-sign"} and context.draft_orders is None:
        raise ServiceError(422, f"context.draftOrders is required for {service.hook}")
    if service.hook == "order-select" and context.selections is None:
        raise ServiceError(422, "context.selections is required for order-select")


@dataclass
class CdsHooksService:
    """Answers calls for the three services under one clinic policy.

    Attributes:
        policy: the clinic policy in force.
        terminology: the vendored terminology.
        store: where cards, feedback and snoozes live.
        timezone: the clinic's time zone (the as-of date is its local day).
        fhir_servers: FHIR bases we may fetch from (normalised, no trailing slash).
        deadline_seconds: budget for the fallback fetch.
        launch_url: the app's SMART launch URL for card links.
        clock: the current time (tests freeze it).
    """

    policy: ClinicPolicy
    terminology: Terminology
    store: FeedbackStore
    timezone: str
    fhir_servers: frozenset[str]
    deadline_seconds: float
    launch_url: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: Held by the HTTP edge while a call is parsed and evaluated; released while it waits on
    #: the FHIR server. A parsed prefetch is a large graph of Python objects: with dozens alive
    #: at once the garbage collector's full passes dominate (benchmarks/bench_cds.py, c=64).
    gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))

    def as_of(self, now: datetime) -> date:
        """The clinic's local day at `now`."""
        return now.astimezone(ZoneInfo(self.timezone)).date()

    async def call(self, service_id: str, request: CdsRequest) -> CdsResponse:
        """Answer one hook call; the caller holds `gate` (the HTTP edge does).

        Raises:
            ServiceError: unknown service (404), wrong hook (400), bad context (422), no
                prefetch and no FHIR access (412), prefetch for another patient (422).
        """
        started = time.monotonic()
        service = SERVICES_BY_ID.get(service_id)
        if service is None:
            raise ServiceError(404, f"no CDS service {service_id!r}")
        _check_context(service, request)
        drafts = read_drafts(request, self.terminology)
        if service.hook != "patient-view" and not any(
            cards.is_checked_order(t, self.policy) for t in drafts.targets
        ):
            # Most orders are neither opioids nor sedatives: nothing to check, no chart to read.
            return CdsResponse(cards=[])
        now = self.clock()
        as_of = self.as_of(now)
        patient_id = request.context.patient_id
        data = await self._patient_data(request, as_of)
        try:
            chart = chart_from_prefetch(data.prefetch, terminology=self.terminology)
        except ChartInputError as exc:
            raise ServiceError(422, f"prefetch: {exc}") from None
        if chart.patient is not None and chart.patient.ref != f"Patient/{patient_id}":
            raise ServiceError(422, "prefetch Patient is not context.patientId")
        ctx = build_context(
            chart, self.policy, as_of, drafts=drafts.records, terminology=self.terminology
        )
        findings = self._findings(ctx, service.hook)
        inputs = cards.CardInputs(
            ctx=ctx,
            findings=findings,
            targets=drafts.targets,
            patient_id=patient_id,
            user_id=request.context.user_id,
            override_reasons=tuple(override_reasons(self.policy, self.terminology)),
            launch_url=self.launch_url,
            gaps=(*data.gaps, *drafts.problems),
        )
        snoozed = await asyncio.to_thread(self.store.snoozed_rules, patient_id, now)
        built = self._cards(service, inputs, snoozed)
        await asyncio.to_thread(
            self.store.record_cards,
            [
                IssuedCard(
                    rc.card.uuid,
                    service.id,
                    rc.rule,
                    patient_id,
                    request.hook_instance,
                    rc.card.indicator,
                    now,
                )
                for rc in built
            ],
        )
        log.info(
            "cds call answered",
            extra={
                "service": service.id,
                "cards": len(built),
                "snoozed": len(snoozed),
                "gaps": len(inputs.gaps),
                "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return CdsResponse(cards=[rc.card for rc in built])

    def _cards(
        self, service: ServiceDef, inputs: cards.CardInputs, snoozed: frozenset[str]
    ) -> list[cards.RuleCard]:
        if service.hook == "patient-view":
            return [cards.cot_status_card(inputs)]
        built: list[cards.RuleCard] = []
        if not inputs.ctx.excluded:
            for builder in ORDER_CARD_BUILDERS:
                try:
                    card = builder(inputs)
                except Exception as exc:  # a card that fails must not silence the others
                    log.error(
                        "cds card failed",
                        extra={"card": builder.__name__, "error": type(exc).__name__},
                    )
                    continue
                if card is not None and card.rule not in snoozed:
                    built.append(card)
        relevant = any(cards.is_checked_order(t, self.policy) for t in inputs.targets)
        if not built and inputs.gaps and relevant:
            built.append(cards.data_incomplete_card(inputs))
        return built

    def _findings(self, ctx: RuleContext, hook: str) -> tuple[Finding, ...]:
        found: list[Finding] = []
        for rule in rules_for_hook(hook):
            try:
                found.extend(evaluate_context(ctx, [rule]))
            except Exception as exc:  # a failing rule is logged and skipped (issue 5)
                log.error("cds rule failed", extra={"rule": rule.id, "error": type(exc).__name__})
        return sort_findings(found)

    async def _patient_data(self, request: CdsRequest, as_of: date) -> PatientData:
        server = (request.fhir_server or "").rstrip("/")
        allowed = bool(server) and server in self.fhir_servers
        if server and not allowed:
            log.warning("cds fhirServer not allowlisted; not fetched")
        if not request.prefetch and not allowed:
            raise ServiceError(412, "no prefetch and no usable FHIR server access")
        if not allowed or not needs_fetch(request.prefetch):
            return await gather_patient_data(
                request.prefetch,
                patient_id=request.context.patient_id,
                as_of=as_of,
                client=None,
                deadline_seconds=self.deadline_seconds,
            )
        token = request.fhir_authorization.access_token if request.fhir_authorization else None
        self.gate.release()  # waiting on the network: let another call compute meanwhile
        try:
            async with fallback_client(server, token, self.deadline_seconds) as client:
                return await gather_patient_data(
                    request.prefetch,
                    patient_id=request.context.patient_id,
                    as_of=as_of,
                    client=client,
                    deadline_seconds=self.deadline_seconds,
                )
        finally:
            await self.gate.acquire()
