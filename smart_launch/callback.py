"""The authorization callback: find the pending launch by ``state``, burn it, check the answer.

Follows SMART App Launch 2.2 app-launch "Obtain authorization code" (``state`` checked and used
once; ``error`` reported) and RFC 9207: an ``iss`` on the callback names the authorization server,
so it is compared to the discovered ``issuer``, never taken as the FHIR base (HL7/smart-app-launch
PR #419). The FHIR base comes from the stored launch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from smart_launch._clock import require_aware
from smart_launch.authorize import PendingLaunch
from smart_launch.errors import AuthorizationError

__all__ = [
    "CallbackResult",
    "InMemoryPendingLaunches",
    "PendingLaunchStore",
    "check_callback",
]


class PendingLaunchStore(Protocol):
    """Server-side storage of pending launches; ``pop`` must remove what it returns."""

    def save(self, pending: PendingLaunch) -> None:
        """Keep ``pending`` under its state."""

    def pop(self, state: str) -> PendingLaunch | None:
        """Remove and return the launch stored under ``state``, or None."""


class InMemoryPendingLaunches:
    """A PendingLaunchStore for one process (tests and single-worker development)."""

    def __init__(self) -> None:
        """Start empty."""
        self._by_state: dict[str, PendingLaunch] = {}

    def save(self, pending: PendingLaunch) -> None:
        """Keep ``pending`` under its state."""
        self._by_state[pending.state] = pending

    def pop(self, state: str) -> PendingLaunch | None:
        """Remove and return the launch stored under ``state``, or None."""
        return self._by_state.pop(state, None)

    def __len__(self) -> int:
        return len(self._by_state)


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """An accepted callback: the code to exchange and the launch it belongs to."""

    code: str = field(repr=False)
    pending: PendingLaunch


def _single(params: Mapping[str, str | Sequence[str]], name: str) -> str | None:
    value = params.get(name)
    if value is None or isinstance(value, str):
        return value
    if len(value) != 1:
        raise AuthorizationError(f"the callback carries {name} more than once")
    return value[0]


def check_callback(
    params: Mapping[str, str | Sequence[str]],
    store: PendingLaunchStore,
    *,
    now: datetime,
    max_age: timedelta = timedelta(minutes=10),
) -> CallbackResult:
    """Check an authorization callback and burn its state.

    The state is looked up first, so an ``error`` from a forged callback is never shown as if the
    server had sent it. The stored launch is removed whatever the outcome.

    Args:
        params: The callback query parameters (single values or lists).
        store: Where pending launches are kept.
        now: The current time, timezone-aware.
        max_age: How long a pending launch stays valid.

    Returns:
        The code and the pending launch it belongs to.

    Raises:
        AuthorizationError: Missing or unknown state, expired launch, an ``error`` from the
            server, an ``iss`` that is not the discovered issuer, or no code.
    """
    require_aware(now)
    state = _single(params, "state")
    if not state:
        raise AuthorizationError("the callback has no state; start the launch again")
    pending = store.pop(state)
    if pending is None:
        raise AuthorizationError("the callback state is unknown or was already used")
    if now - pending.created_at > max_age:
        raise AuthorizationError("the launch took too long; start it again")
    error = _single(params, "error")
    if error:
        description = _single(params, "error_description")
        message = f"the authorization server refused: {error}"
        raise AuthorizationError(
            f"{message}: {description}" if description else message,
            error=error,
            error_description=description,
        )
    callback_iss = _single(params, "iss")
    expected_iss = pending.configuration.issuer
    if callback_iss is not None:
        # RFC 9207: this is the authorization server's issuer, not the FHIR base.
        if callback_iss != (expected_iss or pending.iss):
            raise AuthorizationError("the callback iss is not the issuer we were sent to")
    elif pending.configuration.authorization_response_iss_parameter_supported:
        raise AuthorizationError("the callback has no iss although the server promises one")
    code = _single(params, "code")
    if not code:
        raise AuthorizationError("the callback has no authorization code")
    return CallbackResult(code=code, pending=pending)
