"""CDS settings are validated at start-up with one line naming the setting."""

from __future__ import annotations

import pytest

from app.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("variable", "value", "needle"),
    [
        pytest.param("PPACT_TIMEZONE", "Mars/Olympus", "timezone", id="timezone"),
        pytest.param(
            "PPACT_CDS_TRUSTED_ISSUERS",
            '[{"iss": "https://ehr.example.org"}]',
            "needs jku or jwks",
            id="issuer-without-keys",
        ),
        pytest.param("PPACT_CDS_FETCH_DEADLINE_MS", "5", "cds_fetch_deadline_ms", id="deadline"),
        pytest.param("PPACT_CDS_MAX_BODY_BYTES", "10", "cds_max_body_bytes", id="body-limit"),
    ],
)
def test_bad_cds_settings_stop_start_up_with_one_line(monkeypatch, variable, value, needle):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert needle in message
    assert "\n" not in message


def test_cds_defaults(monkeypatch):
    settings = load_settings()
    assert settings.timezone == "America/Los_Angeles"
    assert settings.cds_cors_origins == ["https://sandbox.cds-hooks.org"]
    assert settings.cds_fetch_deadline_ms == 450
    assert settings.cds_max_body_bytes == 8 * 1024 * 1024
    assert settings.cds_allow_unsigned is False
