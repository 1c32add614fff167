"""``voronka restore [--from DIR] [--yes]``: the database and the documents back from a ``voronka backup`` copy (the
newest in ``BACKUP_PATH`` by default)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.output import confirmed, fail, quiet_logs
from cli.services import with_services
from pipelines.admin.backup import BackupError, latest_backup, restore
from voronka.settings import Settings


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()
    try:
        source = Path(args.source).resolve() if args.source else latest_backup(settings.BACKUP_PATH.resolve())
    except BackupError as exc:
        return fail(str(exc), 2)
    if not args.yes and not confirmed(
            f"Восстановить БД и документы из {source}? Текущие данные БД будут заменены."):
        return 1

    def body(database_url: str, redis_url: str) -> int:
        try:
            result = restore(database_url, settings.documents_dir, source)
        except BackupError as exc:
            return fail(f"Восстановление не удалось: {exc}")
        print(f"Восстановлено из {result['source']} (копия от {result['created_at']}, документов "
              f"{result['documents']})")
        return 0

    return with_services(settings, body, migrate=False)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", help="папка копии (по умолчанию самая свежая в BACKUP_PATH)")
    parser.add_argument("--yes", action="store_true", help="не спрашивать подтверждение")
    parser.set_defaults(handler=cmd_restore)
