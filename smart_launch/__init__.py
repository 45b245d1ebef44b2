"""SMART App Launch and Backend Services client. Imports nothing of ours.

The web layer calls these pure functions and small classes; none of them knows about a web
framework. A launch goes: look ``iss`` up in the :class:`IssuerRegistry` (before anything is
fetched), :func:`discover` its configuration and :func:`build_authorization_request` (the three
together: :func:`begin_launch`); store the :class:`PendingLaunch` server-side; on the callback
:func:`check_callback`, :func:`exchange_code`, then :func:`validate_id_token` when ``openid`` was
granted. The clinic console uses :class:`BackendServicesClient`.
"""

from smart_launch.allowlist import (
    AuthMethod,
    IssuerConfig,
    IssuerRegistry,
    ScopeVersion,
    issuer_from_mapping,
    normalize_iss,
)
from smart_launch.authorize import (
    AuthorizationRequest,
    PendingLaunch,
    build_authorization_request,
    launch_scope,
    new_secret,
)
from smart_launch.backend import BackendServicesClient, backend_scope
from smart_launch.callback import (
    CallbackResult,
    InMemoryPendingLaunches,
    PendingLaunchStore,
    check_callback,
)
from smart_launch.client_auth import client_assertion, client_authentication
from smart_launch.discovery import (
    DiscoveryCache,
    SmartConfiguration,
    discover,
    parse_capability_statement,
    parse_smart_configuration,
)
from smart_launch.errors import (
    AuthorizationError,
    DiscoveryError,
    FhirRequestError,
    IdTokenError,
    IssuerNotAllowed,
    SmartLaunchError,
    TokenError,
)
from smart_launch.idtoken import (
    ID_TOKEN_ALGORITHMS,
    IdTokenClaims,
    JwksCache,
    validate_id_token,
    verify_id_token,
)
from smart_launch.keys import (
    KeyRing,
    SigningAlgorithm,
    SigningKey,
    ensure_dev_keys,
    load_private_key,
    load_private_key_env,
    load_private_key_file,
)
from smart_launch.launch import LaunchPlan, begin_launch
from smart_launch.scopes import (
    DEFAULT_RESOURCE_TYPES,
    SYSTEM_RESOURCE_TYPES,
    GrantedScopes,
    ResourceScope,
    ScopeContext,
    parse_scopes,
    resource_scope,
    resource_scopes,
)
from smart_launch.token import (
    TokenResponse,
    exchange_code,
    parse_token_response,
    refresh_access_token,
    request_token,
)

__all__ = [
    "DEFAULT_RESOURCE_TYPES",
    "ID_TOKEN_ALGORITHMS",
    "SYSTEM_RESOURCE_TYPES",
    "AuthMethod",
    "AuthorizationError",
    "AuthorizationRequest",
    "BackendServicesClient",
    "CallbackResult",
    "DiscoveryCache",
    "DiscoveryError",
    "FhirRequestError",
    "GrantedScopes",
    "IdTokenClaims",
    "IdTokenError",
    "InMemoryPendingLaunches",
    "IssuerConfig",
    "IssuerNotAllowed",
    "IssuerRegistry",
    "JwksCache",
    "KeyRing",
    "LaunchPlan",
    "PendingLaunch",
    "PendingLaunchStore",
    "ResourceScope",
    "ScopeContext",
    "ScopeVersion",
    "SigningAlgorithm",
    "SigningKey",
    "SmartConfiguration",
    "SmartLaunchError",
    "TokenError",
    "TokenResponse",
    "backend_scope",
    "begin_launch",
    "build_authorization_request",
    "check_callback",
    "client_assertion",
    "client_authentication",
    "discover",
    "ensure_dev_keys",
    "exchange_code",
    "issuer_from_mapping",
    "launch_scope",
    "load_private_key",
    "load_private_key_env",
    "load_private_key_file",
    "new_secret",
    "normalize_iss",
    "parse_capability_statement",
    "parse_scopes",
    "parse_smart_configuration",
    "parse_token_response",
    "refresh_access_token",
    "request_token",
    "resource_scope",
    "resource_scopes",
    "validate_id_token",
    "verify_id_token",
]
