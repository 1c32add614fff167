"""Text normalisation, tokens and lemmas shared by the parsers, the chunker, the offline embedder and search.

The stored text keeps «ё»; features fold it to «е» so that both spellings match.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

import pymorphy3

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_WORD = re.compile(r"[0-9a-zа-яё]+(?:[-'][0-9a-zа-яё]+)*", re.IGNORECASE)
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\ufeff\u200c\u200d\u2060"), None)

# Function words that carry no topic (questions are full of them).
_STOPWORDS_TEXT = """
а без более бы был была были было быть в вам вас ваш ваша ваше ваши весь во вот все всего всех вы где да
для до его ее если есть еще же за здесь и из или им их к как какой какая какое какие каков кто ли либо
мне мной мы на над наш не нет ни но ну о об однако он она они оно от очень по под при про с со так также
такой там те тем то того тоже только тот ту ты у уже хотеть хочу чего чей чем что чтобы чье эта эти это
этот я мой моя мое мои можно нужно надо свой быть мочь который сам самый себя кой раз
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def normalise(text: str) -> str:
    """Unicode NFC, no soft hyphens / BOMs, one space between words, at most one blank line; «ё» is kept."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def fold(text: str) -> str:
    """Lower case with «ё» folded to «е» (for matching only)."""
    return text.lower().replace("ё", "е")


def words(text: str) -> list[str]:
    """Folded word tokens; hyphenated words are kept whole (``ии-юрист``)."""
    return _WORD.findall(fold(text))


@lru_cache(maxsize=1)
def _morph() -> Any:
    return pymorphy3.MorphAnalyzer(lang="ru")


@lru_cache(maxsize=200_000)
def lemma(word: str) -> str:
    """Dictionary form of a folded word (Russian via pymorphy3; other words as they are)."""
    if not word or not re.search("[а-я]", word) or len(word) <= 2:
        return word  # numbers, Latin words and abbreviations («ии», «кп») stay as they are
    if "-" in word:
        return "-".join(lemma(part) for part in word.split("-"))
    parsed = _morph().parse(word)
    return fold(parsed[0].normal_form) if parsed else word


@lru_cache(maxsize=200_000)
def is_known(word: str) -> bool:
    """True when the dictionary knows the word (a misspelt one is not)."""
    if not re.search("[а-я]", word):
        return True
    return bool(_morph().word_is_known(word))


_CYR_TO_LAT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i", "й": "i", "к": "k",
    "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h",
    "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}
# Latin spellings folded towards how a Russian speaker would write the word in Cyrillic («ClickHouse» → «кликхаус»).
_LATIN_FOLDS = tuple((re.compile(src), dst) for src, dst in (
    ("ck", "k"), ("ph", "f"), ("th", "t"), ("ee", "i"), ("oo", "u"), ("ou", "au"), ("x", "ks"), ("c(?=[eiy])", "s"),
    ("c(?!h)", "k"), ("q", "k"), ("w", "v"), ("y", "i")))


@lru_cache(maxsize=200_000)
def phonetic(word: str) -> str:
    """A script-independent spelling of a folded word: Cyrillic is transliterated, Latin spellings are simplified,
    so «гигачат» and «gigachat», «линукс» and «linux», «кликхаус» and «clickhouse» come out (nearly) the same."""
    if re.search("[a-z]", word):
        for src, dst in _LATIN_FOLDS:
            word = src.sub(dst, word)
    out = "".join(_CYR_TO_LAT.get(ch, ch) for ch in word)
    return out.replace("y", "i")
