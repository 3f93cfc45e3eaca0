"""Encryption of secrets at rest (Proxmox token secrets) with rotating keys.

Keys come from ``FIELD_ENCRYPTION_KEYS`` (newest first). Each key is any string of
at least 32 characters; a Fernet key is derived from it with HKDF-SHA256, so
operators can use the output of ``openssl rand -base64 48`` directly. Decryption
tries every key, so rotation is: prepend a key, restart, run ``rotate_secrets``,
then drop the old key. Without keys (DEBUG only) the key derives from SECRET_KEY.
"""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_INFO = b"steward field encryption v1"
MIN_KEY_LENGTH = 32


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def _derive(key: str, *, check_length: bool = True) -> Fernet:
    if check_length and len(key) < MIN_KEY_LENGTH:
        raise ImproperlyConfigured(
            f"each FIELD_ENCRYPTION_KEYS entry needs at least {MIN_KEY_LENGTH} characters"
        )
    material = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(material))


@cache
def _fernet(keys: tuple[str, ...], *, from_secret_key: bool = False) -> MultiFernet:
    # The DEBUG fallback takes SECRET_KEY as it is; operators' keys must be long.
    return MultiFernet([_derive(k, check_length=not from_secret_key) for k in keys])


def _current() -> MultiFernet:
    if settings.FIELD_ENCRYPTION_KEYS:
        return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))
    return _fernet((settings.SECRET_KEY,), from_secret_key=True)


def encrypt(plaintext: str) -> str:
    """Encrypt with the newest key; the token embeds a timestamp and an HMAC."""
    return _current().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise SecretDecryptionError(
            "a stored secret cannot be decrypted: FIELD_ENCRYPTION_KEYS lacks the key it was "
            "encrypted with"
        ) from exc


def reencrypt(token: str) -> str:
    """Re-encrypt a token under the newest key (for key rotation)."""
    try:
        return _current().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise SecretDecryptionError("a stored secret cannot be decrypted for rotation") from exc
