"""The registry of FHIR servers we will talk to, keyed by their normalised base URL (``iss``).

An EHR launch hands us an ``iss`` from the query string, which anyone can forge. We look it up here
**before any outbound request**, so an unknown server is never fetched (no SSRF) and our client
secret or signed assertion never goes to an attacker's token endpoint (HL7/smart-app-launch#230;
SMART App Launch 2.2 "send secrets only to authenticated servers"). Each entry is one client
registration for one EHR tenant; a client secret is never shared across servers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args
from urllib.parse import urlsplit, urlunsplit

from smart_launch.errors import IssuerNotAllowed

__all__ = [
    "AuthMethod",
    "IssuerConfig",
    "IssuerRegistry",
    "ScopeVersion",
    "issuer_from_mapping",
    "normalize_iss",
]

AuthMethod = Literal["none", "client_secret_basic", "private_key_jwt"]
ScopeVersion = Literal["auto", "v1", "v2"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_iss(url: str) -> str:
    """Normalise a FHIR base URL so that equal servers compare equal.

    Scheme and host are lower-cased, the default port is dropped and trailing slashes are removed.
    The path keeps its case (FHIR bases are case-sensitive there).

    Args:
        url: A FHIR base URL as configured or as received in ``iss``.

    Returns:
        The normalised URL, for example ``https://ehr.example.org/fhir/r4``.

    Raises:
        IssuerNotAllowed: The value is not an absolute http(s) URL without user info, query or
            fragment.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise IssuerNotAllowed(f"not a usable FHIR base URL: {exc}") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise IssuerNotAllowed("a FHIR base URL must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise IssuerNotAllowed("a FHIR base URL must not carry user info")
    if parts.query or parts.fragment:
        raise IssuerNotAllowed("a FHIR base URL must not carry a query or fragment")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True, slots=True)
class IssuerConfig:
    """One client registration at one FHIR server (one EHR tenant).

    Attributes:
        iss: The FHIR base URL; normalised on creation.
        client_id: Our client id at this server; None only for an open server.
        redirect_uri: The exact redirect URI registered for this client.
        auth_method: How we authenticate at the token endpoint.
        client_secret: The secret for ``client_secret_basic``; never shared with another entry.
        key_id: The ``kid`` of our signing key for ``private_key_jwt`` (its algorithm, RS384 or
            ES384, comes with the key).
        scope_version: SMART scope syntax; ``auto`` picks v2 when the server lists
            ``permission-v2`` in its capabilities, else v1.
        scopes: Resource scopes to request; empty means the package defaults.
        open: The server may run without authorization (public or local HAPI). Only then is a
            server without any SMART metadata accepted.
        offline_access: Ask for a refresh token that outlives the session.
        name: A label for the standalone-launch server picker.
    """

    iss: str
    client_id: str | None = None
    redirect_uri: str | None = None
    auth_method: AuthMethod = "none"
    client_secret: str | None = None
    key_id: str | None = None
    scope_version: ScopeVersion = "auto"
    scopes: tuple[str, ...] = ()
    open: bool = False
    offline_access: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "iss", normalize_iss(self.iss))
        object.__setattr__(self, "scopes", tuple(self.scopes))
        if self.auth_method not in get_args(AuthMethod):
            raise ValueError(
                f"auth_method {self.auth_method!r} is not one of {get_args(AuthMethod)}"
            )
        if self.scope_version not in get_args(ScopeVersion):
            raise ValueError(f"scope_version {self.scope_version!r} is not auto, v1 or v2")
        if not self.open and not (self.client_id and self.redirect_uri):
            raise ValueError(f"{self.iss}: client_id and redirect_uri are required")
        if self.auth_method == "client_secret_basic" and not self.client_secret:
            raise ValueError(f"{self.iss}: client_secret_basic needs client_secret")
        if self.auth_method != "client_secret_basic" and self.client_secret:
            raise ValueError(f"{self.iss}: client_secret is only used with client_secret_basic")
        if self.auth_method == "private_key_jwt" and not self.key_id:
            raise ValueError(f"{self.iss}: private_key_jwt needs key_id")

    def __repr__(self) -> str:
        return (
            f"IssuerConfig(iss={self.iss!r}, client_id={self.client_id!r}, "
            f"auth_method={self.auth_method!r}, open={self.open!r})"
        )

    @property
    def can_authorize(self) -> bool:
        """True when this entry has what an OAuth launch needs (client id and redirect URI)."""
        return bool(self.client_id and self.redirect_uri)


def issuer_from_mapping(data: Mapping[str, Any]) -> IssuerConfig:
    """Build an IssuerConfig from a settings mapping (YAML, TOML or environment JSON).

    Args:
        data: Keys as the IssuerConfig attribute names; ``scopes`` may be a list or a
            space-separated string.

    Returns:
        The validated entry.

    Raises:
        ValueError: An unknown key or an inconsistent entry; the message names the key.
    """
    known = set(IssuerConfig.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown issuer setting(s): {', '.join(unknown)}")
    values = dict(data)
    scopes = values.get("scopes", ())
    values["scopes"] = tuple(scopes.split()) if isinstance(scopes, str) else tuple(scopes)
    return IssuerConfig(**values)


class IssuerRegistry:
    """The allowlist: look an ``iss`` up here before fetching anything from it."""

    def __init__(self, issuers: Iterable[IssuerConfig]) -> None:
        """Build the registry.

        Args:
            issuers: One entry per FHIR server.

        Raises:
            ValueError: Two entries share an ``iss`` or a client secret.
        """
        by_iss: dict[str, IssuerConfig] = {}
        secrets: dict[str, str] = {}
        for issuer in issuers:
            if issuer.iss in by_iss:
                raise ValueError(f"{issuer.iss} is registered twice")
            if issuer.client_secret is not None:
                if issuer.client_secret in secrets:
                    raise ValueError(
                        f"{issuer.iss} reuses the client secret of {secrets[issuer.client_secret]}"
                    )
                secrets[issuer.client_secret] = issuer.iss
            by_iss[issuer.iss] = issuer
        self._by_iss = by_iss

    def lookup(self, iss: str) -> IssuerConfig:
        """Return the registration for ``iss``, compared after normalisation.

        Args:
            iss: The untrusted ``iss`` (or ``aud``) value.

        Returns:
            The matching entry.

        Raises:
            IssuerNotAllowed: The URL is malformed or not registered.
        """
        normalised = normalize_iss(iss)
        issuer = self._by_iss.get(normalised)
        if issuer is None:
            raise IssuerNotAllowed(f"{normalised} is not a registered FHIR server")
        return issuer

    def __contains__(self, iss: object) -> bool:
        if not isinstance(iss, str):
            return False
        try:
            self.lookup(iss)
        except IssuerNotAllowed:
            return False
        return True

    def __iter__(self) -> Iterator[IssuerConfig]:
        return iter(self._by_iss.values())

    def __len__(self) -> int:
        return len(self._by_iss)
