"""``voronka admin create-user|gen-key``: users of the admin pages and keys for ``ENCRYPTION_KEYS``."""

from __future__ import annotations

import argparse
import getpass
import sys

from cli.output import fail, quiet_logs
from cli.services import one_connection_engine, with_services
from db.crypto import generate_key
from db.engine import session_scope
from voronka.errors import ValidationError
from voronka.settings import Settings
from web.admin.auth import ROLES, create_user


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Пароль: ")
    second = getpass.getpass("Повторите пароль: ")
    if first != second:
        raise ValueError("Пароли не совпадают")
    return first


def cmd_create_user(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()
    try:
        password = _read_password(args)
    except ValueError as exc:
        return fail(str(exc), 2)

    def body(database_url: str, redis_url: str) -> int:
        try:
            with one_connection_engine(database_url) as engine, session_scope(engine) as session:
                user = create_user(session, args.username, password, role=args.role)
                name, role = user.username, user.role
        except ValidationError as exc:
            return fail(exc.message, 2)
        print(f"Пользователь {name} ({role}) готов: вход на /admin/login")
        return 0

    return with_services(settings, body, personal_data=True)


def cmd_gen_key(args: argparse.Namespace, settings: Settings) -> int:
    print(f"{args.kid}:{generate_key()}")
    return 0


def register(parser: argparse.ArgumentParser) -> None:
    admin = parser.add_subparsers(dest="subcommand", required=True)
    p = admin.add_parser("create-user", help="создать пользователя админки (или сменить пароль)")
    p.add_argument("--username", required=True)
    p.add_argument("--role", choices=ROLES, default="admin")
    p.add_argument("--password-stdin", action="store_true", help="прочитать пароль из первой строки stdin")
    p.set_defaults(handler=cmd_create_user)
    p = admin.add_parser("gen-key", help="новый ключ для ENCRYPTION_KEYS")
    p.add_argument("--kid", default="k1", help="идентификатор ключа")
    p.set_defaults(handler=cmd_gen_key)
