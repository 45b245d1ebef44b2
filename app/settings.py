"""Application settings: environment variables prefixed ``PPACT_`` plus an optional YAML file.

Precedence (highest first): explicit overrides (CLI flags), ``PPACT_*`` environment variables, the
config file given with ``--config`` (or ``PPACT_CONFIG``), defaults. Everything is validated at
start-up; a bad value stops start-up with one line naming the setting (`SettingsError`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.clinical.policy import ClinicPolicy, PolicyError, default_policy, parse_policy
from app.storage.db import default_database_url
from smart_launch import (
    IssuerConfig,
    IssuerNotAllowed,
    IssuerRegistry,
    SigningAlgorithm,
    SigningKey,
    SmartLaunchError,
    issuer_from_mapping,
    load_private_key_env,
    load_private_key_file,
)

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
    page_load_deadline_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="Time a page waits for the EHR; sections still loading are shown unavailable.",
    )
    paper_size: Literal["letter", "a4"] = Field(
        default="letter", description="Paper of the one-page summary PDF: letter or a4."
    )
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
    issuers_file: Path | None = Field(
        default=None, description="YAML file with a list of issuer entries (docs/smart-launch.md)."
    )
    issuers: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Allowed FHIR servers (SMART issuers); see docs/smart-launch.md.",
    )
    default_iss: str | None = Field(
        default=None, description="Issuer a standalone launch without iss uses."
    )
    session_ttl_seconds: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)
    keys_dir: Path | None = Field(
        default=None, description="Signing keys for private_key_jwt (default {data_dir}/keys)."
    )
    session_key: SecretStr | None = Field(
        default=None, description="Fernet key sealing sessions (default {data_dir}/session.key)."
    )
    signing_key_rs384: SecretStr | None = Field(
        default=None,
        description="RS384 private key for private_key_jwt, PEM text (literal \\n allowed).",
    )
    signing_key_es384: SecretStr | None = Field(
        default=None, description="ES384 (P-384) private key for private_key_jwt, PEM text."
    )
    signing_key_rs384_file: Path | None = Field(
        default=None, description="File holding the RS384 private key (PEM)."
    )
    signing_key_es384_file: Path | None = Field(
        default=None, description="File holding the ES384 private key (PEM)."
    )

    @field_validator("signing_key_rs384", "signing_key_es384")
    @classmethod
    def _usable_key_text(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None:
            name = str(info.field_name)
            _check_signing_key(name, lambda alg: load_signing_key_text(value, alg=alg), secret=True)
        return value

    @field_validator("signing_key_rs384_file", "signing_key_es384_file")
    @classmethod
    def _usable_key_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None:
            name = str(info.field_name)
            if info.data.get(name.removesuffix("_file")) is not None:
                raise ValueError(f"set {name.removesuffix('_file')} or {name}, not both")
            _check_signing_key(
                name, lambda alg: load_private_key_file(value, alg=alg), secret=False
            )
        return value

    @field_validator("issuers")
    @classmethod
    def _valid_issuers(
        cls, value: list[dict[str, Any]], info: ValidationInfo
    ) -> list[dict[str, Any]]:
        try:
            _issuer_entries(info.data.get("issuers_file"), value, info.data.get("demo_fhir_base"))
        except ValueError as exc:
            # Saying "got" keeps the entries (they may hold client secrets) out of the error line.
            raise ValueError(f"{exc}; got {len(value)} entries") from None
        return value

    @field_validator("default_iss")
    @classmethod
    def _registered_default(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "issuers" not in info.data:
            return value
        entries = _issuer_entries(
            info.data.get("issuers_file"), info.data["issuers"], info.data.get("demo_fhir_base")
        )
        try:
            IssuerRegistry(entries).lookup(value)
        except IssuerNotAllowed as exc:
            raise ValueError(str(exc)) from None
        return value

    @property
    def issuer_registry(self) -> IssuerRegistry:
        """The allowlist: issuers_file, then issuers, then the demo server as an open issuer."""
        return IssuerRegistry(_issuer_entries(self.issuers_file, self.issuers, self.demo_fhir_base))

    # --- issue 5 (CDS Hooks) settings go below this line ---
    timezone: str = Field(
        default="America/Los_Angeles",
        description="Clinic time zone (IANA name); a CDS call's as-of date is its local day.",
    )
    cds_trusted_issuers: list[dict[str, Any]] = Field(
        default_factory=list,
        description="CDS clients whose JWTs are accepted: [{iss, jku: [...], jwks, jwks_file, "
        "algorithms, tenant}] (docs/cds-hooks.md).",
    )
    cds_fhir_servers: list[str] = Field(
        default_factory=list,
        description="FHIR base URLs the CDS service may fetch missing prefetch data from.",
    )
    cds_cors_origins: list[str] = Field(
        default_factory=lambda: ["https://sandbox.cds-hooks.org"],
        description="Browser origins allowed to call /cds-services (CORS).",
    )
    cds_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    cds_fetch_deadline_ms: int = Field(default=450, ge=50, le=10_000)
    cds_jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)

    @field_validator("cds_trusted_issuers")
    @classmethod
    def _valid_cds_issuers(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from cds_hooks.auth import parse_issuers

        parse_issuers(value)  # ValueError with one line naming the entry
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"must be an IANA time zone name, got {value!r}") from None
        return value

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


def load_signing_key_text(value: SecretStr, *, alg: SigningAlgorithm) -> SigningKey:
    """Load a signing key from a PEM setting (``PPACT_SIGNING_KEY_RS384`` / ``_ES384``)."""
    variable = f"{ENV_PREFIX}SIGNING_KEY_{alg}"
    return load_private_key_env(variable, alg=alg, environ={variable: value.get_secret_value()})


def _check_signing_key(
    name: str, load: Callable[[SigningAlgorithm], SigningKey], *, secret: bool
) -> None:
    """Load the key a setting names; ValueError without key material when it is not usable."""
    alg: SigningAlgorithm = "ES384" if "es384" in name else "RS384"
    try:
        load(alg)
    except SmartLaunchError as exc:
        # Saying "got" keeps the value (a private key) out of the error line.
        raise ValueError(f"{exc}; got a value that is not shown" if secret else str(exc)) from None


def _issuer_entries(
    issuers_file: Path | None, issuers: list[dict[str, Any]], demo_fhir_base: str | None
) -> list[IssuerConfig]:
    """Validated issuer entries; ValueError names the bad one (issue 3, docs/smart-launch.md)."""
    raw: list[tuple[str, object]] = []
    if issuers_file is not None:
        try:
            loaded = yaml.safe_load(issuers_file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"issuers_file {issuers_file} cannot be read: {exc}") from None
        listed = loaded.get("issuers", loaded) if isinstance(loaded, dict) else loaded
        if not isinstance(listed, list):
            raise ValueError(f"issuers_file {issuers_file} must hold a list of issuers")
        raw += [(f"{issuers_file} entry {i}", entry) for i, entry in enumerate(listed)]
    raw += [(f"entry {i}", entry) for i, entry in enumerate(issuers)]
    entries: list[IssuerConfig] = []
    for where, entry in raw:
        if not isinstance(entry, dict):
            raise ValueError(f"issuer {where} must be a mapping")
        try:
            entries.append(issuer_from_mapping(entry))
        except (ValueError, TypeError, IssuerNotAllowed) as exc:
            raise ValueError(f"issuer {where} ({entry.get('iss')!r}): {exc}") from None
    if demo_fhir_base and not any(e.iss == demo_fhir_base for e in entries):
        entries.append(IssuerConfig(iss=demo_fhir_base, open=True, name="Demo FHIR server"))
    try:
        IssuerRegistry(entries)
    except ValueError as exc:
        raise ValueError(f"issuers: {exc}") from None
    return entries


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
