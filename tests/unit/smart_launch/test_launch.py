"""The launch entry: the allowlist is consulted before anything is fetched."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from smart_launch import (
    AuthorizationError,
    IssuerConfig,
    IssuerNotAllowed,
    IssuerRegistry,
    begin_launch,
)

from .conftest import FHIR_BASE, smart_configuration_document

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "iss",
    [
        pytest.param("https://attacker.example.com/fhir", id="unknown-host"),
        pytest.param(FHIR_BASE + "/../admin", id="other-path-same-host"),
        pytest.param("http://ehr.example.org/fhir/r4", id="http-instead-of-https"),
        pytest.param("https://ehr.example.org/fhir/r4?x=1", id="query-string"),
        pytest.param("https://user@ehr.example.org/fhir/r4", id="user-info"),
        pytest.param("file:///etc/passwd", id="file-url"),
        pytest.param("http://169.254.169.254/latest/meta-data", id="cloud-metadata"),
        pytest.param("", id="empty"),
        pytest.param(None, id="missing"),
    ],
)
async def test_unknown_iss_is_refused_with_zero_outbound_requests(
    client: httpx.AsyncClient,
    respx_mock: respx.MockRouter,
    registry: IssuerRegistry,
    now: datetime,
    iss: str | None,
) -> None:
    catch_all = respx_mock.route().respond(200, json=smart_configuration_document())

    with pytest.raises(IssuerNotAllowed):
        await begin_launch(client, registry, iss, launch="abc", now=now)

    assert catch_all.call_count == 0
    assert len(respx_mock.calls) == 0


async def test_ehr_launch_without_launch_parameter_fetches_nothing(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter, registry: IssuerRegistry, now: datetime
) -> None:
    with pytest.raises(AuthorizationError):
        await begin_launch(client, registry, FHIR_BASE, launch=None, now=now)

    assert len(respx_mock.calls) == 0


async def test_registered_iss_in_another_spelling_is_discovered_and_echoed_as_aud(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter, registry: IssuerRegistry, now: datetime
) -> None:
    well_known = respx_mock.get(f"{FHIR_BASE}/.well-known/smart-configuration").respond(
        json=smart_configuration_document()
    )

    plan = await begin_launch(
        client, registry, "HTTPS://EHR.EXAMPLE.ORG:443/fhir/r4/", launch="abc", now=now
    )

    assert well_known.call_count == 1
    assert plan.request is not None
    params = parse_qs(urlsplit(plan.request.url).query)
    # aud equals the iss exactly as the EHR sent it; everything else uses the registered base.
    assert params["aud"] == ["HTTPS://EHR.EXAMPLE.ORG:443/fhir/r4/"]
    assert params["launch"] == ["abc"]
    assert plan.request.pending.iss == FHIR_BASE


async def test_standalone_launch_ignores_launch_and_asks_for_a_patient(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter, registry: IssuerRegistry, now: datetime
) -> None:
    respx_mock.get(f"{FHIR_BASE}/.well-known/smart-configuration").respond(
        json=smart_configuration_document()
    )

    plan = await begin_launch(client, registry, FHIR_BASE, launch=None, ehr_launch=False, now=now)

    assert plan.request is not None
    assert "launch" not in plan.request.params
    assert plan.request.params["aud"] == FHIR_BASE
    assert "launch/patient" in plan.request.params["scope"].split()


async def test_open_server_needs_no_authorization_request(
    client: httpx.AsyncClient, respx_mock: respx.MockRouter, now: datetime
) -> None:
    registry = IssuerRegistry([IssuerConfig(iss="http://localhost:8080/fhir", open=True)])
    respx_mock.get("http://localhost:8080/fhir/.well-known/smart-configuration").respond(404)
    respx_mock.get("http://localhost:8080/fhir/metadata").respond(
        json={"resourceType": "CapabilityStatement", "rest": [{"mode": "server"}]}
    )

    plan = await begin_launch(
        client, registry, "http://localhost:8080/fhir", launch=None, ehr_launch=False, now=now
    )

    assert plan.request is None
    assert plan.configuration.is_open
    assert plan.issuer.open
