"""Signing keys: loading from PEM, file and environment; dev keys on disk; the public JWKS."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from smart_launch import (
    KeyRing,
    SigningAlgorithm,
    SigningKey,
    SmartLaunchError,
    ensure_dev_keys,
    load_private_key,
    load_private_key_env,
    load_private_key_file,
)
from smart_launch.keys import DEV_KEY_FILES


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_dev_keys_are_generated_once_with_owner_only_permissions(tmp_path: Path) -> None:
    directory = tmp_path / "keys"

    first = ensure_dev_keys(directory)
    second = ensure_dev_keys(directory)

    assert mode(directory) == 0o700
    for name in DEV_KEY_FILES.values():
        assert mode(directory / name) == 0o600
    assert sorted(key.alg for key in first) == ["ES384", "RS384"]
    assert [key.kid for key in first] == [key.kid for key in second]


def test_dev_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    ensure_dev_keys(tmp_path)
    (tmp_path / DEV_KEY_FILES["RS384"]).chmod(0o644)

    with pytest.raises(SmartLaunchError, match="chmod 600"):
        ensure_dev_keys(tmp_path)


def test_jwks_publishes_public_keys_that_verify_our_signatures(tmp_path: Path) -> None:
    ring = ensure_dev_keys(tmp_path)

    jwks = ring.jwks()

    assert len(jwks["keys"]) == 2
    for published in jwks["keys"]:
        assert published["use"] == "sig"
        assert published["alg"] in ("RS384", "ES384")
        assert published["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(published)
    public_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    for key in ring:
        token = jwt.encode(
            {"alg": key.alg, "kid": key.kid}, {"sub": "x"}, key.key, algorithms=[key.alg]
        )
        assert jwt.decode(token, public_set, algorithms=[key.alg]).claims == {"sub": "x"}


def test_pem_round_trip_keeps_the_thumbprint_kid(tmp_path: Path) -> None:
    rsa = RSAKey.generate_key(2048)
    path = tmp_path / "rs.pem"
    path.write_bytes(rsa.as_pem(private=True))

    loaded = load_private_key_file(path, alg="RS384")

    assert loaded.kid == rsa.thumbprint()
    assert loaded.public_jwk()["n"] == rsa.as_dict(private=False)["n"]


def test_explicit_kid_and_encrypted_pem() -> None:
    ec = ECKey.generate_key("P-384")
    pem = ec.as_pem(private=True, password="pass-phrase")

    loaded = load_private_key(pem, alg="ES384", kid="clinic-key-2026", password="pass-phrase")

    assert loaded.kid == "clinic-key-2026"
    assert loaded.alg == "ES384"


def test_key_from_environment_with_escaped_newlines() -> None:
    pem = ECKey.generate_key("P-384").as_pem(private=True).decode()
    environ = {"PPACT_SIGNING_KEY": pem.replace("\n", "\\n")}

    loaded = load_private_key_env("PPACT_SIGNING_KEY", alg="ES384", environ=environ)

    assert loaded.alg == "ES384"


def test_missing_environment_variable_is_named() -> None:
    with pytest.raises(SmartLaunchError, match="PPACT_SIGNING_KEY"):
        load_private_key_env("PPACT_SIGNING_KEY", alg="RS384", environ={})


@pytest.mark.parametrize(
    ("make_pem", "alg", "message"),
    [
        pytest.param(
            lambda: ECKey.generate_key("P-384").as_pem(private=True), "RS384", "RSA", id="ec-as-rs"
        ),
        pytest.param(
            lambda: ECKey.generate_key("P-256").as_pem(private=True), "ES384", "P-384", id="p256"
        ),
        pytest.param(
            lambda: RSAKey.generate_key(2048).as_pem(private=True), "ES384", "P-384", id="rs-as-es"
        ),
        pytest.param(
            lambda: RSAKey.generate_key(2048).as_pem(private=False), "RS384", "PEM", id="public"
        ),
        pytest.param(lambda: b"garbage", "RS384", "PEM", id="garbage"),
    ],
)
def test_key_that_does_not_fit_the_algorithm_is_refused(
    make_pem: Callable[[], bytes], alg: SigningAlgorithm, message: str
) -> None:
    with pytest.raises(SmartLaunchError, match=message):
        load_private_key(make_pem(), alg=alg)


def test_unreadable_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SmartLaunchError, match=r"missing\.pem"):
        load_private_key_file(tmp_path / "missing.pem", alg="RS384")


def test_key_ring_lookup(rs384_key: SigningKey, es384_key: SigningKey) -> None:
    ring = KeyRing([rs384_key, es384_key])

    assert ring.get("ppact-es384") is es384_key
    assert ring.for_alg("RS384") is rs384_key
    assert len(ring) == 2
    with pytest.raises(SmartLaunchError, match="no signing key"):
        ring.get("other")
    with pytest.raises(ValueError, match="share kid"):
        KeyRing([rs384_key, rs384_key])


def test_private_key_stays_out_of_repr(rs384_key: SigningKey) -> None:
    assert "RSAKey" not in repr(rs384_key)
    assert repr(rs384_key) == "SigningKey(kid='ppact-rs384', alg='RS384')"
