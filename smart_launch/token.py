"""Token endpoint: exchange the code, refresh, and read the response.

Follows SMART App Launch 2.2 app-launch "Obtain access token" (step 5, with the launch context
parameters) and "Refresh access token" (a new refresh token replaces the old one). How the client
authenticates itself is in ``client_auth``.

Requests go through the caller's ``httpx.AsyncClient`` (so tests intercept them with respx);
response parsing is pure (:func:`parse_token_response`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from smart_launch._clock import require_aware
from smart_launch.allowlist import IssuerConfig
from smart_launch.callback import CallbackResult
from smart_launch.client_auth import client_authentication
from smart_launch.discovery import SmartConfiguration
from smart_launch.errors import SmartLaunchError, TokenError
from smart_launch.keys import KeyRing
from smart_launch.scopes import GrantedScopes, parse_scopes

__all__ = [
    "TokenResponse",
    "exchange_code",
    "parse_token_response",
    "refresh_access_token",
    "request_token",
]

DEFAULT_REFRESH_MARGIN = timedelta(seconds=60)
BEARER = "Bearer"


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A successful token response (SAL 2.2 app-launch step 5).

    Tokens and patient, encounter and user ids are left out of ``repr``, so logging one leaks
    neither credentials nor PHI.

    Attributes:
        access_token: The bearer token.
        token_type: Always ``Bearer`` (the server's value is compared without regard to case).
        expires_at: Absolute expiry from ``expires_in``, or None when the server sent none.
        scope: The granted scope string (the requested one when the server omitted it).
        refresh_token: The refresh token, if any.
        id_token: The raw OIDC id_token, if any (validate it with ``idtoken``).
        patient: Launch context ``patient`` id.
        encounter: Launch context ``encounter`` id.
        fhir_user: ``fhirUser`` when the server puts it in the token response.
        need_patient_banner: False only when the server says the EHR already shows one.
        smart_style_url: The EHR style document URL.
        intent: The launch ``intent``; unknown values should give the default view.
        tenant: The EHR ``tenant``.
        fhir_context: ``fhirContext`` objects (``reference``, ``canonical``, ``identifier``,
            ``type``, ``role``); SAL 2.0 string references become ``{"reference": ...}``.
    """

    access_token: str = field(repr=False)
    token_type: str = BEARER
    expires_at: datetime | None = None
    scope: str = ""
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    patient: str | None = field(default=None, repr=False)
    encounter: str | None = field(default=None, repr=False)
    fhir_user: str | None = field(default=None, repr=False)
    need_patient_banner: bool = True
    smart_style_url: str | None = None
    intent: str | None = None
    tenant: str | None = None
    fhir_context: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)

    @property
    def granted_scopes(self) -> GrantedScopes:
        """The granted scopes, parsed; switch features on from these."""
        return parse_scopes(self.scope)

    def needs_refresh(self, now: datetime, *, margin: timedelta = DEFAULT_REFRESH_MARGIN) -> bool:
        """True when the token expires within ``margin`` of ``now``.

        A token without a known expiry is used until the server answers 401.
        """
        require_aware(now)
        return self.expires_at is not None and now >= self.expires_at - margin


def _optional_str(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def _expires_at(value: object, now: datetime) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    return now + timedelta(seconds=max(float(value), 0.0))


def _fhir_context(value: object) -> tuple[Mapping[str, Any], ...]:
    items = value if isinstance(value, list) else []
    context: list[Mapping[str, Any]] = []
    for item in items:
        if isinstance(item, Mapping):
            context.append(dict(item))
        elif isinstance(item, str):
            context.append({"reference": item})
    return tuple(context)


def parse_token_response(
    data: object, *, now: datetime, requested_scope: str | None = None
) -> TokenResponse:
    """Read a token response body.

    Args:
        data: The decoded JSON.
        now: When the response arrived (timezone-aware); ``expires_in`` counts from here.
        requested_scope: The scope asked for; used when the server omits ``scope`` (RFC 6749
            section 5.1 allows that when it granted exactly what was asked).

    Returns:
        The parsed response.

    Raises:
        TokenError: No ``access_token`` or a ``token_type`` other than Bearer.
    """
    require_aware(now)
    if not isinstance(data, Mapping):
        raise TokenError("the token response is not a JSON object")
    access_token = data.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenError("the token response has no access_token")
    token_type = data.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenError("the token response is not a Bearer token")
    scope = data.get("scope")
    return TokenResponse(
        access_token=access_token,
        token_type=BEARER,
        expires_at=_expires_at(data.get("expires_in"), now),
        scope=scope if isinstance(scope, str) else (requested_scope or ""),
        refresh_token=_optional_str(data, "refresh_token"),
        id_token=_optional_str(data, "id_token"),
        patient=_optional_str(data, "patient"),
        encounter=_optional_str(data, "encounter"),
        fhir_user=_optional_str(data, "fhirUser"),
        need_patient_banner=data.get("need_patient_banner") is not False,
        smart_style_url=_optional_str(data, "smart_style_url"),
        intent=_optional_str(data, "intent"),
        tenant=_optional_str(data, "tenant"),
        fhir_context=_fhir_context(data.get("fhirContext")),
    )


async def request_token(
    client: httpx.AsyncClient,
    token_url: str,
    form: Mapping[str, str],
    *,
    headers: Mapping[str, str] | None = None,
) -> object:
    """POST a form to the token endpoint and return the decoded JSON of a 200 answer.

    Args:
        client: Our HTTP client.
        token_url: The token endpoint.
        form: Form fields (``application/x-www-form-urlencoded``).
        headers: Extra headers (client authentication).

    Returns:
        The decoded JSON body.

    Raises:
        TokenError: Transport failure, a non-200 answer (with the server's error and
            error_description), or a body that is not JSON.
    """
    request_headers = {"Accept": "application/json", **(headers or {})}
    try:
        response = await client.post(token_url, data=dict(form), headers=request_headers)
    except httpx.HTTPError as exc:
        raise TokenError(f"the token endpoint could not be reached ({type(exc).__name__})") from exc
    try:
        body: object = response.json()
    except ValueError:
        body = None
    if response.status_code != httpx.codes.OK:
        raise TokenError.from_response(response.status_code, body)
    if body is None:
        raise TokenError("the token endpoint answered with something that is not JSON")
    return body


def _token_url(configuration: SmartConfiguration) -> str:
    if configuration.token_endpoint is None:
        raise SmartLaunchError(f"{configuration.iss} has no token endpoint")
    return configuration.token_endpoint


async def exchange_code(
    client: httpx.AsyncClient,
    callback: CallbackResult,
    *,
    now: datetime,
    keys: KeyRing | None = None,
) -> TokenResponse:
    """Exchange an authorization code for tokens (``grant_type=authorization_code`` with PKCE).

    Args:
        client: Our HTTP client.
        callback: The accepted callback from ``check_callback``.
        now: Current time, timezone-aware.
        keys: Our signing keys, for ``private_key_jwt``.

    Returns:
        The token response; ``expires_at`` counts from ``now``.

    Raises:
        TokenError: The server refused or answered unusably.
    """
    pending = callback.pending
    token_url = _token_url(pending.configuration)
    auth_form, auth_headers = client_authentication(pending.issuer, token_url, now=now, keys=keys)
    form = {
        "grant_type": "authorization_code",
        "code": callback.code,
        "redirect_uri": pending.redirect_uri,
        "code_verifier": pending.code_verifier,
        **auth_form,
    }
    body = await request_token(client, token_url, form, headers=auth_headers)
    return parse_token_response(body, now=now, requested_scope=pending.scope)


async def refresh_access_token(
    client: httpx.AsyncClient,
    token: TokenResponse,
    *,
    issuer: IssuerConfig,
    configuration: SmartConfiguration,
    now: datetime,
    keys: KeyRing | None = None,
    scope: str | None = None,
) -> TokenResponse:
    """Refresh an access token (``grant_type=refresh_token``).

    A new refresh token in the answer replaces the old one. Launch context the answer leaves out
    (patient, encounter, banner, style ...) is carried over from ``token``.

    Args:
        client: Our HTTP client.
        token: The current token response; must have a refresh token.
        issuer: The allowlist entry.
        configuration: The discovered configuration.
        now: Current time, timezone-aware.
        keys: Our signing keys, for ``private_key_jwt``.
        scope: A subset of the granted scope to ask for; None asks for the same.

    Returns:
        The new token response.

    Raises:
        TokenError: No refresh token, or the server refused (the user must launch again).
    """
    if not token.refresh_token:
        raise TokenError("there is no refresh token; launch the app again")
    token_url = _token_url(configuration)
    auth_form, auth_headers = client_authentication(issuer, token_url, now=now, keys=keys)
    form = {"grant_type": "refresh_token", "refresh_token": token.refresh_token, **auth_form}
    if scope is not None:
        form["scope"] = scope
    body = await request_token(client, token_url, form, headers=auth_headers)
    fresh = parse_token_response(body, now=now, requested_scope=scope or token.scope)
    raw: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    return replace(
        fresh,
        refresh_token=fresh.refresh_token or token.refresh_token,
        id_token=fresh.id_token or token.id_token,
        patient=fresh.patient or token.patient,
        encounter=fresh.encounter or token.encounter,
        fhir_user=fresh.fhir_user or token.fhir_user,
        need_patient_banner=(
            fresh.need_patient_banner if "need_patient_banner" in raw else token.need_patient_banner
        ),
        smart_style_url=fresh.smart_style_url or token.smart_style_url,
        intent=fresh.intent or token.intent,
        tenant=fresh.tenant or token.tenant,
        fhir_context=fresh.fhir_context or token.fhir_context,
    )
