"""Operations subcommands: ``admin create-user|gen-key``, ``privacy export|erase``, ``backup``, ``restore``,
``doc render`` and ``kb ingest|search|history``."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from voronka.settings import Settings


def _quiet(settings: Settings) -> None:
    from voronka.cli import _quiet_logs

    _quiet_logs(settings)


def _services(args: argparse.Namespace, settings: Settings, body: Any) -> int:
    from db import crypto
    from voronka.cli import _with_services

    crypto.configure(settings)
    return _with_services(args, settings, body)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Пароль: ")
    second = getpass.getpass("Повторите пароль: ")
    if first != second:
        raise ValueError("Пароли не совпадают")
    return first


# --- admin ------------------------------------------------------------------------------------------------------
def cmd_admin_create_user(args: argparse.Namespace, settings: Settings) -> int:
    from voronka.errors import ValidationError

    _quiet(settings)
    try:
        password = _read_password(args)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2

    def body(db: str, redis: str) -> int:
        from db.engine import make_engine, session_scope
        from web.admin.auth import create_user

        engine = make_engine(db, pool_size=1)
        try:
            with session_scope(engine) as session:
                user = create_user(session, args.username, password, role=args.role)
                name, role = user.username, user.role
        except ValidationError as exc:
            print(exc.message, file=sys.stderr)
            return 2
        finally:
            engine.dispose()
        print(f"Пользователь {name} ({role}) готов: вход на /admin/login")
        return 0

    return _services(args, settings, body)


def cmd_admin_gen_key(args: argparse.Namespace, settings: Settings) -> int:
    from db.crypto import generate_key

    print(f"{args.kid}:{generate_key()}")
    return 0


# --- privacy ----------------------------------------------------------------------------------------------------
def cmd_privacy_export(args: argparse.Namespace, settings: Settings) -> int:
    _quiet(settings)

    def body(db: str, redis: str) -> int:
        from sqlmodel import Session

        from db.engine import make_engine
        from pipelines.privacy import export_lead
        from voronka.errors import NotFound

        engine = make_engine(db, pool_size=1)
        try:
            with Session(engine) as session:
                data = export_lead(session, args.lead)
        except NotFound as exc:
            print(exc.message, file=sys.stderr)
            return 2
        finally:
            engine.dispose()
        text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
        if args.out:
            Path(args.out).write_text(text + "\n", encoding="utf-8")
            print(f"Выгрузка записана в {args.out}", file=sys.stderr)
        else:
            print(text)
        return 0

    return _services(args, settings, body)


def cmd_privacy_erase(args: argparse.Namespace, settings: Settings) -> int:
    _quiet(settings)
    if not args.yes:
        answer = input(f"Стереть персональные данные клиента лида {args.lead}? Это необратимо. [да/нет] ")
        if answer.strip().lower() not in ("да", "yes", "y", "д"):
            print("Отменено", file=sys.stderr)
            return 1

    def body(db: str, redis: str) -> int:
        import redis as redis_lib
        from sqlmodel import Session

        from db.engine import make_engine
        from pipelines.privacy import erase_lead
        from voronka.errors import NotFound

        engine = make_engine(db, pool_size=1)
        client = redis_lib.Redis.from_url(redis)
        try:
            with Session(engine) as session:
                report = erase_lead(session, args.lead, documents_dir=settings.documents_dir, redis=client)
                session.commit()
        except NotFound as exc:
            print(exc.message, file=sys.stderr)
            return 2
        finally:
            client.close()
            engine.dispose()
        print(json.dumps({"erased": report.as_dict()}, ensure_ascii=False))
        return 0

    return _services(args, settings, body)


# --- backups ----------------------------------------------------------------------------------------------------
def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.admin.backup import BackupError, backup

    _quiet(settings)
    root = Path(args.dest) if args.dest else settings.BACKUP_PATH

    def body(db: str, redis: str) -> int:
        try:
            result = backup(db, settings.documents_dir, root.resolve())
        except BackupError as exc:
            print(f"Резервная копия не сделана: {exc}", file=sys.stderr)
            return 1
        print(f"Резервная копия: {result.path} (БД {result.dump_bytes} байт, документов {result.documents})")
        return 0

    return _services(args, settings, body)


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.admin.backup import BackupError, latest_backup, restore

    _quiet(settings)
    try:
        source = Path(args.source).resolve() if args.source else latest_backup(settings.BACKUP_PATH.resolve())
    except BackupError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not args.yes:
        answer = input(f"Восстановить БД и документы из {source}? Текущие данные БД будут заменены. [да/нет] ")
        if answer.strip().lower() not in ("да", "yes", "y", "д"):
            print("Отменено", file=sys.stderr)
            return 1

    def body(db: str, redis: str) -> int:
        try:
            result = restore(db, settings.documents_dir, source)
        except BackupError as exc:
            print(f"Восстановление не удалось: {exc}", file=sys.stderr)
            return 1
        print(f"Восстановлено из {result['source']} (копия от {result['created_at']}, документов "
              f"{result['documents']})")
        return 0

    from voronka.cli import _with_services

    return _with_services(args, settings, body, migrate=False)


# --- documents and knowledge base -------------------------------------------------------------------------------
def cmd_doc_render(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.document.cli import doc_render_main

    _quiet(settings)
    return doc_render_main(args.kind, args.brief, args.out, settings)


def _kb_settings(settings: Settings, db: str, redis: str) -> Settings:
    return settings.model_copy(update={"DATABASE_URL": db, "REDIS_URL": redis})


def cmd_kb_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.knowledge.cli import kb_ingest_main

    _quiet(settings)
    return _services(args, settings, lambda db, redis: kb_ingest_main(
        args.path, args.collection, _kb_settings(settings, db, redis), sys.stdout))


def cmd_kb_search(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.knowledge.cli import kb_search_main

    _quiet(settings)
    return _services(args, settings, lambda db, redis: kb_search_main(
        args.query, jsonl=args.jsonl, top=args.top, settings=_kb_settings(settings, db, redis), inp=sys.stdin,
        out=sys.stdout, collection=args.collection))


def cmd_kb_history(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.knowledge.cli import kb_history_main

    _quiet(settings)
    return _services(args, settings, lambda db, redis: kb_history_main(
        args.collection, settings=_kb_settings(settings, db, redis), out=sys.stdout, limit=args.limit))


def add_parsers(sub: Any) -> dict[str, Any]:
    handlers: dict[str, Any] = {}

    admin = sub.add_parser("admin", help="пользователи админки и ключи").add_subparsers(dest="subcommand",
                                                                                       required=True)
    p = admin.add_parser("create-user", help="создать пользователя админки (или сменить пароль)")
    p.add_argument("--username", required=True)
    p.add_argument("--role", choices=("admin", "manager"), default="admin")
    p.add_argument("--password-stdin", action="store_true", help="прочитать пароль из первой строки stdin")
    handlers["admin:create-user"] = cmd_admin_create_user
    p = admin.add_parser("gen-key", help="новый ключ для ENCRYPTION_KEYS")
    p.add_argument("--kid", default="k1", help="идентификатор ключа")
    handlers["admin:gen-key"] = cmd_admin_gen_key

    privacy = sub.add_parser("privacy", help="персональные данные: выгрузка и удаление").add_subparsers(
        dest="subcommand", required=True)
    p = privacy.add_parser("export", help="JSON со всеми данными клиента лида")
    p.add_argument("--lead", type=int, required=True)
    p.add_argument("--out", help="файл (по умолчанию stdout)")
    handlers["privacy:export"] = cmd_privacy_export
    p = privacy.add_parser("erase", help="стереть персональные данные клиента лида (воронка остаётся)")
    p.add_argument("--lead", type=int, required=True)
    p.add_argument("--yes", action="store_true", help="не спрашивать подтверждение")
    handlers["privacy:erase"] = cmd_privacy_erase

    p = sub.add_parser("backup", help="резервная копия: pg_dump БД и rsync документов в BACKUP_PATH/<время>/")
    p.add_argument("--dest", help="корневая папка копий (по умолчанию BACKUP_PATH)")
    handlers["backup"] = cmd_backup
    p = sub.add_parser("restore", help="восстановить БД и документы из резервной копии")
    p.add_argument("--from", dest="source", help="папка копии (по умолчанию самая свежая в BACKUP_PATH)")
    p.add_argument("--yes", action="store_true", help="не спрашивать подтверждение")
    handlers["restore"] = cmd_restore

    doc = sub.add_parser("doc", help="документы").add_subparsers(dest="subcommand", required=True)
    p = doc.add_parser("render", help="КП, договор или счёт по брифу в PDF")
    p.add_argument("--kind", required=True, help="proposal | contract | invoice")
    p.add_argument("--brief", required=True, help="JSON-файл брифа")
    p.add_argument("--out", required=True, help="папка для PDF")
    handlers["doc:render"] = cmd_doc_render

    import importlib.util

    if importlib.util.find_spec("pipelines.knowledge.cli") is None:  # found, not imported: every command starts fast
        return handlers
    kb = sub.add_parser("kb", help="база знаний").add_subparsers(dest="subcommand", required=True)
    p = kb.add_parser("ingest", help="загрузить папку или файл в базу знаний")
    p.add_argument("path")
    p.add_argument("--collection")
    handlers["kb:ingest"] = cmd_kb_ingest
    p = kb.add_parser("search", help="поиск по базе знаний")
    p.add_argument("query", nargs="?")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--json", action="store_true", help="вывод JSON-массивом (так и по умолчанию)")
    p.add_argument("--jsonl", action="store_true", help="запросы {\"q\"} построчно со stdin")
    p.add_argument("--collection")
    handlers["kb:search"] = cmd_kb_search
    p = kb.add_parser("history", help="история изменений базы знаний")
    p.add_argument("--collection")
    p.add_argument("--limit", type=int, default=50)
    handlers["kb:history"] = cmd_kb_history
    return handlers
