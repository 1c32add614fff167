"""Personal data at rest: AES-256-GCM with a key id stored in every value, so keys can rotate.

Stored form: ``enc1:<kid>:<base64url(nonce ‖ ciphertext ‖ tag)>`` — a random 96-bit nonce per value, the column
name is not bound (values may move between columns in a data migration), the fixed AAD ``voronka-pd`` is.

Keys come from ``ENCRYPTION_KEYS`` = ``"kid:base64key,kid2:base64key"`` (32-byte keys); the first one encrypts, all of
them decrypt. In development/test without keys a key is derived from ``JWT_SECRET_KEY`` (with a warning); production
refuses to start without keys. ``EncryptedText`` is the SQLAlchemy column type: Python sees ``str``, the database
holds the ciphertext (TEXT). Values written before encryption (no ``enc1:`` prefix) are read as they are.

The key ring is process-wide: ``configure(settings)`` at start-up (web app, worker, CLI); if nothing configured it, the
first use configures it from ``voronka.settings.get_settings()``. Configuring again adds keys (all stay usable for
decryption) and makes the new first key the one that encrypts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from loguru import logger

from voronka.settings import Settings, get_settings

PREFIX = "enc1:"
NONCE_BYTES = 12
AAD = b"voronka-pd"
KID_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


class CryptoConfigError(ValueError):
    """ENCRYPTION_KEYS is malformed (or missing in production)."""


class DecryptionError(ValueError):
    """A stored value cannot be decrypted: unknown key id or altered data."""


@dataclass
class KeyRing:
    primary: str
    keys: dict[str, bytes] = field(default_factory=dict)
    hash_key: bytes = b""

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.primary]).encrypt(nonce, plaintext.encode("utf-8"), AAD)
        return f"{PREFIX}{self.primary}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # written before encryption was switched on
        try:
            kid, blob = stored[len(PREFIX):].split(":", 1)
        except ValueError:
            raise DecryptionError("malformed encrypted value") from None
        key = self.keys.get(kid)
        if key is None:
            raise DecryptionError(f"unknown encryption key id {kid!r}: add it to ENCRYPTION_KEYS")
        try:
            raw = base64.urlsafe_b64decode(blob.encode("ascii"))
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], AAD).decode("utf-8")
        except Exception as exc:  # InvalidTag, bad base64, bad UTF-8: all mean the value was altered
            raise DecryptionError(f"encrypted value with key id {kid!r} does not decrypt") from exc


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """``"kid:base64key,..."`` → [(kid, 32-byte key)], in order."""
    found: list[tuple[str, bytes]] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, b64 = part.partition(":")
        kid = kid.strip()
        if not sep or not kid or not set(kid) <= KID_ALPHABET:
            raise CryptoConfigError("ENCRYPTION_KEYS: каждый ключ задаётся как kid:base64 (kid — латиница, цифры, _-.)")
        text = b64.strip().replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise CryptoConfigError(f"ENCRYPTION_KEYS: ключ {kid} — не base64") from None
        if len(key) != 32:
            raise CryptoConfigError(f"ENCRYPTION_KEYS: ключ {kid} должен быть 32 байта (AES-256), а не {len(key)}")
        if kid in dict(found):
            raise CryptoConfigError(f"ENCRYPTION_KEYS: ключ {kid} указан дважды")
        found.append((kid, key))
    return found


def generate_key() -> str:
    """A new random key in ENCRYPTION_KEYS form (base64 of 32 bytes)."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def _derive(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(f"voronka:{purpose}:{secret}".encode()).digest()


def build_keyring(settings: Settings) -> KeyRing:
    keys = parse_keys(settings.ENCRYPTION_KEYS)
    if keys:
        ring = KeyRing(primary=keys[0][0], keys=dict(keys))
    else:
        if settings.is_production:
            raise CryptoConfigError("ENCRYPTION_KEYS: в production нужен ключ шифрования персональных данных "
                                    "(сгенерируйте: voronka admin gen-key)")
        key = _derive(settings.JWT_SECRET_KEY, "encryption")
        kid = "dev" + hashlib.sha256(key).hexdigest()[:8]
        ring = KeyRing(primary=kid, keys={kid: key})
    hash_secret = settings.CONTACT_HASH_KEY or settings.JWT_SECRET_KEY
    ring.hash_key = _derive(hash_secret, "contact-hash")
    return ring


_lock = threading.Lock()
_ring: KeyRing | None = None
_warned = False


def configure(settings: Settings) -> KeyRing:
    """Install the key ring of ``settings`` (keys configured earlier stay usable for decryption)."""
    global _ring, _warned
    ring = build_keyring(settings)
    if not settings.ENCRYPTION_KEYS and not _warned:
        _warned = True
        logger.warning("ENCRYPTION_KEYS is not set: personal data is encrypted with a key derived from "
                       "JWT_SECRET_KEY (fine for development, not for production)")
    with _lock:
        if _ring is not None:
            merged = dict(_ring.keys)
            merged.update(ring.keys)
            ring.keys = merged
        _ring = ring
    return ring


def keyring() -> KeyRing:
    ring = _ring
    if ring is None:
        ring = configure(get_settings())
    return ring


def encrypt(plaintext: str) -> str:
    return keyring().encrypt(plaintext)


def decrypt(stored: str) -> str:
    return keyring().decrypt(stored)


def is_encrypted(stored: str | None) -> bool:
    return bool(stored) and str(stored).startswith(PREFIX)


def contact_hash_key() -> bytes:
    """The HMAC key of contact look-up hashes (``CONTACT_HASH_KEY``, else derived from ``JWT_SECRET_KEY``)."""
    return keyring().hash_key


class EncryptedText(sa.types.TypeDecorator[str]):
    """A TEXT column whose values are encrypted with the process key ring (``str`` in Python)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        return encrypt(str(value))

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        return decrypt(str(value))

    @property
    def python_type(self) -> type[str]:
        return str


class EncryptedJSON(sa.types.TypeDecorator[Any]):
    """A TEXT column holding a JSON document encrypted with the process key ring (a dict/list in Python).

    For JSON that carries personal data (the brief: name, phone, e-mail) and is never queried inside SQL.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        return encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        return json.loads(decrypt(str(value)))
