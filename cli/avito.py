"""``voronka avito ...`` and ``voronka telegram ...``: webhook registration and the listing → product mapping."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from voronka.errors import VoronkaError
from voronka.settings import Settings

T = TypeVar("T")
Command = Callable[[argparse.Namespace, Settings], int]
PRODUCT_CHOICES = ("ai_manager", "ai_lawyer", "ai_analyst", "none")


def _print(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


# --- Avito -----------------------------------------------------------------------------------------------
def _avito(args: argparse.Namespace, settings: Settings,
           body: Callable[[Any], Awaitable[int]]) -> int:
    from voronka.cli import _quiet_logs, _with_services

    _quiet_logs(settings)
    if not (settings.AVITO_CLIENT_ID and settings.AVITO_CLIENT_SECRET and settings.AVITO_USER_ID):
        return _fail("Avito не настроен: задайте AVITO_CLIENT_ID, AVITO_CLIENT_SECRET и AVITO_USER_ID")

    def run(database_url: str, redis_url: str) -> int:
        async def go() -> int:
            import aiohttp
            import redis.asyncio as aioredis

            from integrations.avito import AvitoClient

            redis = aioredis.Redis.from_url(redis_url)
            try:
                async with aiohttp.ClientSession() as session:
                    return await body(AvitoClient(settings, session=session, redis=redis))
            finally:
                await redis.aclose()

        try:
            return asyncio.run(go())
        except VoronkaError as exc:
            return _fail(f"Ошибка: {exc.message}")

    return _with_services(args, settings, run, migrate=False)


def _subscription_url(args: argparse.Namespace, settings: Settings) -> str | None:
    from web.routes.webhooks_avito import webhook_url

    if args.url:
        return str(args.url)
    if not settings.AVITO_WEBHOOK_SECRET:
        return None
    return webhook_url(settings)


def cmd_avito_subscribe(args: argparse.Namespace, settings: Settings) -> int:
    url = _subscription_url(args, settings)
    if url is None:
        return _fail("Задайте AVITO_WEBHOOK_SECRET (длинная случайная строка) и VORONKA_PUBLIC_URL (https://...)")
    if not url.startswith("https://"):
        return _fail(f"Avito принимает только https-адреса, а получилось {url}: задайте VORONKA_PUBLIC_URL")

    async def body(client: Any) -> int:
        await client.subscribe_webhook(url)
        print("Подписка на вебхук Avito оформлена: сообщения клиентов будут приходить в voronka.")
        return 0

    return _avito(args, settings, body)


def cmd_avito_unsubscribe(args: argparse.Namespace, settings: Settings) -> int:
    url = _subscription_url(args, settings)
    if url is None:
        return _fail("Не знаю, от какого адреса отписаться: задайте AVITO_WEBHOOK_SECRET или --url")

    async def body(client: Any) -> int:
        await client.unsubscribe_webhook(url)
        print("Подписка на вебхук Avito отменена.")
        return 0

    return _avito(args, settings, body)


def cmd_avito_subscriptions(args: argparse.Namespace, settings: Settings) -> int:
    wanted = _subscription_url(args, settings)

    async def body(client: Any) -> int:
        subscriptions = await client.list_subscriptions()
        secret = settings.AVITO_WEBHOOK_SECRET
        shown = [{**s, "url": str(s.get("url", "")).replace(secret, "<AVITO_WEBHOOK_SECRET>") if secret
                  else s.get("url")} for s in subscriptions]
        _print({"subscriptions": shown, "ours_active": any(s.get("url") == wanted for s in subscriptions)})
        return 0

    return _avito(args, settings, body)


def _with_db(args: argparse.Namespace, settings: Settings, body: Callable[[Any], int]) -> int:
    from voronka.cli import _quiet_logs, _with_services

    _quiet_logs(settings)

    def run(database_url: str, redis_url: str) -> int:
        from db.engine import make_engine, session_scope

        engine = make_engine(database_url, pool_size=1)
        try:
            with session_scope(engine) as session:
                return body(session)
        finally:
            engine.dispose()

    return _with_services(args, settings, run)


def cmd_avito_items(args: argparse.Namespace, settings: Settings) -> int:
    def body(session: Any) -> int:
        from sqlmodel import select

        from db.models_channels import AvitoItem

        items = session.exec(select(AvitoItem).order_by(AvitoItem.item_id)).all()
        _print([{"item_id": i.item_id, "title": i.title, "product": i.product, "source": i.product_source}
                for i in items])
        return 0

    return _with_db(args, settings, body)


def cmd_avito_map(args: argparse.Namespace, settings: Settings) -> int:
    def body(session: Any) -> int:
        from pipelines.channels.avito import map_item

        item = map_item(session, str(args.item_id), None if args.product == "none" else args.product)
        print(f"Объявление {item.item_id}: продукт {item.product or 'не задан'} ({item.product_source or '—'})")
        return 0

    return _with_db(args, settings, body)


# --- Telegram --------------------------------------------------------------------------------------------
def _telegram(settings: Settings, body: Callable[[Any], Awaitable[int]]) -> int:
    from voronka.cli import _quiet_logs

    _quiet_logs(settings)
    if not settings.TELEGRAM_BOT_TOKEN:
        return _fail("Telegram не настроен: задайте TELEGRAM_BOT_TOKEN")

    async def go() -> int:
        from integrations.telegram import TelegramSender, make_bot

        bot = make_bot(settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_URL)
        try:
            return await body(TelegramSender(bot))
        finally:
            await bot.session.close()

    try:
        return asyncio.run(go())
    except VoronkaError as exc:
        return _fail(f"Ошибка: {exc.message}")


def cmd_telegram_set_webhook(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runner import webhook_url

    url = args.url or webhook_url(settings)
    if not settings.TELEGRAM_WEBHOOK_SECRET:
        return _fail("Задайте TELEGRAM_WEBHOOK_SECRET (1–256 символов A-Z, a-z, 0-9, _ и -)")

    async def body(sender: Any) -> int:
        await sender.set_webhook(url, settings.TELEGRAM_WEBHOOK_SECRET, drop_pending_updates=args.drop_pending)
        print(f"Вебхук Telegram установлен: {url}")
        return 0

    return _telegram(settings, body)


def cmd_telegram_delete_webhook(args: argparse.Namespace, settings: Settings) -> int:
    async def body(sender: Any) -> int:
        await sender.delete_webhook(drop_pending_updates=args.drop_pending)
        print("Вебхук Telegram удалён (для локальной разработки: voronka bot --polling).")
        return 0

    return _telegram(settings, body)


def cmd_telegram_info(args: argparse.Namespace, settings: Settings) -> int:
    async def body(sender: Any) -> int:
        info = await sender.webhook_info()
        _print({"webhook": info, "bot": await sender.get_me()})
        return 0

    return _telegram(settings, body)


def add_parsers(sub: Any) -> dict[str, Command]:
    handlers: dict[str, Command] = {}
    avito = sub.add_parser("avito", help="Avito: подписка на вебхук, объявления и продукты")
    avito_sub = avito.add_subparsers(dest="subcommand", required=True)
    for name, handler, text in (("subscribe", cmd_avito_subscribe, "подписаться на вебхук сообщений"),
                                ("unsubscribe", cmd_avito_unsubscribe, "отписаться от вебхука"),
                                ("subscriptions", cmd_avito_subscriptions, "текущие подписки")):
        p = avito_sub.add_parser(name, help=text)
        p.add_argument("--url", default=None, help="адрес вебхука (по умолчанию VORONKA_PUBLIC_URL + путь + секрет)")
        handlers[f"avito:{name}"] = handler
    avito_sub.add_parser("items", help="объявления и их продукты")
    handlers["avito:items"] = cmd_avito_items
    p = avito_sub.add_parser("map", help="задать продукт объявления (none — определять по заголовку)")
    p.add_argument("item_id")
    p.add_argument("product", choices=PRODUCT_CHOICES)
    handlers["avito:map"] = cmd_avito_map

    telegram = sub.add_parser("telegram", help="Telegram: вебхук бота")
    tg_sub = telegram.add_subparsers(dest="subcommand", required=True)
    p = tg_sub.add_parser("set-webhook", help="установить вебхук (TELEGRAM_WEBHOOK_URL и TELEGRAM_WEBHOOK_SECRET)")
    p.add_argument("--url", default=None)
    p.add_argument("--drop-pending", action="store_true", help="отбросить накопившиеся обновления")
    handlers["telegram:set-webhook"] = cmd_telegram_set_webhook
    p = tg_sub.add_parser("delete-webhook", help="удалить вебхук")
    p.add_argument("--drop-pending", action="store_true")
    handlers["telegram:delete-webhook"] = cmd_telegram_delete_webhook
    tg_sub.add_parser("info", help="состояние вебхука и бота")
    handlers["telegram:info"] = cmd_telegram_info
    return handlers
