"""Signed, expiring download links for documents: ``/d/<id>?exp=<unix>&sig=<hmac>``.

The signature is HMAC-SHA256 over ``"<id>.<exp>"`` with the link key (``Settings.link_key``), url-safe base64
without padding. Verification recomputes it and compares in constant time; an expired, guessed or altered link
(another id, another expiry, another signature) is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import urlencode

LINK_PREFIX = "/d/"


def _signature(document_id: int, expires_at: int, key: bytes) -> str:
    if not key:
        raise ValueError("link key is empty")
    message = f"{int(document_id)}.{int(expires_at)}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign_link(document_id: int, expires_at: int, key: bytes) -> str:
    """Path of a download link valid until ``expires_at`` (unix seconds)."""
    sig = _signature(document_id, expires_at, key)
    return f"{LINK_PREFIX}{int(document_id)}?{urlencode({'exp': int(expires_at), 'sig': sig})}"


def verify_link(document_id: int | str, exp: int | str | None, sig: str | None, key: bytes,
                now: float | None = None) -> bool:
    """True only for an unexpired link whose signature matches ``document_id`` and ``exp`` exactly."""
    if not sig or exp is None or not key:
        return False
    try:
        doc_id = int(str(document_id))
        expires_at = int(str(exp))
    except ValueError:
        return False
    if str(doc_id) != str(document_id).strip() or str(expires_at) != str(exp).strip():
        return False  # «007», «+7» and the like are not what we signed
    current = time.time() if now is None else now
    if expires_at <= current:
        return False
    expected = _signature(doc_id, expires_at, key)
    return hmac.compare_digest(expected.encode("ascii"), sig.encode("ascii", errors="replace"))


def download_url(public_url: str, document_id: int, key: bytes, ttl_hours: int,
                 now: float | None = None) -> str:
    """Absolute link for a client message: ``<public_url>/d/<id>?exp=...&sig=...`` valid for ``ttl_hours``."""
    current = time.time() if now is None else now
    expires_at = int(current) + int(ttl_hours) * 3600
    return public_url.rstrip("/") + sign_link(document_id, expires_at, key)
