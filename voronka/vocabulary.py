"""The domain vocabulary, each term defined once: products, packages, pricing slots and their options, intents,
emotions, channels, funnel stages.

Every value is the exact string stored in the database (``leads.product``, ``leads.stage``, ``price_rates``,
``price_coefficients``, the brief's JSON), sent over the API and written in the labelled NLU files, so the enums are
``StrEnum``s: a member *is* that string (``Product.AI_LAWYER == "ai_lawyer"``, JSON and SQL see the plain value).
Python 3.11's ``"x" in SomeEnum`` raises for a non-member, so each enum has a tuple of its members for membership
tests (``PRODUCTS``, ``PACKAGES`` …). A term that carries data (a product's Russian title, a package's name) has a
small frozen dataclass next to it.

The kernel: this module imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

# --- products -------------------------------------------------------------------------------------------------


class Product(StrEnum):
    AI_MANAGER = "ai_manager"
    AI_LAWYER = "ai_lawyer"
    AI_ANALYST = "ai_analyst"

    @property
    def info(self) -> ProductInfo:
        return PRODUCT_INFO[self]


PRODUCTS: Final[tuple[Product, ...]] = tuple(Product)
NO_PRODUCT: Final = "none"  # a lead or a message about no product yet (``leads.product`` default, NLU label)
PRODUCT_OR_NONE: Final[tuple[str, ...]] = (*PRODUCTS, NO_PRODUCT)  # what understanding and a lead row may hold


@dataclass(frozen=True)
class ProductInfo:
    code: Product
    title: str  # «ИИ-Юрист»
    title_genitive: str  # «ИИ-Юриста» (расчёт для …)
    pitch: str  # what it does, one clause: «{title} — {pitch}»


PRODUCT_INFO: Final[Mapping[str, ProductInfo]] = MappingProxyType({
    Product.AI_MANAGER: ProductInfo(
        Product.AI_MANAGER, "ИИ-Менеджер", "ИИ-Менеджера",
        "отвечает клиентам 24/7 в Avito, Telegram и на сайте, квалифицирует заявки и передаёт их в CRM"),
    Product.AI_LAWYER: ProductInfo(
        Product.AI_LAWYER, "ИИ-Юрист", "ИИ-Юриста",
        "проверяет договоры на риски, готовит типовые документы и отвечает сотрудникам на правовые вопросы"),
    Product.AI_ANALYST: ProductInfo(
        Product.AI_ANALYST, "ИИ-Аналитик", "ИИ-Аналитика",
        "собирает данные из CRM, 1С и рекламы, строит отчёты и отвечает на вопросы по цифрам"),
})


def product_title(code: object, default: str = "") -> str:
    """The Russian title of a product code, ``default`` for «none», empty or unknown values."""
    info = PRODUCT_INFO.get(str(code)) if code else None
    return info.title if info is not None else default


def product_titles_listed() -> str:
    """«ИИ-Менеджер, ИИ-Юрист или ИИ-Аналитик» (asking the client to pick one)."""
    titles = [product.info.title for product in PRODUCTS]
    return ", ".join(titles[:-1]) + " или " + titles[-1]


# --- packages -------------------------------------------------------------------------------------------------


class Package(StrEnum):
    START = "start"
    OPTIMUM = "optimum"
    ENTERPRISE = "enterprise"

    @property
    def title_ru(self) -> str:
        return PACKAGE_TITLES[self]


PACKAGES: Final[tuple[Package, ...]] = tuple(Package)  # cheapest first
RECOMMENDED_PACKAGE: Final = Package.OPTIMUM  # offered first; the default when a lead chose none
PACKAGE_TITLES: Final[Mapping[str, str]] = MappingProxyType({
    Package.START: "Старт", Package.OPTIMUM: "Оптимум", Package.ENTERPRISE: "Enterprise"})


def package_title(code: object, default: str = "") -> str:
    """The Russian name of a package code, ``default`` for empty or unknown values."""
    return PACKAGE_TITLES.get(str(code), default) if code else default


# --- pricing slots (the brief's fields the price depends on) and their options ------------------------------------


class PricingSlot(StrEnum):
    USERS = "users"  # int, ≥ 1
    INTEGRATIONS = "integrations"  # int, ≥ 0
    HOSTING = "hosting"  # Hosting
    SLA = "sla"  # Sla
    DEADLINE = "deadline"  # Deadline


PRICING_SLOTS: Final[tuple[PricingSlot, ...]] = tuple(PricingSlot)
PRICING_SLOT_TITLES: Final[Mapping[str, str]] = MappingProxyType({  # a coefficient's name in quotes and documents
    PricingSlot.USERS: "Пользователи", PricingSlot.INTEGRATIONS: "Интеграции", PricingSlot.HOSTING: "Размещение",
    PricingSlot.SLA: "SLA", PricingSlot.DEADLINE: "Сроки"})
BAND_SLOTS: Final[tuple[PricingSlot, ...]] = (PricingSlot.USERS, PricingSlot.INTEGRATIONS)  # numbers → bands
OPTION_SLOTS: Final[tuple[PricingSlot, ...]] = (PricingSlot.HOSTING, PricingSlot.SLA, PricingSlot.DEADLINE)
# The slots of the brief that are not priced: free text or normalised strings (phone +7XXXXXXXXXX).
OTHER_SLOTS: Final[tuple[str, ...]] = ("industry", "goals", "security", "name", "phone", "email")


class Hosting(StrEnum):
    CLOUD = "cloud"
    HYBRID = "hybrid"
    ONPREM = "onprem"


class Sla(StrEnum):
    STANDARD = "standard"
    P99_5 = "99.5"
    P99_9 = "99.9"


class Deadline(StrEnum):
    STANDARD = "standard"
    LT2W = "lt2w"  # less than two weeks
    LT1W = "lt1w"  # less than one week


# Allowed option keys, cheapest first (the order matters: package rules clamp SLA along it).
OPTION_KEYS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType({
    PricingSlot.HOSTING: tuple(Hosting),
    PricingSlot.SLA: tuple(Sla),
    PricingSlot.DEADLINE: tuple(Deadline),
})


# --- understanding --------------------------------------------------------------------------------------------


class Intent(StrEnum):
    GREETING = "greeting"
    PRODUCT_INFO = "product_info"
    PRICE = "price"
    BRIEF = "brief"
    OBJECTION = "objection"
    BOOKING = "booking"
    PAYMENT = "payment"
    DOCUMENTS = "documents"
    HUMAN = "human"
    FAQ = "faq"
    OTHER = "other"


INTENTS: Final[tuple[Intent, ...]] = tuple(Intent)
# Questions answered from the knowledge base: chunks are retrieved for them, and the LLM answers them when set up.
KNOWLEDGE_INTENTS: Final[tuple[Intent, ...]] = (Intent.PRODUCT_INFO, Intent.FAQ, Intent.OBJECTION)


class Emotion(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


EMOTIONS: Final[tuple[Emotion, ...]] = tuple(Emotion)


# --- channels -------------------------------------------------------------------------------------------------


class Channel(StrEnum):
    AVITO = "avito"
    TELEGRAM = "telegram"
    SITE = "site"

    @property
    def info(self) -> ChannelInfo:
        return CHANNEL_INFO[self]


CHANNELS: Final[tuple[Channel, ...]] = tuple(Channel)


@dataclass(frozen=True)
class ChannelInfo:
    code: Channel
    label: str  # a column or a chart of the admin UI: «Avito», «Сайт»
    in_text: str  # inside a Russian sentence to a manager or in a letter: «Канал: Авито», «с сайта»
    source_tag: str  # ``leads.source_tag`` of a lead that came from this channel (also its amoCRM tag)


CHANNEL_INFO: Final[Mapping[str, ChannelInfo]] = MappingProxyType({
    Channel.AVITO: ChannelInfo(Channel.AVITO, "Avito", "Авито", "avito-lead"),
    Channel.TELEGRAM: ChannelInfo(Channel.TELEGRAM, "Telegram", "Telegram", "telegram-lead"),
    Channel.SITE: ChannelInfo(Channel.SITE, "Сайт", "сайт", "site-lead"),
})
OTHER_SOURCE_TAG: Final = "other"  # a lead from anywhere else


def channel_label(code: object, default: str | None = None) -> str:
    """The admin UI label of a channel code; ``default`` (else the code itself) for unknown values."""
    info = CHANNEL_INFO.get(str(code))
    return info.label if info is not None else (str(code) if default is None else default)


def channel_in_text(code: object, default: str | None = None) -> str:
    """How a Russian sentence names a channel; ``default`` (else the code itself) for unknown values."""
    info = CHANNEL_INFO.get(str(code))
    return info.in_text if info is not None else (str(code) if default is None else default)


# --- the sales funnel -----------------------------------------------------------------------------------------


class Stage(StrEnum):
    """A lead's stage (``leads.stage``). Stages only move forward along ``FUNNEL``; ``LOST`` is outside it."""

    NEW = "new"
    QUALIFIED = "qualified"
    BRIEF_DONE = "brief_done"
    QUOTED = "quoted"
    BOOKED = "booked"
    PAID = "paid"
    LOST = "lost"

    @property
    def label(self) -> str:
        return STAGE_LABELS[self]


FUNNEL: Final[tuple[Stage, ...]] = (Stage.NEW, Stage.QUALIFIED, Stage.BRIEF_DONE, Stage.QUOTED, Stage.BOOKED,
                                    Stage.PAID)
STAGES: Final[tuple[Stage, ...]] = tuple(Stage)  # the funnel, then LOST
STAGE_LABELS: Final[Mapping[str, str]] = MappingProxyType({
    Stage.NEW: "Новый", Stage.QUALIFIED: "Квалифицирован", Stage.BRIEF_DONE: "Бриф собран",
    Stage.QUOTED: "КП отправлено", Stage.BOOKED: "Встреча", Stage.PAID: "Оплачен", Stage.LOST: "Потерян"})


def stage_rank(stage: object) -> int:
    """Position of a stage in ``FUNNEL`` (-1 for ``lost`` and unknown values)."""
    return FUNNEL.index(Stage(str(stage))) if stage in FUNNEL else -1
