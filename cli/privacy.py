"""``voronka privacy export|erase --lead N``: a client's personal data, exported as JSON or erased (the funnel
stays)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import redis as redis_lib
from sqlmodel import Session

from cli.output import confirmed, fail, quiet_logs
from cli.services import one_connection_engine, with_services
from pipelines.privacy import erase_lead, export_lead
from voronka.errors import NotFound
from voronka.settings import Settings


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()

    def body(database_url: str, redis_url: str) -> int:
        try:
            with one_connection_engine(database_url) as engine, Session(engine) as session:
                data = export_lead(session, args.lead)
        except NotFound as exc:
            return fail(exc.message, 2)
        text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
        if args.out:
            Path(args.out).write_text(text + "\n", encoding="utf-8")
            print(f"Выгрузка записана в {args.out}", file=sys.stderr)
        else:
            print(text)
        return 0

    return with_services(settings, body, personal_data=True)


def cmd_erase(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()
    if not args.yes and not confirmed(f"Стереть персональные данные клиента лида {args.lead}? Это необратимо."):
        return 1

    def body(database_url: str, redis_url: str) -> int:
        client = redis_lib.Redis.from_url(redis_url)
        try:
            with one_connection_engine(database_url) as engine, Session(engine) as session:
                report = erase_lead(session, args.lead, documents_dir=settings.documents_dir, redis=client)
                session.commit()
        except NotFound as exc:
            return fail(exc.message, 2)
        finally:
            client.close()
        print(json.dumps({"erased": report.as_dict()}, ensure_ascii=False))
        return 0

    return with_services(settings, body, personal_data=True)


def register(parser: argparse.ArgumentParser) -> None:
    privacy = parser.add_subparsers(dest="subcommand", required=True)
    p = privacy.add_parser("export", help="JSON со всеми данными клиента лида")
    p.add_argument("--lead", type=int, required=True)
    p.add_argument("--out", help="файл (по умолчанию stdout)")
    p.set_defaults(handler=cmd_export)
    p = privacy.add_parser("erase", help="стереть персональные данные клиента лида (воронка остаётся)")
    p.add_argument("--lead", type=int, required=True)
    p.add_argument("--yes", action="store_true", help="не спрашивать подтверждение")
    p.set_defaults(handler=cmd_erase)
