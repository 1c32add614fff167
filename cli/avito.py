"""``voronka avito subscribe|unsubscribe|subscriptions|items|map``: the webhook subscription at Avito and the listing
→ product mapping."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import redis.asyncio as aioredis
from sqlmodel import Session, select

from cli.output import fail, print_json, quiet_logs
from cli.services import one_connection_engine, with_services
from db.engine import session_scope
from db.models_channels import AvitoItem
from integrations.avito import AvitoClient
from pipelines.channels.avito import map_item
from voronka.errors import VoronkaError
from voronka.settings import Settings
from voronka.vocabulary import NO_PRODUCT, PRODUCT_OR_NONE
from web.routes.webhooks_avito import webhook_url


def _with_client(settings: Settings, body: Callable[[AvitoClient], Awaitable[int]]) -> int:
    """Run ``body`` with an Avito client of the configured account (its token cached in Redis)."""
    quiet_logs()
    if not settings.avito_configured:
        return fail("Avito не настроен: задайте AVITO_CLIENT_ID, AVITO_CLIENT_SECRET и AVITO_USER_ID")

    def run(database_url: str, redis_url: str) -> int:
        async def go() -> int:
            redis = aioredis.Redis.from_url(redis_url)
            try:
                async with aiohttp.ClientSession() as session:
                    return await body(AvitoClient(settings, session=session, redis=redis))
            finally:
                await redis.aclose()

        try:
            return asyncio.run(go())
        except VoronkaError as exc:
            return fail(f"Ошибка: {exc.message}")

    return with_services(settings, run, migrate=False)


def _with_session(settings: Settings, body: Callable[[Session], int]) -> int:
    quiet_logs()

    def run(database_url: str, redis_url: str) -> int:
        with one_connection_engine(database_url) as engine, session_scope(engine) as session:
            return body(session)

    return with_services(settings, run)


def _subscription_url(args: argparse.Namespace, settings: Settings) -> str | None:
    if args.url:
        return str(args.url)
    if not settings.AVITO_WEBHOOK_SECRET:
        return None
    return webhook_url(settings)


def cmd_subscribe(args: argparse.Namespace, settings: Settings) -> int:
    url = _subscription_url(args, settings)
    if url is None:
        return fail("Задайте AVITO_WEBHOOK_SECRET (длинная случайная строка) и VORONKA_PUBLIC_URL (https://...)")
    if not url.startswith("https://"):
        return fail(f"Avito принимает только https-адреса, а получилось {url}: задайте VORONKA_PUBLIC_URL")

    async def body(client: AvitoClient) -> int:
        await client.subscribe_webhook(url)
        print("Подписка на вебхук Avito оформлена: сообщения клиентов будут приходить в voronka.")
        return 0

    return _with_client(settings, body)


def cmd_unsubscribe(args: argparse.Namespace, settings: Settings) -> int:
    url = _subscription_url(args, settings)
    if url is None:
        return fail("Не знаю, от какого адреса отписаться: задайте AVITO_WEBHOOK_SECRET или --url")

    async def body(client: AvitoClient) -> int:
        await client.unsubscribe_webhook(url)
        print("Подписка на вебхук Avito отменена.")
        return 0

    return _with_client(settings, body)


def cmd_subscriptions(args: argparse.Namespace, settings: Settings) -> int:
    wanted = _subscription_url(args, settings)

    async def body(client: AvitoClient) -> int:
        subscriptions = await client.list_subscriptions()
        secret = settings.AVITO_WEBHOOK_SECRET
        shown = [{**s, "url": str(s.get("url", "")).replace(secret, "<AVITO_WEBHOOK_SECRET>") if secret
                  else s.get("url")} for s in subscriptions]
        print_json({"subscriptions": shown, "ours_active": any(s.get("url") == wanted for s in subscriptions)})
        return 0

    return _with_client(settings, body)


def cmd_items(args: argparse.Namespace, settings: Settings) -> int:
    def body(session: Session) -> int:
        items = session.exec(select(AvitoItem).order_by(AvitoItem.item_id)).all()
        print_json([{"item_id": i.item_id, "title": i.title, "product": i.product, "source": i.product_source}
                    for i in items])
        return 0

    return _with_session(settings, body)


def cmd_map(args: argparse.Namespace, settings: Settings) -> int:
    def body(session: Session) -> int:
        item = map_item(session, str(args.item_id), None if args.product == NO_PRODUCT else args.product)
        print(f"Объявление {item.item_id}: продукт {item.product or 'не задан'} ({item.product_source or '—'})")
        return 0

    return _with_session(settings, body)


def register(parser: argparse.ArgumentParser) -> None:
    avito = parser.add_subparsers(dest="subcommand", required=True)
    for name, handler, text in (("subscribe", cmd_subscribe, "подписаться на вебхук сообщений"),
                                ("unsubscribe", cmd_unsubscribe, "отписаться от вебхука"),
                                ("subscriptions", cmd_subscriptions, "текущие подписки")):
        p = avito.add_parser(name, help=text)
        p.add_argument("--url", default=None, help="адрес вебхука (по умолчанию VORONKA_PUBLIC_URL + путь + секрет)")
        p.set_defaults(handler=handler)
    avito.add_parser("items", help="объявления и их продукты").set_defaults(handler=cmd_items)
    p = avito.add_parser("map", help="задать продукт объявления (none — определять по заголовку)")
    p.add_argument("item_id")
    p.add_argument("product", choices=PRODUCT_OR_NONE)
    p.set_defaults(handler=cmd_map)
