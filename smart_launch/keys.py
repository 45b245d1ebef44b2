"""Our private signing keys for ``private_key_jwt`` and the public JWKS we publish.

SMART App Launch 2.2 "Client Authentication: Asymmetric (public key)": the client signs its
assertion with RS384 or ES384 and must be able to do both; the server fetches the matching public
key from our JWKS (``kid``, ``alg``, ``use=sig``). Keys come from PEM files or environment
variables in production; for development :func:`ensure_dev_keys` generates an RSA and an EC P-384
key on first run and keeps them on disk readable by the owner only (0600).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, RSAKey

from smart_launch.errors import SmartLaunchError

__all__ = [
    "DEV_KEY_FILES",
    "KeyRing",
    "SigningAlgorithm",
    "SigningKey",
    "ensure_dev_keys",
    "load_private_key",
    "load_private_key_env",
    "load_private_key_file",
]

SigningAlgorithm = Literal["RS384", "ES384"]

DEV_KEY_FILES: dict[SigningAlgorithm, str] = {
    "RS384": "dev-rs384.pem",
    "ES384": "dev-es384.pem",
}
_RSA_KEY_BITS = 2048
_PRIVATE_FILE_MODE = 0o600


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One private key and how we sign with it.

    Attributes:
        kid: Key id sent in the JWT header and published in the JWKS.
        alg: ``RS384`` or ``ES384``.
        key: The private key (joserfc).
    """

    kid: str
    alg: SigningAlgorithm
    key: RSAKey | ECKey = field(repr=False)

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK with ``kid``, ``alg`` and ``use=sig``."""
        return dict(self.key.as_dict(private=False, kid=self.kid, alg=self.alg, use="sig"))


def _check_key_matches(key: RSAKey | ECKey, alg: SigningAlgorithm) -> None:
    raw = key.raw_value
    if alg == "RS384":
        if not isinstance(raw, rsa.RSAPrivateKey):
            raise SmartLaunchError("RS384 needs an RSA private key")
        if raw.key_size < _RSA_KEY_BITS:
            raise SmartLaunchError(f"RS384 needs an RSA key of at least {_RSA_KEY_BITS} bits")
    elif not isinstance(raw, ec.EllipticCurvePrivateKey) or raw.curve.name != "secp384r1":
        raise SmartLaunchError("ES384 needs an EC P-384 private key")


def load_private_key(
    pem: str | bytes,
    *,
    alg: SigningAlgorithm,
    kid: str | None = None,
    password: str | None = None,
) -> SigningKey:
    """Load a PEM private key for signing.

    Args:
        pem: The PEM text (PKCS#8 or traditional).
        alg: The algorithm the key is for; the key type must match.
        kid: Key id; defaults to the RFC 7638 thumbprint, which is stable across restarts.
        password: Passphrase of an encrypted PEM.

    Returns:
        The signing key.

    Raises:
        SmartLaunchError: Not a private key, or the key does not fit ``alg``.
    """
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        raw = serialization.load_pem_private_key(
            data, password=password.encode() if password is not None else None
        )
    except (ValueError, TypeError) as exc:
        raise SmartLaunchError(f"not a usable PEM private key ({type(exc).__name__})") from None
    key: RSAKey | ECKey
    if isinstance(raw, rsa.RSAPrivateKey):
        key = RSAKey.import_key(raw)
    elif isinstance(raw, ec.EllipticCurvePrivateKey):
        key = ECKey.import_key(raw)
    else:
        raise SmartLaunchError("only RSA and EC private keys are supported")
    _check_key_matches(key, alg)
    return SigningKey(kid=kid or key.thumbprint(), alg=alg, key=key)


def load_private_key_file(
    path: Path, *, alg: SigningAlgorithm, kid: str | None = None, password: str | None = None
) -> SigningKey:
    """Load a PEM private key from a file; see :func:`load_private_key`."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise SmartLaunchError(f"cannot read key file {path} ({exc.strerror})") from None
    return load_private_key(pem, alg=alg, kid=kid, password=password)


def load_private_key_env(
    name: str,
    *,
    alg: SigningAlgorithm,
    kid: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> SigningKey:
    """Load a PEM private key from an environment variable.

    Literal ``\\n`` sequences are turned into newlines, since many deployment tools cannot put a
    multi-line value in a variable.

    Args:
        name: The variable name, for example ``PPACT_SIGNING_KEY_RS384``.
        alg: The algorithm the key is for.
        kid: Key id; defaults to the thumbprint.
        environ: The environment to read; defaults to ``os.environ``.

    Returns:
        The signing key.

    Raises:
        SmartLaunchError: The variable is unset or does not hold a usable key.
    """
    value = (os.environ if environ is None else environ).get(name)
    if not value:
        raise SmartLaunchError(f"environment variable {name} is not set")
    return load_private_key(value.replace("\\n", "\n"), alg=alg, kid=kid)


def _generate(alg: SigningAlgorithm) -> RSAKey | ECKey:
    if alg == "RS384":
        return RSAKey.generate_key(_RSA_KEY_BITS)
    return ECKey.generate_key("P-384")


def _load_or_create(path: Path, alg: SigningAlgorithm) -> SigningKey:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE_MODE)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SmartLaunchError(
                f"{path} is readable by others (mode {mode:o}); run chmod 600 on it"
            ) from None
        return load_private_key_file(path, alg=alg)
    with os.fdopen(fd, "wb") as handle:
        handle.write(_generate(alg).as_pem(private=True))
    return load_private_key_file(path, alg=alg)


def ensure_dev_keys(directory: Path) -> KeyRing:
    """Load the development keys from ``directory``, generating them on first run.

    The directory is created with mode 0700 and each key file with mode 0600. An existing key file
    that others can read is refused rather than used.

    Args:
        directory: Where ``dev-rs384.pem`` and ``dev-es384.pem`` live.

    Returns:
        A key ring with one RS384 and one ES384 key.

    Raises:
        SmartLaunchError: A key file is unreadable, unusable or has loose permissions.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return KeyRing(_load_or_create(directory / name, alg) for alg, name in DEV_KEY_FILES.items())


class KeyRing:
    """Our signing keys by ``kid``; :meth:`jwks` is the document we publish."""

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        """Collect keys.

        Raises:
            ValueError: Two keys share a ``kid``.
        """
        by_kid: dict[str, SigningKey] = {}
        for key in keys:
            if key.kid in by_kid:
                raise ValueError(f"two signing keys share kid {key.kid!r}")
            by_kid[key.kid] = key
        self._by_kid = by_kid

    def get(self, kid: str) -> SigningKey:
        """The key with this ``kid``.

        Raises:
            SmartLaunchError: No such key.
        """
        try:
            return self._by_kid[kid]
        except KeyError:
            raise SmartLaunchError(f"no signing key with kid {kid!r}") from None

    def for_alg(self, alg: SigningAlgorithm) -> SigningKey:
        """The first key for ``alg``.

        Raises:
            SmartLaunchError: No key for this algorithm.
        """
        for key in self._by_kid.values():
            if key.alg == alg:
                return key
        raise SmartLaunchError(f"no signing key for {alg}")

    def __iter__(self) -> Iterator[SigningKey]:
        return iter(self._by_kid.values())

    def __len__(self) -> int:
        return len(self._by_kid)

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public JWKS (``{"keys": [...]}``); never contains private members."""
        return {"keys": [key.public_jwk() for key in self._by_kid.values()]}
