"""Settings: environment beats file, and a bad value stops start-up with one clear line."""

from pathlib import Path

import pytest

from app.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("PPACT_"):
            monkeypatch.delenv(key)


def test_defaults_bind_to_loopback():
    settings = load_settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.base_url == "http://127.0.0.1:8000"


def test_environment_variable_is_read(monkeypatch):
    monkeypatch.setenv("PPACT_PORT", "8123")
    assert load_settings().port == 8123


def test_bad_port_names_the_setting_in_one_line(monkeypatch):
    monkeypatch.setenv("PPACT_PORT", "eighty")
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("setting port (PPACT_PORT):")
    assert "eighty" in message


def test_config_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch):
    config = tmp_path / "ppact.yaml"
    config.write_text("port: 9001\nlog_level: debug\n")
    assert load_settings(config).port == 9001
    monkeypatch.setenv("PPACT_PORT", "9002")
    settings = load_settings(config)
    assert settings.port == 9002
    assert settings.log_level == "DEBUG"


def test_unknown_key_in_config_file_is_refused(tmp_path: Path):
    config = tmp_path / "ppact.yaml"
    config.write_text("prot: 9001\n")
    with pytest.raises(SettingsError, match=r"^setting prot \(PPACT_PROT\): Extra inputs"):
        load_settings(config)


def test_config_file_that_is_not_a_mapping_is_refused(tmp_path: Path):
    config = tmp_path / "ppact.yaml"
    config.write_text("- 1\n- 2\n")
    with pytest.raises(SettingsError, match="must be a mapping"):
        load_settings(config)


def test_cli_override_beats_environment(monkeypatch):
    monkeypatch.setenv("PPACT_PORT", "8123")
    assert load_settings(overrides={"port": 8200, "host": None}).port == 8200


def test_bad_policy_file_stops_start_up(tmp_path: Path, monkeypatch):
    policy = tmp_path / "policy.yaml"
    policy.write_text("mme:\n  thresholds: [50, ninety]\n")
    monkeypatch.setenv("PPACT_POLICY_FILE", str(policy))
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "\n" not in str(err.value)
    assert "thresholds" in str(err.value)


def test_missing_policy_file_is_named(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PPACT_POLICY_FILE", str(tmp_path / "nope.yaml"))
    with pytest.raises(SettingsError, match="policy_file"):
        load_settings()
