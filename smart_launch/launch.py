"""The launch entry point: allowlist first, then discovery, then the authorization request.

SMART App Launch 2.2 app-launch "Launch App: EHR Launch" and "Standalone Launch". The order is the
point of this module: the untrusted ``iss`` is looked up in the allowlist before any outbound
request (HL7/smart-app-launch#230), so an unknown server is never fetched and never sees our
credentials. An EHR launch needs both ``iss`` and ``launch``; a standalone launch starts from a
server the user picked and asks for ``launch/patient``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx

from smart_launch.allowlist import IssuerConfig, IssuerRegistry
from smart_launch.authorize import AuthorizationRequest, build_authorization_request
from smart_launch.discovery import DiscoveryCache, SmartConfiguration, discover
from smart_launch.errors import AuthorizationError, IssuerNotAllowed

__all__ = ["LaunchPlan", "begin_launch"]


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    """What to do next for a launch.

    Attributes:
        issuer: The allowlist entry.
        configuration: The discovered configuration.
        request: Where to send the browser; None for an open server, which needs no
            authorization (the app then reads the FHIR base directly).
    """

    issuer: IssuerConfig
    configuration: SmartConfiguration
    request: AuthorizationRequest | None


async def begin_launch(
    client: httpx.AsyncClient,
    registry: IssuerRegistry,
    iss: str | None,
    *,
    launch: str | None,
    now: datetime,
    ehr_launch: bool = True,
    cache: DiscoveryCache | None = None,
) -> LaunchPlan:
    """Start an EHR launch (``ehr_launch=True``) or a standalone launch.

    Args:
        client: Our HTTP client.
        registry: The allowlist.
        iss: The ``iss`` query parameter (EHR) or the base the user picked (standalone).
        launch: The ``launch`` query parameter; required for an EHR launch, ignored otherwise.
        now: Current time, timezone-aware.
        ehr_launch: False for a standalone launch.
        cache: Discovery cache shared between launches.

    Returns:
        The plan; store ``plan.request.pending`` server-side before redirecting.

    Raises:
        IssuerNotAllowed: ``iss`` is missing, malformed or not registered; nothing was fetched.
        AuthorizationError: An EHR launch without ``launch``.
        DiscoveryError: The server's configuration could not be used.
    """
    if not iss:
        raise IssuerNotAllowed("the launch has no iss parameter")
    issuer = registry.lookup(iss)
    if ehr_launch and not launch:
        raise AuthorizationError("an EHR launch needs both iss and launch")
    configuration = await discover(client, issuer, cache=cache)
    if configuration.is_open:
        return LaunchPlan(issuer=issuer, configuration=configuration, request=None)
    request = build_authorization_request(
        issuer,
        configuration,
        now=now,
        launch=launch if ehr_launch else None,
        aud=iss.strip() if ehr_launch else None,
    )
    return LaunchPlan(issuer=issuer, configuration=configuration, request=request)
