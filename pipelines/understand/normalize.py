"""Text normalisation for offline understanding.

Turns a raw chat message into one lower-case Cyrillic string that the rules read:
Latin transliteration back to Cyrillic («iurist» → «юрист»), slang («скок» → «сколько»), typos of domain words
(«аналитег» → «аналитик», via rapidfuzz over a small vocabulary, only for words pymorphy does not know),
numbers in words, shorthand and ranges to one integer each (pipelines.understand.numbers: «сорок пять» → «45»,
«полторы тысячи» → «1500», «1,5к» → «1500», «от 30 до 50» → «50»). Everything heavy is built lazily once and cached.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz, process

from pipelines.understand.morphology import morph
from pipelines.understand.numbers import (
    collapse_ranges,
    expand_quantities,
    keeps_multiplier,
    number_value,
    words_to_digits,
)

# Latin words we keep as they are (brands, tech terms); everything else Latin is transliterated.
LATIN_KEEP: frozenset[str] = frozenset(
    {
        "amo", "amocrm", "crm", "bitrix", "bitrix24", "telegram", "tg", "whatsapp", "wa", "instagram", "insta",
        "avito", "vk", "vkontakte", "google", "sheets", "gsheets", "jira", "yclients", "iiko", "openai", "gpt",
        "chatgpt", "claude", "zoom", "teams", "skype", "excel", "bi", "kpi", "it", "ai", "api", "pdf", "email",
        "mail", "saas", "cloud", "on", "prem", "onprem", "premise", "premises", "only", "hybrid", "sla", "nda",
        "asap", "ok", "okay", "hello", "hi", "hey", "yandex", "gmail", "ru", "com", "www", "http", "https",
        "ozon", "wildberries", "wb", "max", "sms", "ip", "llc", "ooo", "the", "and", "or", "of", "to", "for",
        "in", "is", "a", "an"
    }
)

_TRANSLIT_MULTI: tuple[tuple[str, str], ...] = (
    ("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("ch", "ч"), ("sh", "ш"), ("ts", "ц"),
    ("yu", "ю"), ("iu", "ю"), ("ju", "ю"), ("ya", "я"), ("ia", "я"), ("ja", "я"), ("yo", "ё"), ("jo", "ё"),
    ("iy", "ий"), ("yi", "ый"), ("ij", "ий"), ("ai", "ай"), ("oi", "ой"), ("ei", "ей"), ("ui", "уй"),
)
_TRANSLIT_ONE: dict[str, str] = dict(
    zip("abvgdezijklmnoprstufhcywxq'", "абвгдезийклмнопрстуфхцывхкь", strict=False)
)

SLANG: dict[str, str] = {
    "скок": "сколько", "скока": "сколько", "скоко": "сколько", "скольк": "сколько", "сколка": "сколько",
    "чел": "человек", "челов": "человек", "спс": "спасибо", "пасиб": "спасибо", "пасибо": "спасибо",
    "пж": "пожалуйста", "плз": "пожалуйста", "пжлст": "пожалуйста", "щас": "сейчас", "ща": "сейчас",
    "норм": "нормально", "оч": "очень", "тыщ": "тыс", "тыщи": "тыс", "тысяч": "тыс", "тысячи": "тыс",
    "здрасте": "здравствуйте", "здрасьте": "здравствуйте", "здрасти": "здравствуйте",
    "здрасьти": "здравствуйте", "драсте": "здравствуйте", "драсьте": "здравствуйте", "здаров": "привет",
    "здарова": "привет",
    "прив": "привет", "хай": "привет", "кп": "кп", "ии": "ии", "аи": "ии", "ai": "ии",
    "юрик": "юрист", "аналитег": "аналитик", "манагер": "менеджер", "манager": "менеджер",
    "тг": "telegram", "телега": "telegram", "телегу": "telegram", "телеге": "telegram", "телеги": "telegram",
    "онпрем": "on-prem", "он-прем": "on-prem", "онпремис": "on-prem", "недвижка": "недвижимость",
    "недвижку": "недвижимость", "недвижке": "недвижимость", "инсту": "instagram", "инста": "instagram",
    "инсте": "instagram", "вотсап": "whatsapp", "ватсап": "whatsapp", "вацап": "whatsapp", "вотсапе": "whatsapp",
    "ватсапе": "whatsapp", "вотсапп": "whatsapp", "воцап": "whatsapp", "дашборд": "дашборд",
    "ден": "день", "плиз": "пожалуйста", "пжл": "пожалуйста", "комерческое": "коммерческое",
}

# Latin spellings whose plain transliteration is a different real word (the soft sign is usually dropped).
LATIN_SLANG: dict[str, str] = {
    "den": "день", "est": "есть", "dnya": "дня", "mozhno": "можно", "nuzhno": "нужно", "vsem": "всем",
}

# Domain vocabulary for typo correction (only words pymorphy does not know are corrected).
VOCAB: tuple[str, ...] = (
    "здравствуйте", "здравствуй", "добрый", "привет", "приветствую", "актуально", "актуальна", "актуален",
    "сколько", "стоимость", "стоит", "цена", "юрист", "юриста", "юристу", "юристом", "юристы", "юристов",
    "юридический", "аналитик", "аналитика", "аналитику", "аналитиком", "аналитики", "аналитиков", "аналитег",
    "менеджер", "менеджера", "менеджеру", "менеджером", "менеджеры", "менеджеров", "консультация",
    "консультацию", "консультации", "договор", "договора", "договоры", "договоров", "интеграция",
    "интеграции", "интеграций", "пользователей", "пользователя", "сотрудников", "сотрудника", "человек",
    "человека", "облако", "облаке", "облачный", "серверах", "сервере", "созвониться", "созвон", "предложение",
    "коммерческое", "оплата", "оплатить", "оплату", "счет", "дашборды", "дашборд", "отчеты", "отчет",
    "прогноз", "претензия", "претензии", "нейросеть", "бот", "бота", "чатбот", "спасибо", "пожалуйста",
    "нормально", "интересует", "подробнее", "расскажите", "договору", "оператор", "оператора", "человека",
    "созвонимся", "позвоните", "перезвоните", "сотрудника", "специалиста", "презентацию", "реквизиты",
)

# One-letter Russian prepositions typed in Latin («s chelovekom», «v oblake», «k pyatnice»).
_LATIN_PREPOSITIONS: frozenset[str] = frozenset("svkiuoy")

_WORD_RE = re.compile(r"[a-zа-яё0-9]+(?:['’][a-zа-яё]+)*", re.IGNORECASE)
_EMAIL_RE = re.compile(r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)
_LATIN_RE = re.compile(r"^[a-z']+$")
_CYR_RE = re.compile(r"^[а-яё]+$")


@lru_cache(maxsize=20000)
def is_known(word: str) -> bool:
    return bool(morph().word_is_known(word))


def translit(word: str) -> str:
    """Latin → Cyrillic for Russian typed in Latin letters («menedzher» → «менеджер»)."""
    out: list[str] = []
    i = 0
    w = word.lower()
    while i < len(w):
        for src, dst in _TRANSLIT_MULTI:
            if w.startswith(src, i):
                out.append(dst)
                i += len(src)
                break
        else:
            out.append(_TRANSLIT_ONE.get(w[i], w[i]))
            i += 1
    return "".join(out)


def _fold(word: str) -> str:
    """Unstressed-vowel folding for typo matching: «дагавор» and «договор» fold to the same key."""
    return word.replace("о", "а").replace("е", "и").replace("я", "и")


@lru_cache(maxsize=1)
def _folded_vocab() -> dict[str, str]:
    return {_fold(w): w for w in VOCAB}


def _translit_fix(w: str) -> str:
    """Latin typing drops the soft sign and writes «э» as «e»: try those variants for unknown words."""
    if len(w) < 3 or is_known(w):
        return w
    candidates = [w + "ь"]
    if w.startswith("е"):
        candidates.append("э" + w[1:])
    if "цт" in w:
        candidates.append(w.replace("цт", "тст"))
    for cand in candidates:
        if is_known(cand):
            return cand
    return w


@lru_cache(maxsize=20000)
def fix_word(word: str) -> str:
    """Slang, transliteration and typo correction for one lower-case token."""
    w = word.replace("ё", "е")
    if w in SLANG:
        return SLANG[w]
    if _LATIN_RE.match(w):
        if w in LATIN_SLANG:
            return LATIN_SLANG[w]
        if w in LATIN_KEEP or (len(w) < 2 and w not in _LATIN_PREPOSITIONS):
            return w
        w = _translit_fix(translit(w).replace("ё", "е"))
        if w in SLANG:
            return SLANG[w]
    if len(w) >= 4 and _CYR_RE.match(w) and not is_known(w):
        folded = _folded_vocab()
        key = _fold(w)
        if key in folded:
            return folded[key]
        hit = process.extractOne(w, VOCAB, scorer=fuzz.ratio, score_cutoff=80)
        if hit is not None:
            return str(hit[0])
        hit = process.extractOne(key, list(folded), scorer=fuzz.ratio, score_cutoff=85)
        if hit is not None:
            return folded[str(hit[0])]
    return w


# A product name that ends in a number («Битрикс24», «bitrix 24»): the number is part of the name, not a count.
_BRAND_NUMBER_RE = re.compile(r"\b(битрикс|bitrix)\s*-?\s*24\b")


def normalize(text: str) -> str:
    """The normalised string the rules read (lower-case, ё→е, Cyrillic, digits, emails removed)."""
    t = _EMAIL_RE.sub(" ", text)
    t = t.lower().replace("ё", "е").replace("’", "'")
    t = _BRAND_NUMBER_RE.sub(r"\1", t)
    # keep punctuation (questions, commas matter), rebuild words in place
    pieces: list[str] = []
    pos = 0
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _WORD_RE.finditer(t):
        spans.append((m.start(), m.end()))
        words.append(fix_word(m.group(0)))
    words = _merge_number_words(words, spans, t)
    for (s, e), w in zip(spans, words, strict=True):
        pieces.append(t[pos:s])
        pieces.append(w)
        pos = e
    pieces.append(t[pos:])
    out = "".join(pieces)
    out = re.sub(r"\s+", " ", out).strip()
    return collapse_ranges(expand_quantities(out))


def _merge_number_words(words: list[str], spans: list[tuple[int, int]], text: str) -> list[str]:
    """Number-word runs → digits, keeping one output slot per input token (merged tokens become '')."""
    out = list(words)
    i = 0
    n = len(words)
    while i < n:
        if number_value(words[i]) is None:
            i += 1
            continue
        j = i + 1
        # a run may not cross punctuation other than spaces
        while j < n and number_value(words[j]) is not None and text[spans[j - 1][1]:spans[j][0]].strip() == "":
            j += 1
        if keeps_multiplier(words, i, j):
            i = j
            continue
        merged = words_to_digits(words[i:j])
        # numbers_to_digits may split the run into several numbers; spread them over the slots
        for k in range(i, j):
            out[k] = ""
        for k, val in enumerate(merged):
            out[i + k] = val
        i = j
    return out
