"""The pymorphy3 analyzer and the cached word parses that normalisation, numbers and slots share."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import pymorphy3

_CYR_RE = re.compile(r"^[а-яё]+$")


@lru_cache(maxsize=1)
def morph() -> Any:
    """The pymorphy3 analyzer, built once on first use (takes ~0.3 s)."""
    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=20000)
def parse(word: str) -> Any:
    return morph().parse(word)[0]


@lru_cache(maxsize=20000)
def lemma(word: str) -> str:
    if not _CYR_RE.match(word):
        return word
    return str(parse(word).normal_form)
