"""Our ``private_key_jwt`` signing keys: from settings (PEM text or file), else dev keys.

Per algorithm (RS384 and ES384, SMART client-confidential-asymmetric): the PEM text setting,
else the file setting, else the development key generated in ``keys_dir`` on first run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import SecretStr

from app.settings import Settings, load_signing_key_text
from smart_launch import (
    KeyRing,
    SigningAlgorithm,
    SigningKey,
    ensure_dev_keys,
    load_private_key_file,
)

__all__ = ["signing_keys"]

log = logging.getLogger(__name__)


_KEY_SETTINGS: tuple[tuple[SigningAlgorithm, str], ...] = (
    ("RS384", "signing_key_rs384"),
    ("ES384", "signing_key_es384"),
)


def signing_keys(settings: Settings) -> KeyRing:
    """Our ``private_key_jwt`` keys: configured ones first, the generated dev keys otherwise.

    Per algorithm: the PEM text setting (``PPACT_SIGNING_KEY_RS384`` / ``_ES384``), else the
    file setting (``..._FILE``), else the development key in ``keys_dir`` (generated on first
    run). Which source each key came from is logged with its ``kid``, never the key.

    Args:
        settings: The app's settings (already validated, so configured keys load).

    Returns:
        One RS384 and one ES384 key.

    Raises:
        SmartLaunchError: A key could not be loaded (settings validation normally catches it).
    """
    chosen: list[SigningKey] = []
    dev: KeyRing | None = None
    for alg, name in _KEY_SETTINGS:
        text: SecretStr | None = getattr(settings, name)
        path: Path | None = getattr(settings, f"{name}_file")
        if text is not None:
            key, source = load_signing_key_text(text, alg=alg), f"setting {name}"
        elif path is not None:
            key, source = load_private_key_file(path, alg=alg), f"setting {name}_file"
        else:
            keys_dir = settings.keys_dir or settings.data_dir / "keys"
            dev = dev or ensure_dev_keys(keys_dir)
            key, source = dev.for_alg(alg), "development key in keys_dir"
        log.info("signing key %s (kid %s) from %s", alg, key.kid, source)
        chosen.append(key)
    return KeyRing(chosen)
