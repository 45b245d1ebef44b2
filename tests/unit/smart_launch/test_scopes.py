"""Scope strings: building v1/v2 scopes and reading what was granted."""

from __future__ import annotations

import pytest

from smart_launch import parse_scopes, resource_scope, resource_scopes


@pytest.mark.parametrize(
    ("access", "version", "expected"),
    [
        pytest.param("read", "v2", "patient/Observation.rs", id="v2-read"),
        pytest.param("read", "v1", "patient/Observation.read", id="v1-read"),
        pytest.param("write", "v2", "patient/Observation.cud", id="v2-write"),
        pytest.param("write", "v1", "patient/Observation.write", id="v1-write"),
        pytest.param("c", "v2", "patient/Observation.c", id="v2-create-only"),
        pytest.param("c", "v1", "patient/Observation.write", id="v1-create-is-write"),
        pytest.param("all", "v2", "patient/Observation.cruds", id="v2-all"),
        pytest.param("sr", "v2", "patient/Observation.rs", id="letters-reordered"),
        pytest.param("cr", "v1", "patient/Observation.*", id="v1-mixed-is-star"),
    ],
)
def test_resource_scope_in_each_syntax(access: str, version: str, expected: str) -> None:
    assert resource_scope("Observation", access, version=version) == expected  # type: ignore[arg-type]


def test_system_scopes_for_several_types() -> None:
    assert resource_scopes(["Patient", "Group"], context="system") == (
        "system/Patient.rs",
        "system/Group.rs",
    )


@pytest.mark.parametrize("access", ["x", "", "readwrite"])
def test_unknown_access_is_refused(access: str) -> None:
    with pytest.raises(ValueError, match="access"):
        resource_scope("Patient", access)


@pytest.mark.parametrize(
    ("scope", "resource_type", "access", "expected"),
    [
        pytest.param("patient/Observation.rs", "Observation", "read", True, id="v2-rs-read"),
        pytest.param("patient/Observation.r", "Observation", "read", False, id="v2-r-no-search"),
        pytest.param(
            "patient/Observation.r patient/Observation.s", "Observation", "read", True, id="sum"
        ),
        pytest.param("patient/Observation.read", "Observation", "read", True, id="v1-read"),
        pytest.param("patient/Observation.read", "Observation", "write", False, id="v1-no-write"),
        pytest.param("user/*.read", "MedicationRequest", "read", True, id="v1-wildcard"),
        pytest.param("patient/*.cruds", "DocumentReference", "c", True, id="v2-wildcard"),
        pytest.param("patient/*.*", "Condition", "all", True, id="v1-star-star"),
        pytest.param("patient/DocumentReference.c", "DocumentReference", "c", True, id="create"),
        pytest.param("patient/Patient.rs", "Observation", "read", False, id="other-type"),
        pytest.param(
            "patient/Observation.rs?category=laboratory",
            "Observation",
            "read",
            False,
            id="granular-is-partial",
        ),
        pytest.param("patient/Observation.sr", "Observation", "read", True, id="any-letter-order"),
        pytest.param("patient/Observation.rx", "Observation", "read", False, id="bad-letters"),
        pytest.param("launch openid fhirUser", "Patient", "read", False, id="no-resource-scopes"),
        pytest.param("", "Patient", "read", False, id="empty"),
    ],
)
def test_granted_reads_v1_and_v2(
    scope: str, resource_type: str, access: str, expected: bool
) -> None:
    assert parse_scopes(scope).granted(resource_type, access) is expected


def test_granted_can_be_limited_to_a_context() -> None:
    granted = parse_scopes("user/Observation.rs system/Group.rs")

    assert granted.granted("Observation", "read", context="user")
    assert not granted.granted("Observation", "read", context="patient")
    assert granted.granted("Group", "read", context="system")


def test_parse_keeps_every_token_and_reads_granular_queries() -> None:
    granted = parse_scopes("launch  openid patient/Observation.rs?category=laboratory openid")

    assert granted.tokens == ("launch", "openid", "patient/Observation.rs?category=laboratory")
    assert granted.has("openid")
    assert not granted.has("offline_access")
    assert str(granted) == "launch openid patient/Observation.rs?category=laboratory"
    (observation,) = granted.resources
    assert observation.context == "patient"
    assert observation.permissions == frozenset("rs")
    assert observation.query == "category=laboratory"


def test_none_scope_is_empty() -> None:
    assert parse_scopes(None).tokens == ()
