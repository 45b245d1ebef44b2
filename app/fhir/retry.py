"""When and how long to wait before retrying a FHIR request.

Retries only what can pass on its own: 429 (throttled, RFC 6585) and 502/503/504, plus timeouts
and refused connections; docs standards section 4 ("honour Retry-After", "bounded GET
retries"). Backoff doubles per attempt with jitter (50-100 %), as in the AWS "exponential
backoff and jitter" note; Retry-After (RFC 9110 section 10.2.3) wins when the server sends it.
Every wait is bounded by a count and a total time budget.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: Statuses worth another try (throttled, bad gateway, unavailable, gateway timeout).
RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounds for retrying one request.

    Attributes:
        max_retries: Further attempts after the first (0 disables retries).
        max_retry_seconds: Time budget for one request, waits included; a wait that would end
            past it is not started.
        backoff_base_seconds: First backoff; doubles per attempt, with jitter (50-100 %).
        backoff_max_seconds: Cap of one backoff wait (Retry-After is honoured up to the budget).
    """

    max_retries: int = 3
    max_retry_seconds: float = 30.0
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 8.0


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110 section 10.2.3).

    Args:
        value: Header value: delay-seconds or an HTTP-date; None when absent.
        now: Current time (aware), to turn an HTTP-date into a delay.

    Returns:
        Seconds to wait (0 for a date in the past), or None when absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def retry_delay(
    policy: RetryPolicy,
    attempt: int,
    elapsed_seconds: float,
    retry_after_seconds: float | None,
    rng: random.Random,
) -> float | None:
    """Seconds to wait before the next attempt, or None to give up.

    Args:
        policy: The bounds.
        attempt: Retries already made (0 before the first retry).
        elapsed_seconds: Time spent on this request so far, waits included.
        retry_after_seconds: The server's Retry-After, when it sent one.
        rng: Random source for the jitter.

    Returns:
        The wait, or None when the retry count is used up or the wait would end past the
        time budget.
    """
    if attempt >= policy.max_retries:
        return None
    if retry_after_seconds is not None:
        delay = retry_after_seconds
    else:
        backoff = policy.backoff_base_seconds * (2**attempt)
        delay = min(policy.backoff_max_seconds, backoff) * rng.uniform(0.5, 1.0)
    if delay > policy.max_retry_seconds - elapsed_seconds:
        return None
    return delay
