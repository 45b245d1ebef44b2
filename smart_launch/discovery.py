"""Find a FHIR server's authorization endpoints: SMART configuration, then CapabilityStatement.

Follows SMART App Launch 2.2 conformance "FHIR Authorization Endpoint and Capabilities Discovery":
``GET {iss}/.well-known/smart-configuration`` (appended even when the base has a path). When that
document is missing (4xx or not JSON) we fall back to the 1.0 mechanism, the ``oauth-uris``
extension on ``CapabilityStatement.rest[0].security`` at ``{iss}/metadata``. A server that has
neither is treated as open (no authorization) only when its allowlist entry says ``open``; a server
registered as secured is never downgraded. Relative URLs are resolved against the FHIR base.

Parsing is pure (:func:`parse_smart_configuration`, :func:`parse_capability_statement`);
:func:`discover` is the thin async edge that fetches with the caller's ``httpx.AsyncClient``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx

from smart_launch.allowlist import IssuerConfig
from smart_launch.errors import DiscoveryError

__all__ = [
    "OAUTH_URIS_EXTENSION",
    "DiscoveryCache",
    "SmartConfiguration",
    "discover",
    "parse_capability_statement",
    "parse_smart_configuration",
]

OAUTH_URIS_EXTENSION = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"

DiscoverySource = Literal["smart-configuration", "capability-statement", "open"]


@dataclass(frozen=True, slots=True)
class SmartConfiguration:
    """What we learned about one FHIR server's authorization.

    Attributes:
        iss: The normalised FHIR base this configuration belongs to.
        source: Where it came from; ``open`` means the server runs without authorization.
        issuer: The authorization server's issuer (OIDC ``iss`` and RFC 9207 callback ``iss``).
        authorization_endpoint: Absolute URL, or None for an open server.
        token_endpoint: Absolute URL, or None for an open server.
        jwks_uri: Absolute URL of the server's public keys, or None.
        capabilities: SMART capabilities such as ``launch-ehr`` and ``permission-v2``.
        code_challenge_methods_supported: As advertised (we always send S256).
        grant_types_supported: As advertised.
        token_endpoint_auth_methods_supported: As advertised.
        token_endpoint_auth_signing_alg_values_supported: As advertised.
        scopes_supported: As advertised.
        response_types_supported: As advertised.
        authorization_response_iss_parameter_supported: RFC 9207: the callback always has ``iss``.
    """

    iss: str
    source: DiscoverySource
    issuer: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    jwks_uri: str | None = None
    capabilities: frozenset[str] = frozenset()
    code_challenge_methods_supported: tuple[str, ...] = ()
    grant_types_supported: tuple[str, ...] = ()
    token_endpoint_auth_methods_supported: tuple[str, ...] = ()
    token_endpoint_auth_signing_alg_values_supported: tuple[str, ...] = ()
    scopes_supported: tuple[str, ...] = ()
    response_types_supported: tuple[str, ...] = ()
    authorization_response_iss_parameter_supported: bool = False

    @property
    def is_open(self) -> bool:
        """True when the server runs without authorization (no OAuth at all)."""
        return self.source == "open"

    def supports(self, capability: str) -> bool:
        """True when the server lists ``capability`` (for example ``authorize-post``)."""
        return capability in self.capabilities

    def scope_version(
        self, configured: Literal["auto", "v1", "v2"] = "auto"
    ) -> Literal["v1", "v2"]:
        """The scope syntax to request: the configured one, else v2 only if ``permission-v2``."""
        if configured != "auto":
            return configured
        return "v2" if "permission-v2" in self.capabilities else "v1"


def _resolve(iss: str, value: object, field: str, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise DiscoveryError(f"{iss}: SMART configuration has no {field}")
        return None
    if not isinstance(value, str):
        raise DiscoveryError(f"{iss}: {field} is not a string")
    resolved = urljoin(iss + "/", value)
    parts = urlsplit(resolved)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DiscoveryError(f"{iss}: {field} is not an http(s) URL")
    return resolved


def _strings(document: Mapping[str, Any], field: str) -> tuple[str, ...]:
    value = document.get(field)
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def parse_smart_configuration(document: object, *, iss: str) -> SmartConfiguration:
    """Read a ``.well-known/smart-configuration`` document (SAL 2.2 conformance "Metadata").

    Args:
        document: The decoded JSON.
        iss: The normalised FHIR base, used to resolve relative URLs.

    Returns:
        The configuration, with absolute endpoint URLs.

    Raises:
        DiscoveryError: Not a JSON object, or no authorization or token endpoint.
    """
    if not isinstance(document, Mapping):
        raise DiscoveryError(f"{iss}: SMART configuration is not a JSON object")
    return SmartConfiguration(
        iss=iss,
        source="smart-configuration",
        issuer=document.get("issuer") if isinstance(document.get("issuer"), str) else None,
        authorization_endpoint=_resolve(
            iss, document.get("authorization_endpoint"), "authorization_endpoint", required=True
        ),
        token_endpoint=_resolve(
            iss, document.get("token_endpoint"), "token_endpoint", required=True
        ),
        jwks_uri=_resolve(iss, document.get("jwks_uri"), "jwks_uri", required=False),
        capabilities=frozenset(_strings(document, "capabilities")),
        code_challenge_methods_supported=_strings(document, "code_challenge_methods_supported"),
        grant_types_supported=_strings(document, "grant_types_supported"),
        token_endpoint_auth_methods_supported=_strings(
            document, "token_endpoint_auth_methods_supported"
        ),
        token_endpoint_auth_signing_alg_values_supported=_strings(
            document, "token_endpoint_auth_signing_alg_values_supported"
        ),
        scopes_supported=_strings(document, "scopes_supported"),
        response_types_supported=_strings(document, "response_types_supported"),
        authorization_response_iss_parameter_supported=(
            document.get("authorization_response_iss_parameter_supported") is True
        ),
    )


def parse_capability_statement(document: object, *, iss: str) -> SmartConfiguration | None:
    """Read the SMART 1.0 ``oauth-uris`` extension from a CapabilityStatement.

    The extension names no ``issuer`` and no ``jwks_uri``, so neither is set: a launch against
    such a server asks for no ``openid`` (see ``authorize.launch_scope``), since an id_token
    could not be validated.

    Args:
        document: The decoded ``{iss}/metadata`` JSON.
        iss: The normalised FHIR base, used to resolve relative URLs.

    Returns:
        The configuration, or None when the statement has no ``oauth-uris`` extension.

    Raises:
        DiscoveryError: The extension is present but lacks ``authorize`` or ``token``.
    """
    if not isinstance(document, Mapping) or document.get("resourceType") != "CapabilityStatement":
        return None
    rest = document.get("rest")
    first = rest[0] if isinstance(rest, list) and rest else None
    security = first.get("security") if isinstance(first, Mapping) else None
    extensions = security.get("extension") if isinstance(security, Mapping) else None
    for extension in extensions if isinstance(extensions, list) else []:
        if not isinstance(extension, Mapping) or extension.get("url") != OAUTH_URIS_EXTENSION:
            continue
        uris: dict[str, object] = {}
        inner = extension.get("extension")
        for item in inner if isinstance(inner, list) else []:
            if isinstance(item, Mapping) and isinstance(item.get("url"), str):
                uris[item["url"]] = item.get("valueUri", item.get("valueUrl"))
        return SmartConfiguration(
            iss=iss,
            source="capability-statement",
            authorization_endpoint=_resolve(iss, uris.get("authorize"), "authorize", required=True),
            token_endpoint=_resolve(iss, uris.get("token"), "token", required=True),
        )
    return None


class DiscoveryCache:
    """Discovered configurations per FHIR base, kept for ``ttl_seconds``.

    Failures are never cached, so a server that was briefly down is asked again next time.
    """

    def __init__(
        self, *, ttl_seconds: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Create an empty cache.

        Args:
            ttl_seconds: How long a configuration is reused.
            clock: Monotonic seconds; tests pass a fake.
        """
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, SmartConfiguration]] = {}

    def get(self, iss: str) -> SmartConfiguration | None:
        """The cached configuration for ``iss``, or None when absent or expired."""
        entry = self._entries.get(iss)
        if entry is None:
            return None
        stored_at, configuration = entry
        if self._clock() - stored_at >= self._ttl_seconds:
            del self._entries[iss]
            return None
        return configuration

    def put(self, configuration: SmartConfiguration) -> None:
        """Store a configuration under its ``iss``."""
        self._entries[configuration.iss] = (self._clock(), configuration)

    def clear(self) -> None:
        """Forget everything (after a configuration change)."""
        self._entries.clear()


async def _get_json(client: httpx.AsyncClient, url: str, accept: str) -> tuple[bool, object]:
    """GET a JSON document: (True, body) when found, (False, None) when missing (4xx, not JSON)."""
    try:
        response = await client.get(url, headers={"Accept": accept})
    except httpx.HTTPError as exc:
        raise DiscoveryError(f"{url} could not be fetched ({type(exc).__name__})") from exc
    if response.status_code >= 500:
        raise DiscoveryError(f"{url} answered HTTP {response.status_code}")
    if response.status_code >= 300:
        return False, None
    try:
        return True, response.json()
    except ValueError:
        return False, None


async def discover(
    client: httpx.AsyncClient, issuer: IssuerConfig, *, cache: DiscoveryCache | None = None
) -> SmartConfiguration:
    """Discover the authorization endpoints of an allowlisted FHIR server.

    Taking an :class:`IssuerConfig` (not a URL) means the ``iss`` was already looked up in the
    allowlist, so nothing is fetched from an unknown server.

    Args:
        client: Our HTTP client.
        issuer: The allowlist entry of the server.
        cache: Optional TTL cache shared between launches.

    Returns:
        The configuration; ``source == "open"`` only for an entry configured ``open``.

    Raises:
        DiscoveryError: A secured server without usable SMART metadata, or a transport error or
            server error during discovery.
    """
    iss = issuer.iss
    if cache is not None and (cached := cache.get(iss)) is not None:
        return cached
    found, document = await _get_json(
        client, f"{iss}/.well-known/smart-configuration", "application/json"
    )
    configuration: SmartConfiguration | None = None
    if found:
        configuration = parse_smart_configuration(document, iss=iss)
    else:
        found, document = await _get_json(client, f"{iss}/metadata", "application/fhir+json")
        if found:
            configuration = parse_capability_statement(document, iss=iss)
    if configuration is None:
        if not issuer.open:
            raise DiscoveryError(
                f"{iss} publishes no SMART configuration and no oauth-uris in its "
                "CapabilityStatement; it is registered as secured, so it will not be used "
                "without authorization"
            )
        configuration = SmartConfiguration(iss=iss, source="open")
    if cache is not None:
        cache.put(configuration)
    return configuration
