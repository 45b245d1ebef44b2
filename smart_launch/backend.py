"""SMART Backend Services: system-level access tokens for the clinic console.

Follows SMART App Launch 2.2 backend-services: ``grant_type=client_credentials`` with
``system/...`` scopes and a ``client_assertion`` signed as in client-confidential-asymmetric.
Tokens are short-lived and come without a refresh token, so a new assertion is signed for every
token; the token is reused until shortly before it expires. An ``asyncio.Lock`` makes concurrent
callers share one token request instead of each fetching their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from smart_launch.allowlist import IssuerConfig
from smart_launch.client_auth import CLIENT_ASSERTION_TYPE, client_assertion
from smart_launch.discovery import SmartConfiguration
from smart_launch.errors import SmartLaunchError
from smart_launch.keys import KeyRing
from smart_launch.scopes import SYSTEM_RESOURCE_TYPES, resource_scopes
from smart_launch.token import TokenResponse, parse_token_response, request_token

__all__ = ["BackendServicesClient", "backend_scope"]

DEFAULT_MARGIN = timedelta(seconds=30)
UNKNOWN_EXPIRY_LIFETIME = timedelta(seconds=120)
"""Reuse a token without ``expires_in`` this long; well under the recommended 300 s maximum."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def backend_scope(issuer: IssuerConfig, configuration: SmartConfiguration) -> str:
    """The system scopes to request: the entry's, else read access to the console's types."""
    if issuer.scopes:
        return " ".join(issuer.scopes)
    version = configuration.scope_version(issuer.scope_version)
    return " ".join(resource_scopes(SYSTEM_RESOURCE_TYPES, context="system", version=version))


class BackendServicesClient:
    """Hands out a valid system access token, fetching a new one only when needed."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        issuer: IssuerConfig,
        configuration: SmartConfiguration,
        keys: KeyRing,
        *,
        scope: str | None = None,
        margin: timedelta = DEFAULT_MARGIN,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """Set up the client for one allowlisted server.

        Args:
            client: Our HTTP client.
            issuer: The allowlist entry; must use ``private_key_jwt``.
            configuration: The discovered configuration (token endpoint).
            keys: Our signing keys; ``issuer.key_id`` must be among them.
            scope: Override the scope string; defaults to :func:`backend_scope`.
            margin: Fetch a new token this long before the current one expires.
            clock: Timezone-aware current time; tests pass a fake.

        Raises:
            SmartLaunchError: The entry does not use ``private_key_jwt``, its key is missing, or
                the server has no token endpoint.
        """
        if issuer.auth_method != "private_key_jwt" or not issuer.client_id or not issuer.key_id:
            raise SmartLaunchError(f"{issuer.iss}: Backend Services needs private_key_jwt")
        if configuration.token_endpoint is None:
            raise SmartLaunchError(f"{issuer.iss} has no token endpoint")
        self._client = client
        self._client_id = issuer.client_id
        self._token_url = configuration.token_endpoint
        self._signing_key = keys.get(issuer.key_id)
        self._scope = scope or backend_scope(issuer, configuration)
        self._margin = margin
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: TokenResponse | None = None
        self._valid_until: datetime | None = None

    @property
    def scope(self) -> str:
        """The scope string requested."""
        return self._scope

    def _current(self, now: datetime) -> TokenResponse | None:
        if self._token is None or self._valid_until is None or now >= self._valid_until:
            return None
        return self._token

    async def token(self) -> TokenResponse:
        """A token valid for at least ``margin``; one request however many callers wait.

        Raises:
            TokenError: The server refused (the message carries its error_description).
        """
        token = self._current(self._clock())
        if token is not None:
            return token
        async with self._lock:
            now = self._clock()
            token = self._current(now)
            if token is not None:
                return token
            form = {
                "grant_type": "client_credentials",
                "scope": self._scope,
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": client_assertion(
                    client_id=self._client_id,
                    token_url=self._token_url,
                    signing_key=self._signing_key,
                    now=now,
                ),
            }
            body = await request_token(self._client, self._token_url, form)
            token = parse_token_response(body, now=now, requested_scope=self._scope)
            expires_at = token.expires_at or now + UNKNOWN_EXPIRY_LIFETIME
            self._token = token
            # A lifetime shorter than the margin still gets reused for half of it.
            self._valid_until = expires_at - min(self._margin, (expires_at - now) / 2)
            return token

    async def access_token(self) -> str:
        """The bearer token string of :meth:`token`."""
        return (await self.token()).access_token

    def invalidate(self) -> None:
        """Forget the cached token (after the FHIR server answered 401 with it)."""
        self._token = None
        self._valid_until = None
