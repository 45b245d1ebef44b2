"""The issuer allowlist: normalisation, lookup and registration rules."""

from __future__ import annotations

import re
from typing import Any

import pytest

from smart_launch import IssuerConfig, IssuerNotAllowed, IssuerRegistry, issuer_from_mapping
from smart_launch import normalize_iss as normalise

from .conftest import CLIENT_ID, REDIRECT_URI


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("https://ehr.example.org/fhir", "https://ehr.example.org/fhir", id="as-is"),
        pytest.param("HTTPS://EHR.Example.ORG/fhir", "https://ehr.example.org/fhir", id="case"),
        pytest.param("https://ehr.example.org/fhir/", "https://ehr.example.org/fhir", id="slash"),
        pytest.param("https://ehr.example.org:443/fhir", "https://ehr.example.org/fhir", id="443"),
        pytest.param("http://ehr.example.org:80/fhir", "http://ehr.example.org/fhir", id="80"),
        pytest.param(
            "https://ehr.example.org:8443/fhir", "https://ehr.example.org:8443/fhir", id="port"
        ),
        pytest.param(
            "https://ehr.example.org/API/FHIR/R4", "https://ehr.example.org/API/FHIR/R4", id="path"
        ),
        pytest.param("  https://ehr.example.org/  ", "https://ehr.example.org", id="spaces"),
        pytest.param("http://[::1]:8080/fhir", "http://[::1]:8080/fhir", id="ipv6"),
    ],
)
def test_iss_is_normalised(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("ehr.example.org/fhir", id="no-scheme"),
        pytest.param("ftp://ehr.example.org/fhir", id="ftp"),
        pytest.param("https:///fhir", id="no-host"),
        pytest.param("https://ehr.example.org/fhir#frag", id="fragment"),
        pytest.param("https://ehr.example.org/fhir?a=b", id="query"),
        pytest.param("https://u:p@ehr.example.org/fhir", id="user-info"),
        pytest.param("https://ehr.example.org:99999/fhir", id="bad-port"),
    ],
)
def test_malformed_iss_is_not_allowed(raw: str) -> None:
    with pytest.raises(IssuerNotAllowed):
        normalise(raw)


def test_lookup_finds_an_entry_by_any_equivalent_spelling() -> None:
    entry = IssuerConfig(
        iss="https://ehr.example.org/fhir/", client_id=CLIENT_ID, redirect_uri=REDIRECT_URI
    )
    registry = IssuerRegistry([entry])

    assert registry.lookup("HTTPS://ehr.example.org:443/fhir") is entry
    assert "https://ehr.example.org/fhir" in registry
    assert "https://ehr.example.org/other" not in registry
    assert len(registry) == 1
    assert list(registry) == [entry]


def test_lookup_of_an_unknown_iss_names_it() -> None:
    registry = IssuerRegistry([])

    with pytest.raises(IssuerNotAllowed, match=re.escape("https://evil.example.com/fhir")):
        registry.lookup("https://evil.example.com/fhir/")


def test_the_same_iss_cannot_be_registered_twice() -> None:
    entry = IssuerConfig(iss="https://a.example/fhir", client_id="x", redirect_uri=REDIRECT_URI)
    twin = IssuerConfig(iss="https://A.example/fhir/", client_id="y", redirect_uri=REDIRECT_URI)

    with pytest.raises(ValueError, match="twice"):
        IssuerRegistry([entry, twin])


def test_a_client_secret_is_never_shared_between_servers() -> None:
    common: dict[str, Any] = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI}
    first = IssuerConfig(
        iss="https://a.example/fhir",
        auth_method="client_secret_basic",
        client_secret="same",
        **common,
    )
    second = IssuerConfig(
        iss="https://b.example/fhir",
        auth_method="client_secret_basic",
        client_secret="same",
        **common,
    )

    with pytest.raises(ValueError, match="reuses the client secret"):
        IssuerRegistry([first, second])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param({"client_id": CLIENT_ID}, "redirect_uri", id="secured-needs-redirect"),
        pytest.param(
            {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "auth_method": "magic"},
            "auth_method",
            id="unknown-method",
        ),
        pytest.param(
            {
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT_URI,
                "auth_method": "client_secret_basic",
            },
            "client_secret",
            id="basic-needs-secret",
        ),
        pytest.param(
            {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "client_secret": "x"},
            "only used with",
            id="secret-without-basic",
        ),
        pytest.param(
            {
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT_URI,
                "auth_method": "private_key_jwt",
            },
            "key_id",
            id="jwt-needs-key",
        ),
        pytest.param(
            {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope_version": "v3"},
            "scope_version",
            id="unknown-scope-version",
        ),
    ],
)
def test_inconsistent_entries_are_refused(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IssuerConfig(iss="https://ehr.example.org/fhir", **settings)  # type: ignore[arg-type]


def test_open_server_needs_no_client() -> None:
    entry = IssuerConfig(iss="http://localhost:8080/fhir/", open=True)

    assert entry.iss == "http://localhost:8080/fhir"
    assert not entry.can_authorize


def test_repr_hides_the_client_secret() -> None:
    entry = IssuerConfig(
        iss="https://ehr.example.org/fhir",
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        auth_method="client_secret_basic",
        client_secret="do-not-print-me",
    )

    assert "do-not-print-me" not in repr(entry)


def test_entry_is_built_from_a_settings_mapping() -> None:
    entry = issuer_from_mapping(
        {
            "iss": "https://ehr.example.org/fhir/",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "auth_method": "private_key_jwt",
            "key_id": "kid-1",
            "scopes": "system/Patient.rs system/Group.rs",
        }
    )

    assert entry.iss == "https://ehr.example.org/fhir"
    assert entry.scopes == ("system/Patient.rs", "system/Group.rs")
    assert entry.key_id == "kid-1"


def test_unknown_settings_key_is_named() -> None:
    with pytest.raises(ValueError, match="clientid"):
        issuer_from_mapping({"iss": "https://ehr.example.org/fhir", "clientid": "x"})
