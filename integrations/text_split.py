"""Split a long reply into parts a messenger accepts (Avito: 1000 characters, Telegram: 4096).

Parts break on sentence ends (and line breaks) first, then between words, and cut inside a word only when that
single word is longer than the limit. Order is preserved, parts are stripped and never empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Measure = Callable[[str], int]

# A sentence ends after . ! ? … (possibly repeated, possibly followed by closing quotes/brackets) and
# whitespace, or at a line break. The match covers the sentence and the whitespace after it.
_SENTENCE = re.compile(r"\S.*?(?:[.!?…]+[\"'»”)\]]*(?:\s+|$)|\n\s*|$)", re.S)
_WORD = re.compile(r"\S+\s*")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def _pack(pieces: list[str], limit: int, measure: Measure, fallback: Callable[[str], list[str]]) -> list[str]:
    """Greedily join ``pieces`` (each with its trailing whitespace) into stripped parts within ``limit``."""
    parts: list[str] = []
    current = ""
    for piece in pieces:
        candidate = current + piece
        if measure(candidate.strip()) <= limit:
            current = candidate
            continue
        if current.strip():
            parts.append(current.strip())
        current = ""
        if measure(piece.strip()) <= limit:
            current = piece
        else:
            *whole, last = fallback(piece.strip())
            parts.extend(whole)
            current = last + (piece[len(piece.rstrip()):])
    if current.strip():
        parts.append(current.strip())
    return parts


def _hard_cut(word: str, limit: int, measure: Measure) -> list[str]:
    """Cut one over-long word into slices within ``limit`` (by code points, shrinking for wide characters)."""
    out: list[str] = []
    rest = word
    while rest:
        size = min(limit, len(rest))
        while size > 1 and measure(rest[:size]) > limit:
            size -= 1
        out.append(rest[:size])
        rest = rest[size:]
    return out


def _split_words(sentence: str, limit: int, measure: Measure) -> list[str]:
    words = _WORD.findall(sentence)
    return _pack(words, limit, measure, lambda word: _hard_cut(word, limit, measure))


def split_text(text: str, limit: int, *, measure: Measure = len) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` (as counted by ``measure``); ``[]`` for blank text."""
    if limit < 1:
        raise ValueError("limit must be positive")
    text = text.strip()
    if not text:
        return []
    if measure(text) <= limit:
        return [text]
    sentences = [m.group(0) for m in _SENTENCE.finditer(text) if m.group(0)]
    return _pack(sentences, limit, measure, lambda sentence: _split_words(sentence, limit, measure))
