"""CDS card outcomes: which cards were shown, what the prescriber did, snoozes, alert analytics.

Alert fatigue is the top complaint about CDS (docs product "CDS Hooks service"), so every card
the service returns is recorded with the rule it came from, and every feedback item (CDS Hooks
2.0 "Feedback") is stored once: the same item sent twice is recognised by a key over card,
outcome, timestamp, reason and accepted suggestions (not the service it was posted to: the
card uuid already names one card, and feedback on a card another service issued is refused,
`WrongServiceError`). An override with a snooze reason suppresses
that rule for that patient until the snooze ends; the dashboard shows `active_snoozes`.

Three tables on `app.storage.db.METADATA` (SQLite and PostgreSQL alike; times are stored as
UTC-aware datetimes): `cds_cards`, `cds_feedback`, `cds_snoozes`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    insert,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.storage.db import METADATA

CARDS = Table(
    "cds_cards",
    METADATA,
    Column("uuid", String(64), primary_key=True),
    Column("service_id", String(64), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("patient_id", String(64), nullable=False),
    Column("hook_instance", String(64), nullable=False),
    Column("indicator", String(16), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False, index=True),
)

FEEDBACK = Table(
    "cds_feedback",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedup_key", String(64), nullable=False, unique=True),
    Column("card_uuid", String(128), nullable=False, index=True),
    Column("service_id", String(64), nullable=False),
    Column("rule", String(64), nullable=True),
    Column("patient_id", String(64), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("accepted_suggestions", Text, nullable=False),
    Column("reason_system", String(256), nullable=True),
    Column("reason_code", String(128), nullable=True),
    Column("reason_display", String(256), nullable=True),
    Column("user_comment", Text, nullable=True),
    Column("outcome_at", DateTime(timezone=True), nullable=False, index=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

SNOOZES = Table(
    "cds_snoozes",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patient_id", String(64), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
    Column("reason_code", String(128), nullable=False),
    Column("card_uuid", String(128), nullable=False),
    Index("ix_cds_snoozes_patient_until", "patient_id", "until"),
)


class WrongServiceError(ValueError):
    """Feedback posted to one service about a card another service issued."""


@dataclass(frozen=True, slots=True)
class IssuedCard:
    """A card as returned to the EHR: what its uuid stands for."""

    uuid: str
    service_id: str
    rule: str
    patient_id: str
    hook_instance: str
    indicator: str
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """One feedback item, attributed to its card when the card is known."""

    card_uuid: str
    service_id: str
    outcome: str
    outcome_at: datetime
    accepted_suggestions: tuple[str, ...] = ()
    reason_system: str | None = None
    reason_code: str | None = None
    reason_display: str | None = None
    user_comment: str | None = None

    def dedup_key(self) -> str:
        """Same card, outcome, time, reason and suggestions: the same item (any service)."""
        parts = [
            self.card_uuid,
            self.outcome,
            _utc(self.outcome_at).isoformat(),
            self.reason_system or "",
            self.reason_code or "",
            ",".join(sorted(self.accepted_suggestions)),
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Snooze:
    """A rule silenced for one patient until `until`."""

    patient_id: str
    rule: str
    starts_at: datetime
    until: datetime
    reason_code: str


@dataclass(slots=True)
class RuleStats:
    """Alert analytics of one rule over a date range."""

    rule: str
    fired: int = 0
    accepted: int = 0
    overridden: int = 0
    snoozed: int = 0
    override_reasons: dict[str, int] = field(default_factory=dict)


def _utc(moment: datetime) -> datetime:
    """Aware UTC (naive values are taken as UTC; SQLite returns naive datetimes)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _clip(column: Column[str], value: str | None) -> str | None:
    """``value`` cut to the column's length (SQLite ignores lengths, PostgreSQL refuses)."""
    length = getattr(column.type, "length", None)
    return value[:length] if value is not None and length else value


class FeedbackStore:
    """Cards issued, feedback, snoozes and the per-rule report, on one SQL engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record_cards(self, cards: Sequence[IssuedCard]) -> None:
        """Remember what each card uuid stands for (rule, patient, hookInstance)."""
        if not cards:
            return
        rows = [
            {
                "uuid": c.uuid,
                "service_id": c.service_id,
                "rule": c.rule,
                "patient_id": c.patient_id,
                "hook_instance": c.hook_instance,
                "indicator": c.indicator,
                "issued_at": _utc(c.issued_at),
            }
            for c in cards
        ]
        with self._engine.begin() as conn:
            conn.execute(insert(CARDS), rows)

    def card(self, uuid: str) -> IssuedCard | None:
        """The issued card with this uuid, if we issued it."""
        with self._engine.connect() as conn:
            row = conn.execute(select(CARDS).where(CARDS.c.uuid == uuid)).mappings().first()
        if row is None:
            return None
        return IssuedCard(**{**row, "issued_at": _utc(row["issued_at"])})

    def record_feedback(
        self, item: FeedbackRecord, *, snooze_days: int | None = None
    ) -> tuple[bool, IssuedCard | None]:
        """Store one feedback item once; add a snooze when `snooze_days` is given.

        A snooze needs the card to be ours (its rule and patient); an unknown card is stored
        for the record but snoozes nothing.

        Returns:
            (True when the item was new, the card it refers to or None).

        Raises:
            WrongServiceError: the card was issued by another service than `item.service_id`.
        """
        card = self.card(item.card_uuid)
        if card is not None and card.service_id != item.service_id:
            raise WrongServiceError(f"card was issued by service {card.service_id!r}")
        outcome_at = _utc(item.outcome_at)
        row = {
            "dedup_key": item.dedup_key(),
            "card_uuid": item.card_uuid,
            "service_id": item.service_id,
            "rule": card.rule if card else None,
            "patient_id": card.patient_id if card else None,
            "outcome": item.outcome,
            "accepted_suggestions": json.dumps(list(item.accepted_suggestions)),
            # Reason codings come from the EHR unbounded; PostgreSQL enforces column lengths.
            "reason_system": _clip(FEEDBACK.c.reason_system, item.reason_system),
            "reason_code": _clip(FEEDBACK.c.reason_code, item.reason_code),
            "reason_display": _clip(FEEDBACK.c.reason_display, item.reason_display),
            "user_comment": item.user_comment,
            "outcome_at": outcome_at,
            "received_at": datetime.now(UTC),
        }
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(FEEDBACK), [row])
                if snooze_days and card is not None:
                    conn.execute(
                        insert(SNOOZES),
                        [
                            {
                                "patient_id": card.patient_id,
                                "rule": card.rule,
                                "starts_at": outcome_at,
                                "until": outcome_at + timedelta(days=snooze_days),
                                "reason_code": row["reason_code"] or "snooze",
                                "card_uuid": item.card_uuid,
                            }
                        ],
                    )
        except IntegrityError:
            return False, card
        return True, card

    def active_snoozes(self, patient_id: str, now: datetime) -> list[Snooze]:
        """Snoozes in force for a patient at `now`, latest end first (for the dashboard)."""
        moment = _utc(now)
        query = (
            select(SNOOZES)
            .where(
                and_(
                    SNOOZES.c.patient_id == patient_id,
                    SNOOZES.c.until > moment,
                    SNOOZES.c.starts_at <= moment,
                )
            )
            .order_by(SNOOZES.c.until.desc())
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            Snooze(
                r["patient_id"], r["rule"], _utc(r["starts_at"]), _utc(r["until"]), r["reason_code"]
            )
            for r in rows
        ]

    def snoozed_rules(self, patient_id: str, now: datetime) -> frozenset[str]:
        """Rules silenced for this patient at `now`."""
        return frozenset(s.rule for s in self.active_snoozes(patient_id, now))

    def report(self, start: datetime, end: datetime) -> list[RuleStats]:
        """Per rule: cards fired, accepted, overridden (by reason) and snoozed in [start, end)."""
        lo, hi = _utc(start), _utc(end)
        stats: dict[str, RuleStats] = {}
        reasons: dict[str, Counter[str]] = defaultdict(Counter)

        def of(rule: str) -> RuleStats:
            return stats.setdefault(rule, RuleStats(rule))

        with self._engine.connect() as conn:
            fired = conn.execute(
                select(CARDS.c.rule).where(CARDS.c.issued_at >= lo, CARDS.c.issued_at < hi)
            ).all()
            outcomes = conn.execute(
                select(FEEDBACK.c.rule, FEEDBACK.c.outcome, FEEDBACK.c.reason_code).where(
                    FEEDBACK.c.outcome_at >= lo, FEEDBACK.c.outcome_at < hi
                )
            ).all()
            snoozes = conn.execute(
                select(SNOOZES.c.rule).where(SNOOZES.c.starts_at >= lo, SNOOZES.c.starts_at < hi)
            ).all()
        for (rule,) in fired:
            of(rule).fired += 1
        for rule, outcome, reason in outcomes:
            entry = of(rule or "unknown-card")
            if outcome == "accepted":
                entry.accepted += 1
            else:
                entry.overridden += 1
                reasons[entry.rule][reason or "no reason given"] += 1
        for (rule,) in snoozes:
            of(rule).snoozed += 1
        for rule, counter in reasons.items():
            stats[rule].override_reasons = dict(counter.most_common())
        return sorted(stats.values(), key=lambda s: s.rule)
