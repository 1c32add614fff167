"""Slot extraction from a normalised message (see normalize.normalize) and the raw text (contacts).

Every function takes the normalised string ``t`` (lower-case Cyrillic, numbers as digits, ranges collapsed to the
upper bound, phones and emails removed) and returns the slot value or None. ``expecting`` is the slot the dialog
just asked about: then a bare answer («20», «облако», «неделя», «Иван») fills it.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from pipelines.understand.morphology import morph, parse
from pipelines.understand.numbers import period_days

# ---------------------------------------------------------------- users

_USER_NOUN = (
    r"(?:человек\w*|чел\b|сотрудник\w*|пользовател\w*|юзер\w*|users?\b|менеджер\w*|продав\w*|оператор\w*"
    r"|юрист\w*|аналитик\w*|администратор\w*|админ\w*|куратор\w*|диспетчер\w*|руководител\w*|специалист\w*"
    r"|работник\w*|лицензи\w*|консультант\w*|бухгалтер\w*|агент\w*|риелтор\w*|риэлтор\w*|врач\w*|логист\w*"
    r"|маркетолог\w*|фармацевт\w*|провизор\w*|рекрутер\w*|мастер(?:ов|а)\b|преподавател\w*|учител\w*|кассир\w*|сотрудниц\w*|управляющ\w*"
    r"|продажник\w*|персонал\w*|сотрудник\w*|инженер\w*|разработчик\w*|программист\w*|юрисконсульт\w*"
    r"|рабочих мест\w*|аккаунт\w*|учетн\w+ запис\w*|душ\b)"
)
# Words that make a number something else than a head count.
_NOT_USERS_UNIT = (
    r"(?:дн\w*|день|суток|сутки|недел\w*|месяц\w*|час\w*|минут\w*|тыс\w*|млн|руб\w*|р\b|к\b|%|раз\w*|интеграц\w*"
    r"|систем\w*|филиал\w*|магазин\w*|салон\w*|точ\w*|офис\w*|город\w*|год\w*|лет\b|числ\w*|марта|апреля|мая"
    r"|июня|июля|августа|сентября|октября|ноября|декабря|января|февраля|шт\w*|заяв\w*|лид\w*|сообщени\w*"
    r"|договор\w*|отчет\w*|клиент\w*|звонк\w*|обращени\w*|товар\w*|позици\w*)"
)
_NUM = r"(?<![\d.,:/])(\d+)(?![.,:/]\d)(?![-\w])"
_FILLER_AFTER_NOUN = (
    r"(?:(?:будет|будут|у нас|около|примерно|где-то|где то|до|всего|~|порядка|максимум|не более|сейчас|уже"
    r"|штук)\s+){0,2}"
)

_USERS_A = re.compile(rf"(\bне\s+)?{_NUM}\s+(?:(?!{_NOT_USERS_UNIT})[а-яa-z]+\s+)?{_USER_NOUN}")
_USERS_B = re.compile(
    rf"(?:{_USER_NOUN}(?:\s+(?:продаж|поддержки|отдела|по продажам))?|штат\w*|команд\w*(?: из)?)\s+"
    rf"{_FILLER_AFTER_NOUN}{_NUM}(?!\s*{_NOT_USERS_UNIT})"
)
_USERS_C = re.compile(
    rf"\bнас\s+(?:(?:около|примерно|всего|где-то|уже|сейчас)\s+)?{_NUM}(?!\s*(?:{_NOT_USERS_UNIT}))"
)
_USERS_ALONE = re.compile(
    r"\bя\s+(?:1|сам|сама)\s+(?:работа\w*|в компании|тут|здесь)|\bя\s+1\b(?!\s*\w)|(?<![\d.,])\b1\s+работаю\b"
)
# «8 управляющих и я», «пятеро юристов и помощник»: one more than the number named
_PLUS_ONE = re.compile(
    r"^\s+(?:и|плюс|\+)\s+(?:я|админ|администратор|помощник|ассистент|секретарь|директор|руководитель|бухгалтер)\b"
)
# «пользоваться будут только 4»: the users named after this win over the head count before it
_USERS_WILL = re.compile(r"\b(?:пользоваться|работать|работа\w+)\s+(?:\w+\s+)?будут\b")
# «это я и ещё двое», «менеджеры (их 6)»
_USERS_ME_AND = re.compile(r"\bя\s+и\s+(?:еще\s+)?(\d+)\b(?!\s*(?:дн|недел|месяц|час|раз))")
_USERS_THEIR = re.compile(rf"{_USER_NOUN}\s*\(их\s+(\d+)\)")
# «юрист на двоих сколько стоит»: a head count priced without a noun
_USERS_ON = re.compile(r"\bна\s+(\d+)(?=\s*(?:[?,.!]|$|сколько\b))")
_BARE_NUM = re.compile(rf"{_NUM}(?!\s*{_NOT_USERS_UNIT})")
_YEAR_BEFORE = re.compile(r"\b(?:в|к|до|с|на)\s+$")


def _bare_count(t: str) -> int | None:
    """The first bare number of an answer, unless it is a year («запуск в 2026»)."""
    for m in _BARE_NUM.finditer(t):
        value = int(m.group(1))
        if 1900 <= value <= 2099 and _YEAR_BEFORE.search(t[max(0, m.start(1) - 4):m.start(1)]):
            continue
        return value
    return None


_PER_ONE = re.compile(r"(?:\bза|\bна|\bс)\s+1$")
_PRICE_WORD = re.compile(r"сколько|\bстои|\bцен[аеуы]\b|\bстоимост\w*|\bпочем|\bтариф\w*")


def users(t: str, expecting: str | None = None) -> int | None:
    will = _USERS_WILL.search(t)
    if will:
        rest = t[will.end():]
        later = None if _USERS_WILL.search(rest) else users(rest, "users")
        if later is not None:
            return later
    found: list[int] = []
    per_unit = False
    for m in _USERS_A.finditer(t):
        if m.group(1):  # «не 40, а 60»
            continue
        if m.group(2) == "1" and _PER_ONE.search(t[max(0, m.start(2) - 12):m.end(2)]) and _PRICE_WORD.search(t):
            per_unit = True  # «сколько стоит на одного пользователя»: a unit price, not a head count
            continue
        found.append(int(m.group(2)) + (1 if _PLUS_ONE.match(t[m.end():]) else 0))
    for rx in (_USERS_B, _USERS_C):
        for m in rx.finditer(t):
            start = m.start(1)
            if t[max(0, start - 3):start] == "не ":
                continue
            found.append(int(m.group(1)))
    for m in _USERS_THEIR.finditer(t):
        found.append(int(m.group(1)))
    if not found:
        me_and = _USERS_ME_AND.search(t)
        if me_and:
            found.append(int(me_and.group(1)) + 1)
    if not found and _USERS_ALONE.search(t):
        found.append(1)
    if not found and _PRICE_WORD.search(t):
        on = _USERS_ON.search(t)
        if on and on.group(1) != "1":
            found.append(int(on.group(1)))
    if not found and expecting == "users" and not per_unit:
        bare = _bare_count(t)
        if bare is not None:
            found.append(bare)
    found = [v for v in found if 0 < v < 1_000_000]
    return max(found) if found else None


# ---------------------------------------------------------------- integrations

_SYSTEMS: tuple[tuple[str, str], ...] = (
    ("1c_docs", r"\b1[сc]\s*:?\s*(?:документооборот\w*|до\b)"),
    ("1c", r"\b1[сc](?::?\s*(?:бухгалтери\w*|erp|ут|зуп|управление торговлей|розниц\w*|предприяти\w*|уна))?(?!\w)"),
    ("amocrm", r"\bamo\s?crm\b|\bamocrm\b|\bамо\s?(?:срм|црм|crm)?\b|\bamo\b|\bамоцрм\b"),
    ("bitrix", r"\bбитрикс\w*|\bbitrix\w*"),
    ("site", r"\bсайт\w*"),
    ("telephony", r"\bтелефони\w*|\bатс\b|\bip-?телефон\w*"),
    ("mail", r"\bпочт(?:а|ой|у|е|ы)\b|\bemail\b|\be-mail\b"),
    ("telegram", r"\btelegram\w*|\bтелеграм\w*"),
    ("whatsapp", r"\bwhatsapp\w*|\bвотсап\w*|\bватсап\w*"),
    ("avito", r"\bавито\b|\bavito\b"),
    ("vk_ads", r"\bвк\s+реклам\w*|\bvk\s+ads\b|\bреклам\w* (?:в )?(?:вк|вконтакте)\b"),
    ("vk", r"\bвк\b|\bвконтакт\w*|\bvk\b"),
    ("instagram", r"\binstagram\w*|\bинстаграм\w*"),
    ("gsheets", r"\b(?:гугл|google)\s*(?:таблиц\w*|sheets|докс|docs|шит\w*)|\bgsheets\b"),
    ("jira", r"\bjira\b|\bджир\w*"),
    ("yclients", r"\byclients\b|\bиклаентс\b"),
    ("moysklad", r"\bмой\s?склад\w*"),
    ("iiko", r"\biiko\b|\bайко\b"),
    ("ozon", r"\bozon\b|\bозон\w*"),
    ("wildberries", r"\bwildberries\b|\bвайлдберриз\w*|\bвб\b"),
    ("crm", r"\bcrm\b|\bсрм\b|\bцрм\b|\bcrm-систем\w*"),
    ("direct", r"(?:яндекс|yandex)[\s.-]*директ\w*|\bдирект(?:а|е|ом|у)?\b"),
    ("metrica", r"(?:яндекс|yandex)[\s.-]*метрик\w*|\bметрик(?:а|у|ой|е)\b|\bgoogle analytics\b"),
    ("megaplan", r"\bмегаплан\w*"),
    ("cian", r"\bциан\w*|\bcian\b"),
    ("domclick", r"\bдомклик\w*|\bdomclick\b"),
    ("gcal", r"\b(?:гугл|google)[\s-]*(?:календар\w*|calendar)"),
    ("focus", r"\bфокус\w*|\bконтур[.\s-]*фокус\w*"),
    ("directum", r"\bdirectum\b|\bдиректум\w*"),
    ("edo", r"\bсэд\b|\bэдо\b|\bдокументооборот\w*"),
    ("diadoc", r"\bдиадок\w*|\bdiadoc\b|\bсбис\w*"),
    ("ad", r"\bactive directory\b|\bацтиве дирецтор\w*|\bактив\w* директор\w*|\bldap\b|\bлдап\b"),
    ("tms", r"\btms\b|\bтмс\b"),
    ("wms", r"\bwms\b|\bвмс\b"),
    ("calltracking", r"\bколл-?трекинг\w*|\bcalltracking\b|\bcall-tracking\b"),
    ("retailcrm", r"\bretail\s?crm\b|\bритейл\s?срм\b"),
    ("db", r"\bpostgres\w*|\bпостгрес\w*|\bclickhouse\b|\bкликхаус\w*|\bцлицхоусе\b|\bmysql\b"),
    ("excel", r"(?<!\bв )\bexcel\b|(?<!\bв )\bэксел\w*"),
    ("market", r"(?:яндекс|yandex)[\s.-]*маркет\w*"),
    ("mytarget", r"\bmytarget\b|\bмайтаргет\w*"),
)
# Communication channels are not integrations (knowledge_base/prices/ai_manager.md, tests/data/nlu/README.md):
# they are recognised, so that «бот на авито» is not read as a system, but never counted.
CHANNELS: frozenset[str] = frozenset({"site", "mail", "telegram", "whatsapp", "avito", "vk", "instagram", "cian",
                                      "domclick"})
_SYSTEM_SKIP = re.compile(
    r"(?:по объявлени\w*|объявлени\w* на|увидел\w* на|нашел\w* на|нашла на|на вашем|ваш\w* сайт|пишу с|пишу из"
    r"|на почту|на мою почту|на почта|в почту|реклам\w* (?:в|на)|(?:пост|канал|стать\w*|видео|ролик)\w* (?:в|на)"
    r"|(?:увидел\w*|нашел\w*|нашла|нашли|узнал\w*|прочитал\w*) (?:\w+ ){0,2}(?:в|на|из))\s*$"
)
_INTEG_COUNT = re.compile(
    rf"{_NUM}\s+(?:[а-я]+\s+)?(?:интеграц\w*|систем\w*|сервис\w*|подключени\w*|источник\w*)"
    rf"|(?:интеграц\w*|систем\w*|источник\w*)\s+"
    rf"(?:(?:будет|будут|всего|около|примерно|нужно|надо|нужна|нужны|штук|где-то|порядка)\s+){{0,2}}"
    rf"{_NUM}(?!\s*{_NOT_USERS_UNIT})"
)
_INTEG_ZERO = re.compile(
    r"без интеграц\w*|интеграц\w* (?:не нужн\w*|не требу\w*|нет|никаки\w*)|ни с чем|не нужны интеграц\w*"
    r"|никаких интеграц\w*|интеграций 0|0 интеграц\w*"
)
_NO_ANSWER = re.compile(
    r"^(?:нет|не нужно|не надо|никаких|ни с чем|не нужны|0|пока нет|пока никаких|пока ни с чем|нет\s+не нужно)\b"
)


@lru_cache(maxsize=1)
def _system_res() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((name, re.compile(rx)) for name, rx in _SYSTEMS)


def named_systems(t: str, has_email: bool = False) -> list[str]:
    found: list[str] = []
    taken: list[tuple[int, int]] = []
    for name, rx in _system_res():
        for m in rx.finditer(t):
            if any(s <= m.start() < e for s, e in taken):
                continue
            if _SYSTEM_SKIP.search(t[max(0, m.start() - 25):m.start()]):
                continue
            if name == "mail" and has_email:
                continue
            if name == "crm" and ("amocrm" in found or "bitrix" in found):
                continue
            if name == "edo" and ("1c_docs" in found or "directum" in found):
                continue
            taken.append((m.start(), m.end()))
            if name not in found:
                found.append(name)
    return found


def explicit_integrations(t: str) -> bool:
    """The text gives a number of integrations or says there are none (not just names systems)."""
    return bool(_INTEG_COUNT.search(t) or _INTEG_ZERO.search(t))


def integrations(t: str, expecting: str | None = None, has_email: bool = False) -> int | None:
    m = _INTEG_COUNT.search(t)
    if m:
        return int(m.group(1) or m.group(2))
    if _INTEG_ZERO.search(t):
        return 0
    named = named_systems(t, has_email)
    systems = [name for name in named if name not in CHANNELS]
    if expecting == "integrations":
        if _NO_ANSWER.search(t):
            return 0
        n = _bare_count(t)
        if n is not None and not (named and not systems):  # «две: сайт и почта» counts channels, not systems
            return n
    return len(systems) if systems else None


# ---------------------------------------------------------------- hosting, sla

_HYBRID = re.compile(r"\bгибрид\w*|\bhybrid\b|часть в облак\w*[^.]*часть у (?:нас|себя)")
_ONPREM = re.compile(
    r"\bon-?prem\w*|\bон-?прем\w*|on premise|на (?:своих|наших|собственных|нашем|своем|собственном|наш|наши|свой|свои)"
    r"\s+(?:\w+\s+)?сервер\w*|у нас на сервер\w*|(?:у нас|у себя)(?: все| всё)? в контуре|в (?:нашем|своем|закрытом|"
    r"внутреннем) контуре|\bлокальн\w*\s+(?:установ\w*|развер\w*|сервер\w*)|у себя на сервер\w*|на своем железе"
    r"|на своём железе|в облако (?:ничего )?не\b|\bне в облак\w*|без облак\w*|\bсвоих серверах\b"
    r"|на (?:нашем|своем|собственном) (?:железе|оборудовании)"
    r"|(?:наш|сво|собственн)\w*\s+(?:\w+\s+)?(?:дата-?центр\w*|цод\w*)|\bсво(?:й|и|ем|их|ими)\s+сервер\w*"
    r"|облак\w* (?:запрещ|нельзя|не подход|не вариант)\w*"
)
_CLOUD = re.compile(r"\bоблак\w*|\bоблачн\w*|\bcloud\b|\bsaas\b")
_ONPREM_ANSWER = re.compile(r"\bу нас\b|\bу себя\b|\bсво[иех]\w*|\bнаш\w*|\bлокальн\w*|\bсервер\w*")


def hosting(t: str, expecting: str | None = None) -> str | None:
    if _HYBRID.search(t):
        return "hybrid"
    if _ONPREM.search(t):
        return "onprem"
    if _CLOUD.search(t):
        return "cloud"
    if expecting == "hosting" and _ONPREM_ANSWER.search(t):
        return "onprem"
    return None


_SLA_999 = re.compile(r"99[.,]9\d*|\b3 девятк\w*|три девятк\w*")
_SLA_995 = re.compile(r"99[.,]5\b")
_SLA_STD = re.compile(
    r"(?:sla|сла|доступност\w*)\s+(?:\w+\s+)?(?:стандарт\w*|обычн\w*|базов\w*|не важ\w*|любой)"
    r"|(?:стандарт\w*|обычн\w*|базов\w*)\s+(?:sla|сла)\b"
)
_SLA_STD_ANSWER = re.compile(r"\bстандарт\w*|\bобычн\w*|\bбазов\w*|\bне важно|\bлюбой|\bминимальн\w*")


def sla(t: str, expecting: str | None = None) -> str | None:
    if _SLA_999.search(t):
        return "99.9"
    if _SLA_995.search(t):
        return "99.5"
    if _SLA_STD.search(t):
        return "standard"
    if expecting == "sla" and _SLA_STD_ANSWER.search(t):
        return "standard"
    return None


# ---------------------------------------------------------------- deadline

_RELAXED = re.compile(
    r"не гор(?:ит|ят)|не срочно|без срочност\w*"
    r"|не торопимся|не торопи\w*|не спешим|без спешки|не к спеху|время есть|не критично по срок\w*"
    r"|(?:обычн|стандартн|нормальн)\w*\s+срок\w*|срок\w*\s+(?:обычн|стандартн)\w*|в\s+обычном\s+режиме"
)
# «вчера было надо», «нужно было ещё вчера»: urgent even when the dialog did not ask for the deadline
_URGENT_ALWAYS = re.compile(r"\bвчера\s+(?:было\s+)?(?:надо|нужно)\b|\b(?:надо|нужно)\s+было\s+(?:еще\s+)?вчера\b")
_URGENT = re.compile(r"\bсрочно\b|\basap\b|\bгорит\b|как можно (?:скорее|быстрее)|\bвчера\b|побыстрее|\bсрочн\w*")
def deadline_class(days: float) -> str:
    if days <= 7:
        return "lt1w"
    if days <= 14:
        return "lt2w"
    return "standard"


def deadline(t: str, expecting: str | None = None, today: date | None = None) -> str | None:
    today = today or date.today()
    if _RELAXED.search(t):
        return "standard"
    if _URGENT_ALWAYS.search(t):
        return "lt1w"
    d = period_days(t, today)
    if d is not None:
        return deadline_class(d)
    if expecting == "deadline" and _URGENT.search(t):
        return "lt1w"
    return None


# ---------------------------------------------------------------- industry

_INDUSTRIES: tuple[tuple[str, str], ...] = (
    ("интернет-торговля", r"интернет[- ]?магазин\w*|e-?commerce|\bмаркетплейс\w*|\bozon\b|\bwildberries\b|\bвб\b"
                          r"|продаем на (?:озон|вайлдберриз|wb)"),
    ("оптовая торговля", r"\bоптов\w*|\bопт\b|\bоптом\b|\bдистрибуц\w*|\bдистрибьют\w*"),
    ("юридические услуги", r"юридическ\w* (?:фирм\w*|компани\w*|бюро|услуг\w*|агентств\w*)|\bюрфирм\w*|\bадвокат\w*"
                           r"|коллеги\w* адвокат\w*|\bюрбюро\b|\bюр\.?\s*(?:фирм|компани|бюро)\w*"),
    ("бухгалтерские услуги", r"бухгалтерск\w* (?:услуг\w*|фирм\w*|компани\w*|аутсорс\w*)|\bаутсорс\w* бухгалтер\w*"),
    ("недвижимость", r"\bнедвижим\w*|\bриелтор\w*|\bриэлтор\w*|агентств\w* недвиж\w*"),
    ("строительство", r"\bстроительн\w*|\bстройк\w*|\bзастройщ\w*|\bстроим\b|\bремонт\w* квартир\w*|\bдевелоп\w*"),
    ("фармацевтика", r"\bаптек\w*|\bфармац\w*"),
    ("медицина", r"\bклиник\w*|\bмедицин\w*|\bстоматолог\w*|\bмедцентр\w*|\bмед\.? центр\w*|\bлаборатори\w*"),
    ("автобизнес", r"\bавтосервис\w*|\bавтосалон\w*|\bзапчаст\w*|\bавтомойк\w*|\bшиномонтаж\w*|\bдилерск\w* центр"
                   r"|\bавтозапчаст\w*|\bавтодилер\w*"),
    ("образование", r"\bшкол\w*|\bобразовани\w*"
                    r"|\bонлайн[- ]?курс\w*|\bобразовательн\w*|\bуниверситет\w*|\bвуз\w*|\bдетск\w* сад\w*"
                    r"|\bрепетитор\w*|\bинфобизнес\w*"),
    ("общепит", r"\bкафе\b|\bресторан\w*|\bпекарн\w*|\bкондитерск\w*|\bсуши\w*|\bпицц\w*|\bбургерн\w*"
                r"|\bобщепит\w*|\bкофейн\w*|\bпиццери\w*|доставк\w* еды|\bбар\b|\bстоловая\b"),
    ("салон красоты", r"салон\w* красоты|\bбьюти\w*|\bбарбершоп\w*|\bманикюр\w*|\bспа\b|\bкосметолог\w*"),
    ("логистика", r"\bлогистик\w*|\bлогистическ\w*|\bгрузоперевоз\w*|транспортн\w* компани\w*|\bперевозк\w*"
                  r"|\bэкспедир\w*|\bскладск\w* (?:компан|комплекс)"),
    ("производство", r"\bпроизводств\w*|\bзавод\w*|\bфабрик\w*|\bпроизводим\b|\bцех\w*"),
    ("финансы", r"\bбанк\w*|\bлизинг\w*|\bстрахов\w*|\bмфо\b|\bмикрофинанс\w*|\bинвестиц\w* компани\w*|\bброкер\w*"),
    ("туризм", r"\bтурагент\w*|\bтуризм\w*|\bтуроператор\w*|\bтурфирм\w*|\bотел\w*|\bгостиниц\w*|\bхостел\w*"),
    ("IT", r"\bit[- ]компани\w*|\bit\b|\bайти\b|\bвеб[- ]?студи\w*|\bweb[- ]?студи\w*|\bdigital[- ]студи\w*"
           r"|\bстуди\w* (?:веб[- ]?)?разработк\w*|\bразработк\w* (?:сайтов|приложений|софта)\b|\bинтегратор\w*"
           r"|\bхостинг[- ]?провайдер\w*|\b(?:мы|являемся)\s+(?:[—-]\s+)?(?:\w+\s+)?(?:дата-?центр|цод)\w*"
           r"|\bоператор\w* (?:дата-?центр|цод)\w*|\bразработк\w* по\b|\bsaas[- ]компани\w*|\bразработчик\w* по\b"),
    ("фитнес", r"\bфитнес\w*|\bспортзал\w*|\bтренажерн\w*|\bйог\w*"),
    ("маркетинг", r"маркетингов\w* агентств\w*|рекламн\w* агентств\w*|\bsmm[- ]агентств\w*|digital[- ]агентств\w*"),
    ("HR", r"кадров\w* агентств\w*|\bрекрутинг\w*|\bподбор\w* персонал\w*"),
    ("розница", r"\bрозниц\w*|\bрозничн\w*|\bритейл\w*|сет\w* магазин\w*|\b\w*магазин\w*|\bторгов\w* точк\w*"),
)


@lru_cache(maxsize=1)
def _industry_res() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((name, re.compile(rx)) for name, rx in _INDUSTRIES)


_OWN_INDUSTRY = re.compile(r"\b(?:мы|у нас|наша|наш|являемся)\s+(?:[\w-]+\s+){0,2}$")


def industry(t: str, expecting: str | None = None) -> str | None:
    """The client's industry: the one said about themselves («мы агентство недвижимости») wins, else the first named."""
    best: tuple[int, str] | None = None
    for name, rx in _industry_res():
        for m in rx.finditer(t):
            own = bool(_OWN_INDUSTRY.search(t[max(0, m.start() - 40):m.start()]))
            key = m.start() - (10_000 if own else 0)
            if best is None or key < best[0]:
                best = (key, name)
    if best:
        return best[1]
    if expecting == "industry":
        ans = _short_answer(t)
        return ans or None
    return None


# ---------------------------------------------------------------- goals, security

_GOAL_VERB = (
    r"(?:сократить|увеличить|снизить|разгрузить|автоматизировать|ускорить|повысить|уменьшить|заменить|прогнозировать"
    r"|видеть|контролировать|не терять|оптимизировать|освободить|перестать|избавиться|упростить|улучшить|вырасти)"
)
_GOAL_RE = re.compile(
    rf"\b(?:цель|задача|главная задача|основная задача)\b\s*(?:[:—–-]\s*|\s)(?:это\s+|—\s*)?([^.!?;\n]+)"
    rf"|\b(?:хотим|хотелось бы|нужно|надо|планируем|хочу|хотели бы|стремимся)\s+({_GOAL_VERB}[^.!?;\n]*)"
    r"|\b(?:нужен|нужна|нужно|нужны|надо|хотим|хочу)\b[^.!?;\n]*?\bчтобы\s+([^.!?;\n,]*\b(?:быстрее|меньше|больше|дешевле"
    r"|точнее|проще|не теря\w*|не ждал\w*|не пропуска\w*|ни одн\w+)\b[^.!?;\n,]*)"
)


def _short_answer(t: str) -> str:
    s = re.sub(r"^(?:ну|да|так|ок|эм+|хм+)[,\s]+", "", t.strip())
    s = re.sub(r"[\s.!?,;:)(]+$", "", s)
    return s[:120].strip()


def goals(t: str, expecting: str | None = None) -> str | None:
    m = _GOAL_RE.search(t)
    if m:
        g = (m.group(1) or m.group(2) or m.group(3) or "").strip(" ,—-")
        if g:
            return g[:120]
    if expecting == "goals":
        ans = _short_answer(t)
        return ans or None
    return None


_SECURITY: tuple[tuple[str, str], ...] = (
    ("152-ФЗ", r"\b152\s*-?\s*фз\b|\b152\b\s*закон|персональн\w* данн\w*|\bпдн\b"),
    ("данные не покидают контур", r"не (?:должн\w+ )?покида\w* (?:наш\w* |периметр\w* |)контур\w*|покидал\w* контур\w*"
                                  r"|не выходил\w* за (?:пределы )?контур\w*|внутри контура|за пределы контура"),
    ("NDA", r"\bnda\b|соглашени\w* о неразглашени\w*|\bнда\b"),
    ("коммерческая тайна", r"коммерческ\w* тайн\w*"),
    ("шифрование", r"\bшифрован\w*"),
    ("ФСТЭК", r"\bфстэк\w*|\bфсб\b|\bгост\b"),
    ("разграничение доступа", r"разграничени\w* (?:прав|доступ\w*)|ролев\w* доступ\w*|доступ по роля\w*"),
)


@lru_cache(maxsize=1)
def _security_res() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((name, re.compile(rx)) for name, rx in _SECURITY)


def security(t: str, expecting: str | None = None) -> str | None:
    tags = [name for name, rx in _security_res() if rx.search(t)]
    if tags:
        return ", ".join(tags)
    if expecting == "security":
        if _NO_ANSWER.search(t):
            return None
        ans = _short_answer(t)
        return ans or None
    return None


# ---------------------------------------------------------------- contacts

_EMAIL_RE = re.compile(r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)


def email(raw: str) -> str | None:
    m = _EMAIL_RE.search(raw)
    if not m:
        return None
    value = m.group(0).lower().rstrip(".")
    try:
        return str(validate_email(value, check_deliverability=False).normalized).lower()
    except EmailNotValidError:
        return None


def phones(raw: str) -> list[tuple[int, int, str]]:
    """(start, end, +7XXXXXXXXXX) for each phone number in the raw text (region RU)."""
    out: list[tuple[int, int, str]] = []
    for m in phonenumbers.PhoneNumberMatcher(raw, "RU"):
        out.append((m.start, m.end, phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)))
    return out


_NAME_INTRO = re.compile(
    r"(?:меня зовут|мое имя|моё имя|зовут меня|с уважением,?|я\s*-|это)\s+([а-яё]+)(?:\s+([а-яё]+))?",
    re.IGNORECASE,
)
_NAME_REV = re.compile(r"меня\s+([а-яё]+)(?:\s+([а-яё]+))?\s+зовут", re.IGNORECASE)
_NAME_I = re.compile(r"(?:^|[.!,]\s*)я\s+([а-яё]+)(?:\s+([а-яё]+))?", re.IGNORECASE)
_NAME_LEAD = re.compile(r"^\s*([а-яё]+)(?:\s+([а-яё]+))?\s*[,.\n]", re.IGNORECASE)
# «…, 8 912 345-67-89, Андрей»: a name signed after the contact, at the very end
_NAME_TAIL = re.compile(r"[,.;\n—–-]\s*([а-яё]+)(?:\s+([а-яё]+))?\s*[.!)]*\s*$", re.IGNORECASE)
_WORD = re.compile(r"[а-яё]+", re.IGNORECASE)


def _name_form(word: str, tag: str) -> str | None:
    w = word.lower()
    for p in _parses(w):
        if tag in p.tag and p.score >= 0.1:
            return str(p.normal_form if tag == "Name" else p.word).capitalize()
    return None


@lru_cache(maxsize=4096)
def _parses(word: str) -> tuple[Any, ...]:
    return tuple(morph().parse(word))


def _name_from(first: str, second: str | None) -> str | None:
    n = _name_form(first, "Name")
    if not n:
        return None
    if second:
        s = _name_form(second, "Surn") or _name_form(second, "Patr")
        if s:
            return f"{n} {second.capitalize()}"
    return n


def name(raw: str, expecting: str | None = None, has_contact: bool = False) -> str | None:
    for rx in (_NAME_INTRO, _NAME_REV, _NAME_I):
        m = rx.search(raw)
        if m:
            n = _name_from(m.group(1), m.group(2))
            if n:
                return n
    if has_contact or expecting == "name":
        for rx in (_NAME_LEAD, _NAME_TAIL):
            m = rx.search(raw)
            if m:
                n = _name_from(m.group(1), m.group(2))
                if n:
                    return n
    if expecting == "name":
        words = _WORD.findall(raw)
        for i, w in enumerate(words):
            n = _name_from(w, words[i + 1] if i + 1 < len(words) else None)
            if n:
                return n
        if 1 <= len(words) <= 2 and parse(words[0].lower()).tag.POS in {"NOUN", None}:
            return " ".join(w.capitalize() for w in words)
    return None
