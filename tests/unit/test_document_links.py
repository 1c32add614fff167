"""Signed document download links: a valid one opens, an expired, guessed or altered one is refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from pipelines.document.links import download_url, sign_link, verify_link

KEY = b"test-link-key-0123456789"
NOW = 1_780_000_000


def _parts(link: str) -> tuple[str, str, str]:
    url = urlsplit(link)
    query = parse_qs(url.query)
    return url.path.rsplit("/", 1)[1], query["exp"][0], query["sig"][0]


def test_valid_link_is_accepted() -> None:
    link = sign_link(42, NOW + 3600, KEY)
    assert link.startswith("/d/42?exp=")
    doc_id, exp, sig = _parts(link)
    assert verify_link(doc_id, exp, sig, KEY, NOW)
    assert verify_link(42, int(exp), sig, KEY, NOW + 3599)


def test_expired_link_is_refused() -> None:
    doc_id, exp, sig = _parts(sign_link(42, NOW + 3600, KEY))
    assert not verify_link(doc_id, exp, sig, KEY, NOW + 3600)
    assert not verify_link(doc_id, exp, sig, KEY, NOW + 10_000)


def test_altered_link_is_refused() -> None:
    doc_id, exp, sig = _parts(sign_link(42, NOW + 3600, KEY))
    assert not verify_link("43", exp, sig, KEY, NOW)  # another document
    assert not verify_link(doc_id, str(int(exp) + 86400), sig, KEY, NOW)  # a longer life
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    assert not verify_link(doc_id, exp, flipped, KEY, NOW)
    assert not verify_link(doc_id, exp, sig[:-1], KEY, NOW)
    assert not verify_link(doc_id, "0" + exp, sig, KEY, NOW)  # same number, other spelling


def test_guessed_or_garbage_link_is_refused() -> None:
    doc_id, exp, sig = _parts(sign_link(42, NOW + 3600, KEY))
    assert not verify_link(doc_id, exp, sig, b"another-key", NOW)
    assert not verify_link(doc_id, exp, "", KEY, NOW)
    assert not verify_link(doc_id, None, sig, KEY, NOW)
    assert not verify_link("abc", exp, sig, KEY, NOW)
    assert not verify_link(doc_id, "soon", sig, KEY, NOW)
    assert not verify_link(doc_id, exp, "подпись", KEY, NOW)


def test_download_url_lives_for_the_ttl() -> None:
    url = download_url("https://voronka.example/", 7, KEY, ttl_hours=72, now=NOW)
    assert url.startswith("https://voronka.example/d/7?exp=")
    doc_id, exp, sig = _parts(url)
    assert int(exp) == NOW + 72 * 3600
    assert verify_link(doc_id, exp, sig, KEY, NOW + 72 * 3600 - 1)
    assert not verify_link(doc_id, exp, sig, KEY, NOW + 72 * 3600 + 1)
