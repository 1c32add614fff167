"""``voronka web``: the web receiver (site, webhooks, admin API) on aiohttp with uvloop."""

from __future__ import annotations

import argparse

import uvloop
from aiohttp.web import run_app
from loguru import logger

from cli.process import add_process_arguments, serve, setup_process, start_operations
from voronka.settings import Settings
from web.app import create_app


def run_web(settings: Settings, *, database_url: str, redis_url: str, port: int) -> None:
    setup_process(settings, "web")
    start_operations(settings, process="web", redis_url=redis_url)
    app = create_app(settings, database_url=database_url, redis_url=redis_url)
    logger.info("web receiver on http://{}:{}", settings.VORONKA_HOST, port)
    run_app(app, host=settings.VORONKA_HOST, port=port, print=None, access_log=None, handle_signals=True,
            shutdown_timeout=10, loop=uvloop.new_event_loop(), reuse_port=True)


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    def body(database_url: str, redis_url: str) -> int:
        run_web(settings, database_url=database_url, redis_url=redis_url, port=args.port or settings.VORONKA_PORT)
        return 0

    return serve(args, settings, body)


def register(parser: argparse.ArgumentParser) -> None:
    add_process_arguments(parser)
    parser.add_argument("--port", type=int, default=None)
    parser.set_defaults(handler=cmd_web)
