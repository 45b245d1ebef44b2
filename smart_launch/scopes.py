"""SMART scope strings: build what we request, and read what the server granted.

Follows SMART App Launch 2.2 "Scopes and Launch Context": v1 syntax ``patient/Observation.read``
(``.read``, ``.write``, ``.*``) and v2 syntax ``patient/Observation.rs`` (letters from ``cruds``,
in that order, optionally narrowed by a query such as ``?category=laboratory``). The server may
grant less than we asked for, so features are switched on from the *granted* scopes only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_RESOURCE_TYPES",
    "SYSTEM_RESOURCE_TYPES",
    "GrantedScopes",
    "ResourceScope",
    "ScopeContext",
    "parse_scopes",
    "resource_scope",
    "resource_scopes",
]

ScopeContext = Literal["patient", "user", "system"]

DEFAULT_RESOURCE_TYPES: tuple[str, ...] = (
    "Patient",
    "MedicationRequest",
    "MedicationDispense",
    "MedicationStatement",
    "Medication",
    "Condition",
    "Observation",
    "DocumentReference",
    "QuestionnaireResponse",
    "Procedure",
    "Encounter",
    "ServiceRequest",
    "CarePlan",
    "EpisodeOfCare",
    "Goal",
)
"""Resource types the summary reads (standards.md section 1, "Scopes, minimal", plus the
PDMP-check Procedures, visits, UDS orders, the PPACT episode the COT monitoring needs and the
patient's goals for the PPACT intake vs discharge comparison)."""

SYSTEM_RESOURCE_TYPES: tuple[str, ...] = ("Group", *DEFAULT_RESOURCE_TYPES)
"""Resource types the clinic console exports through Backend Services."""

_ORDER = "cruds"
_ACCESS_WORDS = {"read": "rs", "write": "cud", "search": "s", "all": "cruds"}
_V1_SUFFIX = {"read": frozenset("rs"), "write": frozenset("cud"), "*": frozenset("cruds")}
_CONTEXTS: tuple[ScopeContext, ...] = ("patient", "user", "system")


def _letters(access: str) -> frozenset[str]:
    letters = _ACCESS_WORDS.get(access, access)
    if not letters or any(letter not in _ORDER for letter in letters):
        raise ValueError(f"access {access!r} is not read/write/search/all or letters from cruds")
    return frozenset(letters)


def resource_scope(
    resource_type: str,
    access: str = "read",
    *,
    context: ScopeContext = "patient",
    version: Literal["v1", "v2"] = "v2",
) -> str:
    """One resource scope string.

    Args:
        resource_type: A FHIR resource type, or ``*``.
        access: ``read``, ``write``, ``search``, ``all``, or v2 letters such as ``rs`` or ``c``.
        context: ``patient``, ``user`` or ``system``.
        version: ``v2`` gives letters; ``v1`` gives ``read``, ``write`` or ``*`` (the smallest v1
            permission that covers the access).

    Returns:
        For example ``patient/MedicationRequest.rs`` or ``patient/MedicationRequest.read``.
    """
    letters = _letters(access)
    if version == "v2":
        suffix = "".join(letter for letter in _ORDER if letter in letters)
    elif letters <= _V1_SUFFIX["read"]:
        suffix = "read"
    elif letters <= _V1_SUFFIX["write"]:
        suffix = "write"
    else:
        suffix = "*"
    return f"{context}/{resource_type}.{suffix}"


def resource_scopes(
    resource_types: Iterable[str],
    access: str = "read",
    *,
    context: ScopeContext = "patient",
    version: Literal["v1", "v2"] = "v2",
) -> tuple[str, ...]:
    """Resource scopes for several types with the same access; see :func:`resource_scope`."""
    return tuple(
        resource_scope(resource_type, access, context=context, version=version)
        for resource_type in resource_types
    )


@dataclass(frozen=True, slots=True)
class ResourceScope:
    """One parsed resource scope.

    Attributes:
        context: ``patient``, ``user`` or ``system``.
        resource_type: The FHIR type, or ``*`` for all types.
        permissions: Letters from ``cruds`` (v1 ``read`` is ``rs``, ``write`` is ``cud``).
        query: A v2 granular restriction such as ``category=laboratory``, or None.
    """

    context: ScopeContext
    resource_type: str
    permissions: frozenset[str]
    query: str | None = None


def _parse_resource_scope(token: str) -> ResourceScope | None:
    context, slash, rest = token.partition("/")
    if not slash or context not in _CONTEXTS:
        return None
    rest, question, query = rest.partition("?")
    resource_type, dot, suffix = rest.partition(".")
    if not dot or not resource_type:
        return None
    permissions = _V1_SUFFIX.get(suffix)
    if permissions is None:
        positions = [_ORDER.find(letter) for letter in suffix]
        # The spec lists letters in cruds order; a server that grants them in another order
        # still grants them.
        if not suffix or -1 in positions or len(set(positions)) != len(positions):
            return None
        permissions = frozenset(suffix)
    return ResourceScope(
        context=context,
        resource_type=resource_type,
        permissions=permissions,
        query=query if question else None,
    )


@dataclass(frozen=True, slots=True)
class GrantedScopes:
    """The scopes in a token response, parsed.

    Attributes:
        tokens: Every scope token as sent, in order.
        resources: The tokens that are resource scopes, parsed.
    """

    tokens: tuple[str, ...]
    resources: tuple[ResourceScope, ...]

    def __str__(self) -> str:
        return " ".join(self.tokens)

    def has(self, scope: str) -> bool:
        """True when the exact token was granted, for example ``openid`` or ``launch``."""
        return scope in self.tokens

    def granted(
        self, resource_type: str, access: str = "read", *, context: ScopeContext | None = None
    ) -> bool:
        """True when the granted scopes cover ``access`` on every resource of the type.

        Permissions add up across scopes (``.r`` plus ``.s`` covers ``read``). A scope narrowed by
        a query (``?category=...``) covers only part of the type, so it does not count here.

        Args:
            resource_type: A FHIR resource type such as ``MedicationRequest``.
            access: ``read`` (``rs``), ``write`` (``cud``), ``search``, ``all`` or v2 letters.
            context: Limit to ``patient``, ``user`` or ``system`` scopes; None accepts any.

        Returns:
            Whether the access is granted.
        """
        needed = _letters(access)
        have: set[str] = set()
        for scope in self.resources:
            if scope.query is not None:
                continue
            if context is not None and scope.context != context:
                continue
            if scope.resource_type in (resource_type, "*"):
                have |= scope.permissions
        return needed <= have


def parse_scopes(scope: str | None) -> GrantedScopes:
    """Parse a space-separated scope string (v1 and v2 may be mixed).

    Args:
        scope: The ``scope`` of a token response; None or empty gives no scopes.

    Returns:
        The parsed scopes; tokens that are not resource scopes are kept in ``tokens`` only.
    """
    tokens = tuple(dict.fromkeys((scope or "").split()))
    parsed = (_parse_resource_scope(token) for token in tokens)
    return GrantedScopes(tokens=tokens, resources=tuple(s for s in parsed if s is not None))
