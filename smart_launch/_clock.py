"""The one time rule of this package: every ``now`` is timezone-aware."""

from __future__ import annotations

from datetime import datetime


def require_aware(now: datetime) -> None:
    """Refuse a naive datetime, which would silently mean the server's local time.

    Raises:
        ValueError: ``now`` has no timezone.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
