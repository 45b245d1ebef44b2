"""`POST /cds-services/{id}/feedback`: store each outcome once; snooze on a snooze reason.

CDS Hooks 2.0 "Feedback": `{"feedback": [{card, outcome, acceptedSuggestions, overrideReason,
outcomeTimestamp}]}`. The same item may be sent again (a retry, a second EHR session), so storage
is idempotent (`FeedbackStore.record_feedback`). An `overridden` outcome whose reason is a snooze
code (the IG's `snooze-*` codes, or ours for other policy lengths) silences the card's rule for
that patient for that length, at most the policy's longest; the card uuid tells us which rule
and patient (recorded when the card was issued). Feedback about a card issued by another
service is refused (400) before anything of the call is stored.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from app.clinical.policy import ClinicPolicy
from app.storage.feedback import FeedbackRecord, FeedbackStore, WrongServiceError
from cds_hooks.errors import ServiceError
from cds_hooks.models import FeedbackItem, FeedbackRequest
from cds_hooks.services import SERVICES_BY_ID
from cds_hooks.suggestions import snooze_days

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    stored: int
    duplicates: int
    snoozes: int


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 instant ("Z" or an offset); a naive time is taken as UTC.

    Raises:
        ServiceError: 422 when it is not a date-time.
    """
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ServiceError(422, "feedback outcomeTimestamp is not an ISO 8601 instant") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_record(service_id: str, item: FeedbackItem) -> FeedbackRecord:
    """One feedback item as a store record."""
    reason = item.override_reason.reason if item.override_reason else None
    return FeedbackRecord(
        card_uuid=item.card,
        service_id=service_id,
        outcome=item.outcome,
        outcome_at=parse_timestamp(item.outcome_timestamp),
        accepted_suggestions=tuple(s.id for s in item.accepted_suggestions or ()),
        reason_system=reason.system if reason else None,
        reason_code=reason.code if reason else None,
        reason_display=reason.display if reason else None,
        user_comment=item.override_reason.user_comment if item.override_reason else None,
    )


async def store_feedback(
    service_id: str, request: FeedbackRequest, *, store: FeedbackStore, policy: ClinicPolicy
) -> FeedbackResult:
    """Store every item of one feedback call; snooze where the reason says so.

    Raises:
        ServiceError: 404 for an unknown service, 422 for a bad timestamp, 400 for a card
            issued by another service.
    """
    if service_id not in SERVICES_BY_ID:
        raise ServiceError(404, f"no CDS service {service_id!r}")
    records = [to_record(service_id, item) for item in request.feedback]
    for record in records:
        card = await asyncio.to_thread(store.card, record.card_uuid)
        if card is not None and card.service_id != service_id:
            raise ServiceError(400, f"card {record.card_uuid} was issued by another service")
    stored = duplicates = snoozes = 0
    for record in records:
        days = snooze_days(record.reason_code, policy) if record.outcome == "overridden" else None
        try:
            new, card = await asyncio.to_thread(store.record_feedback, record, snooze_days=days)
        except WrongServiceError:  # the card changed hands meanwhile: cannot happen, but say so
            raise ServiceError(
                400, f"card {record.card_uuid} was issued by another service"
            ) from None
        if new:
            stored += 1
            snoozes += int(days is not None and card is not None)
        else:
            duplicates += 1
    log.info(
        "cds feedback stored",
        extra={
            "service": service_id,
            "stored": stored,
            "duplicates": duplicates,
            "snoozes": snoozes,
        },
    )
    return FeedbackResult(stored, duplicates, snoozes)
