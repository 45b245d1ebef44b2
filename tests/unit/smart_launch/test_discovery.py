"""Discovery: SMART configuration, CapabilityStatement fallback, open servers, cache TTL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from smart_launch import (
    DiscoveryCache,
    DiscoveryError,
    IssuerConfig,
    SmartConfiguration,
    discover,
    parse_smart_configuration,
)
from smart_launch.discovery import OAUTH_URIS_EXTENSION

from .conftest import (
    AUTH_ISSUER,
    AUTHORIZE_URL,
    CLIENT_ID,
    FHIR_BASE,
    JWKS_URL,
    REDIRECT_URI,
    TOKEN_URL,
    smart_configuration_document,
)

pytestmark = pytest.mark.anyio

WELL_KNOWN = f"{FHIR_BASE}/.well-known/smart-configuration"
METADATA = f"{FHIR_BASE}/metadata"


def capability_statement(authorize: str, token: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "rest": [
            {
                "mode": "server",
                "security": {
                    "extension": [
                        {
                            "url": OAUTH_URIS_EXTENSION,
                            "extension": [
                                {"url": "authorize", "valueUri": authorize},
                                {"url": "token", "valueUri": token},
                            ],
                        }
                    ]
                },
            }
        ],
    }


OPEN_CAPABILITY_STATEMENT = {"resourceType": "CapabilityStatement", "rest": [{"mode": "server"}]}


@pytest.fixture
def open_issuer() -> IssuerConfig:
    return IssuerConfig(iss=FHIR_BASE, open=True)


async def test_well_known_document_gives_endpoints_and_capabilities(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter, public_issuer: IssuerConfig
) -> None:
    route = respx_mock.get(WELL_KNOWN).respond(json=smart_configuration_document())

    configuration = await discover(client, public_issuer)

    assert route.call_count == 1
    assert route.calls.last.request.headers["Accept"] == "application/json"
    assert configuration.source == "smart-configuration"
    assert configuration.issuer == AUTH_ISSUER
    assert configuration.authorization_endpoint == AUTHORIZE_URL
    assert configuration.token_endpoint == TOKEN_URL
    assert configuration.jwks_uri == JWKS_URL
    assert configuration.supports("permission-v2")
    assert not configuration.supports("authorize-post")
    assert configuration.scope_version() == "v2"
    assert configuration.code_challenge_methods_supported == ("S256",)
    assert not configuration.is_open


async def test_well_known_is_appended_to_a_base_with_a_path(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter
) -> None:
    issuer = IssuerConfig(
        iss="HTTPS://EHR.example.org:443/api/FHIR/R4/",
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT_URI,
    )
    route = respx_mock.get(
        "https://ehr.example.org/api/FHIR/R4/.well-known/smart-configuration"
    ).respond(json=smart_configuration_document())

    await discover(client, issuer)

    assert route.call_count == 1


@pytest.mark.parametrize(
    ("authorize", "token", "jwks", "expected"),
    [
        pytest.param(
            "auth/authorize",
            "auth/token",
            "auth/jwks",
            (
                f"{FHIR_BASE}/auth/authorize",
                f"{FHIR_BASE}/auth/token",
                f"{FHIR_BASE}/auth/jwks",
            ),
            id="path-relative",
        ),
        pytest.param(
            "/oauth/authorize",
            "/oauth/token",
            "/oauth/jwks",
            (
                "https://ehr.example.org/oauth/authorize",
                "https://ehr.example.org/oauth/token",
                "https://ehr.example.org/oauth/jwks",
            ),
            id="host-relative",
        ),
    ],
)
def test_relative_urls_are_resolved_against_the_fhir_base(
    authorize: str, token: str, jwks: str, expected: tuple[str, str, str]
) -> None:
    document = smart_configuration_document(
        authorization_endpoint=authorize, token_endpoint=token, jwks_uri=jwks
    )

    configuration = parse_smart_configuration(document, iss=FHIR_BASE)

    assert (
        configuration.authorization_endpoint,
        configuration.token_endpoint,
        configuration.jwks_uri,
    ) == expected


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(smart_configuration_document(token_endpoint=None), id="no-token-endpoint"),
        pytest.param(smart_configuration_document(authorization_endpoint=""), id="empty-authorize"),
        pytest.param(
            smart_configuration_document(token_endpoint="javascript:alert(1)"), id="not-http"
        ),
        pytest.param(["not", "an", "object"], id="json-array"),
    ],
)
def test_unusable_smart_configuration_is_a_discovery_error(document: object) -> None:
    with pytest.raises(DiscoveryError):
        parse_smart_configuration(document, iss=FHIR_BASE)


@pytest.mark.parametrize(
    "well_known",
    [
        pytest.param(httpx.Response(404), id="404"),
        pytest.param(httpx.Response(200, text="<html>not json</html>"), id="html"),
    ],
)
async def test_missing_well_known_falls_back_to_capability_statement_oauth_uris(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    public_issuer: IssuerConfig,
    well_known: httpx.Response,
) -> None:
    respx_mock.get(WELL_KNOWN).mock(return_value=well_known)
    metadata = respx_mock.get(METADATA).respond(
        json=capability_statement("/oauth/authorize", "https://auth.example.org/token")
    )

    configuration = await discover(client, public_issuer)

    assert metadata.calls.last.request.headers["Accept"] == "application/fhir+json"
    assert configuration.source == "capability-statement"
    assert configuration.authorization_endpoint == "https://ehr.example.org/oauth/authorize"
    assert configuration.token_endpoint == "https://auth.example.org/token"
    assert configuration.capabilities == frozenset()
    assert configuration.scope_version() == "v1"


async def test_secured_server_with_neither_document_is_refused(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter, public_issuer: IssuerConfig
) -> None:
    respx_mock.get(WELL_KNOWN).respond(404)
    respx_mock.get(METADATA).respond(json=OPEN_CAPABILITY_STATEMENT)

    with pytest.raises(DiscoveryError, match="registered as secured"):
        await discover(client, public_issuer)


async def test_open_server_with_neither_document_is_open(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter, open_issuer: IssuerConfig
) -> None:
    respx_mock.get(WELL_KNOWN).respond(404)
    respx_mock.get(METADATA).respond(json=OPEN_CAPABILITY_STATEMENT)

    configuration = await discover(client, open_issuer)

    assert configuration == SmartConfiguration(iss=FHIR_BASE, source="open")
    assert configuration.is_open


async def test_open_server_that_advertises_smart_uses_it(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter, open_issuer: IssuerConfig
) -> None:
    respx_mock.get(WELL_KNOWN).respond(json=smart_configuration_document())

    configuration = await discover(client, open_issuer)

    assert not configuration.is_open
    assert configuration.token_endpoint == TOKEN_URL


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.Response(503), id="server-error"),
        pytest.param(httpx.ConnectError("refused"), id="connect-error"),
    ],
)
async def test_server_trouble_is_an_error_not_a_downgrade_to_open(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    open_issuer: IssuerConfig,
    failure: httpx.Response | Exception,
) -> None:
    route = respx_mock.get(WELL_KNOWN)
    if isinstance(failure, Exception):
        route.mock(side_effect=failure)
    else:
        route.mock(return_value=failure)
    metadata = respx_mock.get(METADATA).respond(json=OPEN_CAPABILITY_STATEMENT)

    with pytest.raises(DiscoveryError):
        await discover(client, open_issuer)
    assert metadata.call_count == 0


class FakeClock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


async def test_cache_reuses_a_configuration_until_the_ttl_passes(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter, public_issuer: IssuerConfig
) -> None:
    route = respx_mock.get(WELL_KNOWN).respond(json=smart_configuration_document())
    clock = FakeClock()
    cache = DiscoveryCache(ttl_seconds=600, clock=clock)

    first = await discover(client, public_issuer, cache=cache)
    clock.seconds += 599
    second = await discover(client, public_issuer, cache=cache)
    assert route.call_count == 1
    assert second is first

    clock.seconds += 1
    await discover(client, public_issuer, cache=cache)
    assert route.call_count == 2


async def test_failures_are_not_cached(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter, public_issuer: IssuerConfig
) -> None:
    route = respx_mock.get(WELL_KNOWN)
    route.side_effect = [
        httpx.Response(500),
        httpx.Response(200, json=smart_configuration_document()),
    ]
    cache = DiscoveryCache(ttl_seconds=600, clock=FakeClock())

    with pytest.raises(DiscoveryError):
        await discover(client, public_issuer, cache=cache)
    configuration = await discover(client, public_issuer, cache=cache)

    assert configuration.token_endpoint == TOKEN_URL
    assert route.call_count == 2


def test_configured_scope_version_overrides_capabilities(
    configuration: SmartConfiguration,
) -> None:
    assert configuration.scope_version("v1") == "v1"
    assert configuration.scope_version("auto") == "v2"
