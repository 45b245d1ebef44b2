"""The authorization request of an EHR or standalone launch, and the launch it leaves pending.

Follows SMART App Launch 2.2 app-launch "Obtain authorization code": ``response_type=code``,
``client_id``, ``redirect_uri``, ``scope``, ``state``, ``aud`` (the FHIR base, equal to ``iss``),
PKCE ``code_challenge`` with ``code_challenge_method=S256`` (never ``plain``), ``launch`` for an EHR
launch, and a ``nonce`` when ``openid`` is requested. A standalone launch asks for
``launch/patient`` instead of sending ``launch``.

``openid fhirUser`` is requested only when the discovered configuration names both an ``issuer``
and a ``jwks_uri``: without them an id_token cannot be validated (OIDC Core 3.1.3.7), so asking
for one would only make the callback fail. A server found through the CapabilityStatement
fallback (SMART 1.0 ``oauth-uris``, which carries neither) is therefore launched without identity,
and the launch has no ``fhirUser`` unless the token response names one.

The secrets of one launch (state, PKCE verifier, nonce) travel in a :class:`PendingLaunch` that the
web layer keeps server-side until the callback (see ``callback``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import urlencode

from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from smart_launch._clock import require_aware
from smart_launch.allowlist import IssuerConfig
from smart_launch.discovery import SmartConfiguration
from smart_launch.errors import AuthorizationError, SmartLaunchError
from smart_launch.scopes import DEFAULT_RESOURCE_TYPES, resource_scopes

__all__ = [
    "SECRET_LENGTH",
    "AuthorizationRequest",
    "PendingLaunch",
    "build_authorization_request",
    "launch_scope",
    "new_secret",
]

SECRET_LENGTH = 43
"""Characters per state, nonce and verifier: 43 from 62 symbols is about 256 bits (>= 122)."""

MAX_GET_URL_LENGTH = 2000
"""Above this, and when the server offers ``authorize-post``, the web layer should POST."""


def new_secret() -> str:
    """An unpredictable URL-safe string of :data:`SECRET_LENGTH` characters (authlib)."""
    return str(generate_token(SECRET_LENGTH))


@dataclass(frozen=True, slots=True)
class PendingLaunch:
    """Everything the callback needs, stored server-side under ``state`` until it is used.

    Attributes:
        state: The ``state`` sent to the authorization server.
        code_verifier: The PKCE verifier; its S256 challenge went out in the request.
        nonce: The OIDC nonce, when ``openid`` was requested.
        iss: The FHIR base (taken from here after the callback, never from the callback).
        issuer: The allowlist entry.
        configuration: The discovered configuration (endpoints and issuer).
        scope: The scope string requested.
        launch: The EHR ``launch`` value, or None for a standalone launch.
        created_at: When the request was built (timezone-aware).
    """

    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    nonce: str | None = field(repr=False)
    iss: str
    issuer: IssuerConfig
    configuration: SmartConfiguration
    scope: str
    launch: str | None = field(repr=False)
    created_at: datetime

    @property
    def redirect_uri(self) -> str:
        """The registered redirect URI used in the request (sent again at the token endpoint)."""
        return self.issuer.redirect_uri or ""


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """The request to send the browser to, and the launch to remember.

    Attributes:
        endpoint: The authorization endpoint.
        params: The query (GET) or form (POST) parameters.
        pending: Store this server-side under ``pending.state``.
    """

    endpoint: str
    params: Mapping[str, str] = field(repr=False)
    pending: PendingLaunch

    @property
    def url(self) -> str:
        """The GET URL (contains state; never log it)."""
        separator = "&" if "?" in self.endpoint else "?"
        return f"{self.endpoint}{separator}{urlencode(self.params)}"

    @property
    def method(self) -> Literal["GET", "POST"]:
        """POST when the URL is long and the server offers ``authorize-post``, else GET."""
        long_url = len(self.url) > MAX_GET_URL_LENGTH
        return (
            "POST" if long_url and self.pending.configuration.supports("authorize-post") else "GET"
        )


def launch_scope(
    issuer: IssuerConfig,
    configuration: SmartConfiguration,
    *,
    ehr_launch: bool,
    openid: bool = True,
) -> str:
    """The scope string for a launch (SAL 2.2 scopes "Quick Start").

    Resource scopes come from the allowlist entry, else :data:`DEFAULT_RESOURCE_TYPES` as read
    scopes in the server's syntax. Then ``launch`` (EHR) or ``launch/patient`` (standalone),
    ``openid fhirUser`` (only when the server publishes an ``issuer`` and a ``jwks_uri``, so the
    id_token can be validated) and ``offline_access`` when configured.

    Args:
        issuer: The allowlist entry.
        configuration: The discovered configuration (its capabilities pick v1 or v2).
        ehr_launch: True for an EHR launch.
        openid: Ask for identity (``openid fhirUser``) when the server makes it verifiable.

    Returns:
        The space-separated scope string.
    """
    version = configuration.scope_version(issuer.scope_version)
    scopes = list(issuer.scopes or resource_scopes(DEFAULT_RESOURCE_TYPES, version=version))
    scopes.append("launch" if ehr_launch else "launch/patient")
    if openid and configuration.issuer and configuration.jwks_uri:
        scopes += ["openid", "fhirUser"]
    if issuer.offline_access:
        scopes.append("offline_access")
    return " ".join(dict.fromkeys(scopes))


def build_authorization_request(
    issuer: IssuerConfig,
    configuration: SmartConfiguration,
    *,
    now: datetime,
    launch: str | None = None,
    scope: str | None = None,
    aud: str | None = None,
) -> AuthorizationRequest:
    """Build the authorization request for an EHR launch (``launch`` given) or a standalone one.

    Args:
        issuer: The allowlist entry of the FHIR server.
        configuration: Its discovered configuration.
        now: The current time, timezone-aware.
        launch: The EHR ``launch`` parameter; None for a standalone launch.
        scope: Override the scope string; defaults to :func:`launch_scope`.
        aud: The ``iss`` exactly as the EHR sent it, once it passed the allowlist; SAL wants
            ``aud`` to equal it, and some servers compare without normalising. Defaults to the
            registered base.

    Returns:
        The request and the PendingLaunch to store.

    Raises:
        SmartLaunchError: The server is open (no authorization) or the entry has no client id
            or redirect URI.
        AuthorizationError: ``launch`` is given but empty.
        ValueError: ``now`` is naive.
    """
    require_aware(now)
    if configuration.is_open or configuration.authorization_endpoint is None:
        raise SmartLaunchError(f"{issuer.iss} runs without authorization; there is nothing to ask")
    if not issuer.client_id or not issuer.redirect_uri:
        raise SmartLaunchError(f"{issuer.iss} has no client_id or redirect_uri registered")
    if launch is not None and not launch:
        raise AuthorizationError("an EHR launch needs a non-empty launch parameter")
    scope = scope or launch_scope(issuer, configuration, ehr_launch=launch is not None)
    state = new_secret()
    verifier = new_secret()
    nonce = new_secret() if "openid" in scope.split() else None
    params = {
        "response_type": "code",
        "client_id": issuer.client_id,
        "redirect_uri": issuer.redirect_uri,
        "scope": scope,
        "state": state,
        "aud": aud or issuer.iss,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if launch is not None:
        params["launch"] = launch
    if nonce is not None:
        params["nonce"] = nonce
    pending = PendingLaunch(
        state=state,
        code_verifier=verifier,
        nonce=nonce,
        iss=issuer.iss,
        issuer=issuer,
        configuration=configuration,
        scope=scope,
        launch=launch,
        created_at=now,
    )
    return AuthorizationRequest(
        endpoint=configuration.authorization_endpoint, params=params, pending=pending
    )
