"""AES-256-GCM at rest: round trips, a random nonce per value, key ids that rotate, tampering refused."""

from __future__ import annotations

import base64

import pytest

from db import crypto
from db.crypto import CryptoConfigError, DecryptionError, KeyRing, build_keyring, parse_keys
from voronka.settings import Settings

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(32, 64))).decode()


@pytest.fixture(autouse=True)
def _restore_keyring():  # type: ignore[no-untyped-def]
    saved = crypto._ring
    yield
    crypto._ring = saved


def make_settings(**kw: object) -> Settings:
    return Settings(_env_file=None, ENVIRONMENT="test", JWT_SECRET_KEY="unit-secret-0123456789", **kw)  # type: ignore[call-arg,arg-type]


def test_round_trip_keeps_cyrillic_and_hides_plaintext() -> None:
    ring = build_keyring(make_settings(ENCRYPTION_KEYS=f"k1:{KEY_A}"))
    stored = ring.encrypt("Иван Петров, +7 916 123-45-67")
    assert stored.startswith("enc1:k1:")
    assert "Иван" not in stored and "916" not in stored
    assert ring.decrypt(stored) == "Иван Петров, +7 916 123-45-67"


def test_same_value_encrypts_differently_each_time() -> None:
    ring = build_keyring(make_settings(ENCRYPTION_KEYS=f"k1:{KEY_A}"))
    first, second = ring.encrypt("ivan@example.ru"), ring.encrypt("ivan@example.ru")
    assert first != second
    nonce_a = base64.urlsafe_b64decode(first.split(":", 2)[2])[:12]
    nonce_b = base64.urlsafe_b64decode(second.split(":", 2)[2])[:12]
    assert nonce_a != nonce_b


def test_rotation_new_key_encrypts_old_key_still_decrypts() -> None:
    old = build_keyring(make_settings(ENCRYPTION_KEYS=f"k1:{KEY_A}"))
    stored_old = old.encrypt("старое значение")
    rotated = build_keyring(make_settings(ENCRYPTION_KEYS=f"k2:{KEY_B},k1:{KEY_A}"))
    assert rotated.decrypt(stored_old) == "старое значение"
    assert rotated.encrypt("новое").startswith("enc1:k2:")
    without_old = build_keyring(make_settings(ENCRYPTION_KEYS=f"k2:{KEY_B}"))
    with pytest.raises(DecryptionError, match="k1"):
        without_old.decrypt(stored_old)


def test_tampered_value_is_refused() -> None:
    ring = build_keyring(make_settings(ENCRYPTION_KEYS=f"k1:{KEY_A}"))
    stored = ring.encrypt("секрет")
    raw = bytearray(base64.urlsafe_b64decode(stored.split(":", 2)[2]))
    raw[-1] ^= 1
    with pytest.raises(DecryptionError):
        ring.decrypt("enc1:k1:" + base64.urlsafe_b64encode(bytes(raw)).decode())


def test_plaintext_written_before_encryption_reads_as_is() -> None:
    ring = KeyRing(primary="k", keys={"k": bytes(32)})
    assert ring.decrypt("Анна") == "Анна"


@pytest.mark.parametrize("spec", ["nokey", "k1:not-base64!!", f"k1:{base64.b64encode(b'short').decode()}",
                                  f"k1:{KEY_A},k1:{KEY_B}", f"bad id:{KEY_A}"])
def test_malformed_keys_are_named(spec: str) -> None:
    with pytest.raises(CryptoConfigError, match="ENCRYPTION_KEYS"):
        parse_keys(spec)


def test_production_without_keys_refuses_and_development_derives_a_key() -> None:
    with pytest.raises(CryptoConfigError):
        build_keyring(Settings(_env_file=None, ENVIRONMENT="production", JWT_SECRET_KEY="x" * 40))  # type: ignore[call-arg]
    dev1 = build_keyring(make_settings())
    dev2 = build_keyring(make_settings())
    other = build_keyring(Settings(_env_file=None, ENVIRONMENT="test", JWT_SECRET_KEY="another-secret"))  # type: ignore[call-arg]
    assert dev1.primary == dev2.primary and dev1.primary.startswith("dev")
    assert dev1.decrypt(dev2.encrypt("x")) == "x"
    assert other.primary != dev1.primary


def test_configure_keeps_earlier_keys_for_decryption() -> None:
    first = crypto.configure(make_settings(ENCRYPTION_KEYS=f"k1:{KEY_A}"))
    stored = first.encrypt("значение")
    crypto.configure(make_settings(ENCRYPTION_KEYS=f"k2:{KEY_B}"))
    assert crypto.decrypt(stored) == "значение"
    assert crypto.encrypt("x").startswith("enc1:k2:")


def test_contact_hash_key_comes_from_settings() -> None:
    from pipelines.leads import contact_hash

    crypto.configure(make_settings(CONTACT_HASH_KEY="hash-key-one"))
    one = contact_hash("phone", "+79161234567")
    crypto.configure(make_settings(CONTACT_HASH_KEY="hash-key-two"))
    two = contact_hash("phone", "+79161234567")
    assert one != two
    assert contact_hash("phone", " +79161234567 ") == two  # normalised before hashing
