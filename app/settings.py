"""Application settings: environment variables prefixed ``PPACT_`` plus an optional YAML file.

Precedence (highest first): explicit overrides (CLI flags), ``PPACT_*`` environment variables, the
config file given with ``--config`` (or ``PPACT_CONFIG``), defaults. Everything is validated at
start-up; a bad value stops start-up with one line naming the setting (`SettingsError`).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.clinical.policy import ClinicPolicy, PolicyError, default_policy, parse_policy
from app.storage.db import default_database_url

ENV_PREFIX = "PPACT_"


class SettingsError(ValueError):
    """A setting is missing or invalid; the message is one line naming it."""


class Settings(BaseSettings):
    """Everything the app reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, validate_default=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = Field(
        default=None,
        description="External base URL of the app (used for CDS JWT aud checks and links); "
        "defaults to http://{host}:{port}.",
    )
    data_dir: Path = Field(default=Path("var"), description="SQLite files, keys, audit log.")
    policy_file: Path | None = Field(default=None, description="Clinic policy YAML.")
    demo_fhir_base: str | None = Field(
        default=None, description="Open FHIR server whose patients the landing page lists."
    )
    frame_ancestors: list[str] = Field(
        default_factory=list, description="EHR origins allowed to frame the app (CSP)."
    )
    log_level: str = "INFO"
    database_url: str | None = Field(
        default=None,
        description="sqlite:///file.db (default: {data_dir}/ppact.db) or postgresql://...",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("redis_url", "PPACT_REDIS_URL", "REDIS_URL"),
        description="Session store for several instances; SQLite sessions when unset.",
    )
    cds_allow_unsigned: bool = False
    # --- issue 3 (SMART launch, sessions) settings go below this line ---
    # --- issue 5 (CDS Hooks) settings go below this line ---

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"must be DEBUG, INFO, WARNING or ERROR, got {value!r}")
        return level

    @field_validator("public_url", "demo_fhir_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def sql_url(self) -> str:
        """The database URL in force (the SQLite default when none is configured)."""
        return self.database_url or default_database_url(self.data_dir)

    @property
    def policy(self) -> ClinicPolicy:
        """The clinic policy: parsed once per file, validated at start-up by `load_settings`."""
        return _policy_from(self.policy_file)


@cache
def _policy_from(path: Path | None) -> ClinicPolicy:
    if path is None:
        return default_policy()
    return parse_policy(path.read_text(encoding="utf-8"))


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"config file {path}: cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {path}: not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"config file {path}: must be a mapping of setting names to values")
    return data


def _first_error_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    name = ".".join(str(part) for part in err["loc"]) or "settings"
    env_name = ENV_PREFIX + name.split(".")[0].upper()
    given = err.get("input")
    got = "" if isinstance(given, dict) else f", got {given!r}"
    message = err["msg"]
    if "got " in message:
        got = ""
    return f"setting {name} ({env_name}): {message}{got}"


def load_settings(
    config_file: Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Build and validate settings; raise `SettingsError` with one line naming what is wrong.

    Args:
        config_file: optional YAML file of settings (keys as the field names).
        overrides: values that win over the environment (from CLI flags); None values are ignored.
    """
    path = config_file or (
        Path(os.environ[f"{ENV_PREFIX}CONFIG"]) if os.environ.get(f"{ENV_PREFIX}CONFIG") else None
    )
    file_values = _read_config_file(path) if path else {}
    env_names = {key[len(ENV_PREFIX) :].lower() for key in os.environ if key.startswith(ENV_PREFIX)}
    # Environment beats the file: drop file keys the environment sets.
    values = {k: v for k, v in file_values.items() if k not in env_names}
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        raise SettingsError(_first_error_line(exc)) from exc
    try:
        settings.policy  # noqa: B018 - validate the policy file at start-up
    except OSError as exc:
        raise SettingsError(
            f"setting policy_file ({ENV_PREFIX}POLICY_FILE): cannot read {settings.policy_file}"
        ) from exc
    except PolicyError as exc:
        raise SettingsError(f"setting policy_file ({settings.policy_file}): {exc}") from exc
    return settings
