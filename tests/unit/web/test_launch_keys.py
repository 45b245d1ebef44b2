"""Signing keys for private_key_jwt from settings (PEM text or files), else the dev keys."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey, RSAKey

from app.main import create_app
from app.settings import SettingsError, load_settings

RSA_KEY = RSAKey.generate_key(2048)
EC_KEY = ECKey.generate_key("P-384")
RSA_PEM = RSA_KEY.as_pem(private=True).decode()
EC_PEM = EC_KEY.as_pem(private=True).decode()


def _published_kids(settings_dir: Path, **overrides: object) -> tuple[set[str], set[str]]:
    settings = load_settings(overrides={"data_dir": settings_dir, **overrides})
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        keys = client.get("/.well-known/jwks.json").json()["keys"]
    return {k["kid"] for k in keys}, {k["alg"] for k in keys}


def test_keys_from_pem_text_in_the_environment_and_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.web.signing")
    # Deployment tools often cannot hold a multi-line value: literal \n is accepted.
    monkeypatch.setenv("PPACT_SIGNING_KEY_RS384", RSA_PEM.replace("\n", "\\n"))
    es_file = tmp_path / "es384.pem"
    es_file.write_text(EC_PEM)

    kids, algs = _published_kids(tmp_path / "data", signing_key_es384_file=es_file)

    assert kids == {RSA_KEY.thumbprint(), EC_KEY.thumbprint()}
    assert algs == {"RS384", "ES384"}
    assert not (tmp_path / "data" / "keys").exists()  # no dev key was generated
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RS384" in logged and "from setting signing_key_rs384" in logged
    assert "from setting signing_key_es384_file" in logged
    assert "PRIVATE KEY" not in logged and RSA_PEM.splitlines()[1] not in logged


def test_an_algorithm_without_a_configured_key_falls_back_to_the_dev_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.web.signing")

    kids, _ = _published_kids(tmp_path, signing_key_es384=EC_PEM)

    assert EC_KEY.thumbprint() in kids and len(kids) == 2
    assert (tmp_path / "keys" / "dev-rs384.pem").exists()
    assert "development key" in "\n".join(r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"signing_key_rs384": "-----BEGIN PRIVATE KEY-----\nnot a key\n"}, "signing_key_rs384"),
        ({"signing_key_rs384": EC_PEM}, "signing_key_rs384"),  # wrong key type for RS384
        ({"signing_key_es384": RSA_PEM}, "signing_key_es384"),
        ({"signing_key_es384_file": Path("/nonexistent/es.pem")}, "signing_key_es384_file"),
        (
            {"signing_key_es384": EC_PEM, "signing_key_es384_file": Path("/x.pem")},
            "signing_key_es384_file",
        ),
    ],
)
def test_a_bad_key_stops_start_up_with_one_line_naming_the_setting(
    overrides: dict[str, object], setting: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(overrides=overrides)
    message = str(caught.value)
    assert message.startswith(f"setting {setting} (PPACT_{setting.upper()})")
    assert "\n" not in message
    assert "PRIVATE KEY" not in message and "not a key" not in message
    assert EC_PEM.splitlines()[1] not in message and RSA_PEM.splitlines()[1] not in message
