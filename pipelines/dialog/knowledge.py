"""A short clean chat answer from retrieved knowledge-base chunks.

Whole sentences from the best one or two chunks, with Markdown debris removed (headings, bullets, emphasis, links,
tables, code), no sentence that names a price (prices come from the pricing engine only), at most ``limit``
characters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from razdel import sentenize

from .types import Knowledge

ANSWER_LIMIT = 500

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+.*$", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$", re.MULTILINE)
_RULE = re.compile(r"^\s*([-*_]\s*){3,}$", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+", re.MULTILINE)
_QUOTE = re.compile(r"^\s*>+\s?", re.MULTILINE)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_CODE_FENCE = re.compile(r"```.*?```", re.DOTALL)
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)")
_SPACES = re.compile(r"[ \t\u00a0]+")
# A sentence naming an amount of money: «90 000 ₽», «от 120 тыс. руб», «150k», «$100».
_MONEY = re.compile(
    r"(\d[\d\s\u00a0.,]*\s*(₽|руб|р\.|тыс|млн|к\b|k\b|\$|€|usd|eur))|([₽$€]\s*\d)", re.IGNORECASE)


def clean_markdown(text: str) -> str:
    """Plain prose out of a Markdown chunk: one paragraph per block, sentences kept whole."""
    text = _FRONT_MATTER.sub("", text)
    text = _CODE_FENCE.sub(" ", text)
    text = _HEADING.sub("", text)
    text = _TABLE_ROW.sub("", text)
    text = _RULE.sub("", text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _QUOTE.sub("", text)
    lines = []
    for raw in text.splitlines():
        is_bullet = bool(_BULLET.match(raw))
        line = _BULLET.sub("", raw)
        line = _EMPHASIS.sub("", line)
        line = _SPACES.sub(" ", line).strip()
        if not line:
            lines.append("")
            continue
        if is_bullet and line[-1] not in ".!?…:;":
            line += "."  # a bullet becomes a sentence of its own
        lines.append(line)
    joined = " ".join(part if part else "\n" for part in lines)
    return _SPACES.sub(" ", joined.replace("\n", " ")).strip()


def _sentences(text: str) -> list[str]:
    out = []
    for piece in sentenize(clean_markdown(text)):
        sentence = piece.text.strip()
        if len(sentence) < 3 or sentence.endswith(":") or _MONEY.search(sentence):
            continue
        out.append(sentence)
    return out


def compose_answer(chunks: Sequence[Knowledge], *, limit: int = ANSWER_LIMIT) -> str:
    """Whole sentences from the first (best) two chunks, at most ``limit`` characters; "" if nothing usable."""
    picked: list[str] = []
    seen: set[str] = set()
    length = 0
    for chunk in list(chunks)[:2]:
        for sentence in _sentences(chunk.text):
            key = sentence.lower()
            if key in seen:
                continue
            extra = len(sentence) + (1 if picked else 0)
            if length + extra > limit:
                if picked:
                    return " ".join(picked)
                continue  # a single over-long sentence: try the next one
            picked.append(sentence)
            seen.add(key)
            length += extra
    return " ".join(picked)
