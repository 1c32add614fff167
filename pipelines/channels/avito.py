"""Avito specifics: webhook event → inbox row, the listing → product mapping, links for managers."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, select

from db.models import utcnow
from db.models_channels import AvitoItem
from integrations.avito import AvitoInbound
from pipelines.inbox import Inbound
from pipelines.understand.normalize import normalize
from pipelines.understand.offline import detect_product
from voronka.vocabulary import PRODUCTS

SKIPPED_TYPES = frozenset({"deleted", "call", "appCall"})  # nothing for the bot to answer
KIND_OF_TYPE = {"text": "text", "link": "text", "voice": "voice", "image": "image", "file": "file", "video": "video"}
CHAT_URL = "https://www.avito.ru/profile/messenger/channel/{chat_id}"


def chat_url(chat_id: str) -> str:
    """Where a manager opens this Avito chat."""
    return CHAT_URL.format(chat_id=chat_id)


def to_inbound(event: AvitoInbound) -> Inbound | None:
    """The inbox row for a client's Avito message; ``None`` for events nobody should answer."""
    if event.type in SKIPPED_TYPES:
        return None
    kind = KIND_OF_TYPE.get(event.type, "text" if event.text else "file")
    if kind == "text" and not (event.text or "").strip():
        kind = "file"
    payload: dict[str, Any] = {"avito_type": event.type, "event_id": event.event_id}
    if event.voice_id:
        payload["voice_id"] = event.voice_id
    if event.image_url:
        payload["media_url"] = event.image_url
    return Inbound(channel="avito", external_chat_id=event.chat_id, external_user_id=str(event.author_id),
                   external_id=event.message_id, text=event.text or "", kind=kind, payload=payload,
                   listing_id=str(event.item_id) if event.item_id is not None else None)


def detect_from_title(title: str) -> str | None:
    """The product a listing title is about (the NLU's keyword detector), or None."""
    product = detect_product(normalize(title or ""))
    return product if product in PRODUCTS else None


def known_item(session: Session, item_id: str) -> AvitoItem | None:
    return session.exec(select(AvitoItem).where(AvitoItem.item_id == item_id)).first()


def remember_item(session: Session, item_id: str, *, title: str, url: str | None) -> AvitoItem:
    """Store a listing seen in a chat; its product is detected from the title unless an admin mapped it."""
    session.execute(insert(AvitoItem.__table__).values(  # type: ignore[attr-defined]
        item_id=item_id, title=title, url=url, product=None, product_source=None, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["item_id"]))
    item = known_item(session, item_id)
    assert item is not None
    if item.product_source != "manual":
        item.title, item.url = title or item.title, url or item.url
        item.product = detect_from_title(item.title)
        item.product_source = "detected" if item.product else None
        item.updated_at = utcnow()
        session.add(item)
    return item


def map_item(session: Session, item_id: str, product: str | None) -> AvitoItem:
    """An admin's mapping of a listing to a product (``None`` clears it back to title detection)."""
    if product is not None and product not in PRODUCTS:
        raise ValueError(f"unknown product {product!r}; one of {', '.join(PRODUCTS)}")
    item = known_item(session, item_id) or AvitoItem(item_id=item_id)
    item.product = product if product is not None else detect_from_title(item.title)
    item.product_source = "manual" if product is not None else ("detected" if item.product else None)
    item.updated_at = utcnow()
    session.add(item)
    session.flush()
    return item


def listing_from_chat(chat: dict[str, Any]) -> tuple[str | None, str, str | None]:
    """(item id, title, url) of the listing an Avito chat is about (``context.value``)."""
    context = chat.get("context") if isinstance(chat, dict) else None
    value = context.get("value") if isinstance(context, dict) else None
    if not isinstance(value, dict) or value.get("id") is None:
        return None, "", None
    url = value.get("url")
    return str(value["id"]), str(value.get("title") or ""), str(url) if url else None
