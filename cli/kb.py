"""``voronka kb ingest|search|history``: load files into the knowledge base, search it, list its changes.

Each body takes the settings and text streams, opens its connections from ``settings.DATABASE_URL`` (or takes
``engine``) and returns an exit code: 0 done, 1 done with problems (a file that could not be read, a bad input
line), 2 could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy import Engine
from sqlmodel import Session

from cli.output import quiet_logs
from cli.services import with_services
from pipelines.knowledge.embedders import make_embedder
from pipelines.knowledge.ingest import IngestReport, ingest_path, list_history
from pipelines.knowledge.rescan import close_embedder, knowledge_services
from pipelines.knowledge.search import Hit, search
from pipelines.russian import plural
from voronka.errors import NotConfigured, UpstreamError
from voronka.settings import Settings

ACTION_LABELS = {"added": "добавлен", "changed": "изменён", "retired": "выведен", "reembedded": "переиндексирован"}
ACTION_MARKS = {"added": "+", "changed": "~", "retired": "−", "reembedded": "↻"}


def _docs(n: int) -> str:
    return f"{n} {plural(n, 'документ', 'документа', 'документов')}"


def format_report(report: IngestReport) -> str:
    """The Russian summary of an ingest run."""
    lines: list[str] = []
    if report.nothing_changed:
        lines.append(f"Без изменений: {_docs(report.unchanged)}")
    else:
        parts = [f"добавлено {report.added}", f"изменено {report.changed}", f"выведено {report.retired}",
                 f"без изменений {report.unchanged}"]
        if report.reembedded:
            parts.append(f"переиндексировано {report.reembedded}")
        summary = ", ".join(parts)
        lines.append(f"Коллекция «{report.collection}»: {summary}; фрагментов записано: {report.chunks}")
        lines.extend(f"  {ACTION_MARKS.get(action, '?')} {source}" for action, source in report.details)
    for source, reason in report.failed:
        lines.append(f"Не удалось прочитать {source}: {reason}")
    return "\n".join(lines)


def kb_ingest_main(path: str | Path, collection: str | None, settings: Settings, out: TextIO, *,
                   engine: Engine | None = None) -> int:
    """``voronka kb ingest PATH [--collection NAME]``."""
    target = Path(path)
    if not target.exists():
        print(f"Нет такого пути: {target}", file=out)
        return 2
    try:
        with knowledge_services(settings, engine) as services:
            embedder = make_embedder(settings, cache=services.redis_client)
            try:
                with Session(services.engine, expire_on_commit=False) as session:
                    report = ingest_path(session, target, collection=collection, embedder=embedder,
                                         cache=services.cache)
            finally:
                close_embedder(embedder)
    except (RuntimeError, NotConfigured, UpstreamError) as exc:
        print(f"Не удалось загрузить базу знаний: {exc}", file=out)
        return 2
    print(format_report(report), file=out)
    return 1 if report.failed else 0


def _hit_rows(hits: list[Hit]) -> list[dict[str, object]]:
    return [{"source": h.source, "title": h.title, "score": h.score, "text": h.text} for h in hits]


def kb_search_main(query: str | None, *, jsonl: bool, top: int, settings: Settings, inp: TextIO, out: TextIO,
                   collection: str | None = None, doc_types: list[str] | None = None,
                   engine: Engine | None = None) -> int:
    """``voronka kb search "QUERY" [--top N]`` prints a JSON array; ``--jsonl`` reads ``{"q": ...}`` lines from
    ``inp`` and prints one array per line. Without a query and without ``--jsonl`` the query is read from ``inp``."""
    if top < 1:
        print("Число результатов должно быть не меньше 1", file=out)
        return 2
    status = 0
    try:
        with knowledge_services(settings, engine) as services:
            embedder = make_embedder(settings, cache=services.redis_client)
            try:
                with Session(services.engine, expire_on_commit=False) as session:
                    def run(q: str) -> list[dict[str, object]]:
                        return _hit_rows(search(session, q, top_k=top, collection=collection, doc_types=doc_types,
                                                embedder=embedder, cache=services.cache))

                    if not jsonl:
                        text = query if query is not None else inp.read()
                        print(json.dumps(run(text.strip()), ensure_ascii=False, indent=2), file=out)
                    else:
                        for number, line in enumerate(inp, start=1):
                            if not line.strip():
                                continue
                            try:
                                item = json.loads(line)
                                q = item["q"] if isinstance(item, dict) else None
                                if not isinstance(q, str):
                                    raise ValueError("нет строки q")
                            except (ValueError, KeyError) as exc:
                                logger.warning("kb search: input line {} skipped: {}", number, exc)
                                print("[]", file=out)
                                status = 1
                                continue
                            print(json.dumps(run(q), ensure_ascii=False), file=out)
                            out.flush()
            finally:
                close_embedder(embedder)
    except (RuntimeError, NotConfigured, UpstreamError) as exc:
        print(f"Поиск недоступен: {exc}", file=out)
        return 2
    return status


def kb_history_main(collection: str | None, *, settings: Settings, out: TextIO, limit: int = 50,
                    engine: Engine | None = None) -> int:
    """``voronka kb history [--collection NAME]``: the latest changes, newest first, Moscow time."""
    tz = ZoneInfo(settings.BOOKING_TIMEZONE or "Europe/Moscow")
    try:
        with knowledge_services(settings, engine) as services, Session(services.engine) as session:
            entries = list_history(session, collection, limit=limit)
    except (RuntimeError, NotConfigured, UpstreamError) as exc:
        print(f"История недоступна: {exc}", file=out)
        return 2
    if not entries:
        print("История пуста: база знаний ещё не загружалась", file=out)
        return 0
    for e in entries:
        when = e.at.astimezone(tz).strftime("%d.%m.%Y %H:%M")
        label = ACTION_LABELS.get(e.action, e.action)
        print(f"{when}  {label:<10} v{e.version}  {e.source} — {e.title} ({e.chunks} фрагм.)", file=out)
    return 0


def _scoped(settings: Settings, database_url: str, redis_url: str) -> Settings:
    """The bodies open their own connections from the settings' URLs."""
    return settings.model_copy(update={"DATABASE_URL": database_url, "REDIS_URL": redis_url})


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()
    return with_services(settings, lambda database_url, redis_url: kb_ingest_main(
        args.path, args.collection, _scoped(settings, database_url, redis_url), sys.stdout), personal_data=True)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()
    return with_services(settings, lambda database_url, redis_url: kb_search_main(
        args.query, jsonl=args.jsonl, top=args.top, settings=_scoped(settings, database_url, redis_url),
        inp=sys.stdin, out=sys.stdout, collection=args.collection), personal_data=True)


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()
    return with_services(settings, lambda database_url, redis_url: kb_history_main(
        args.collection, settings=_scoped(settings, database_url, redis_url), out=sys.stdout, limit=args.limit),
        personal_data=True)


def register(parser: argparse.ArgumentParser) -> None:
    kb = parser.add_subparsers(dest="subcommand", required=True)
    p = kb.add_parser("ingest", help="загрузить папку или файл в базу знаний")
    p.add_argument("path")
    p.add_argument("--collection")
    p.set_defaults(handler=cmd_ingest)
    p = kb.add_parser("search", help="поиск по базе знаний")
    p.add_argument("query", nargs="?")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--json", action="store_true", help="вывод JSON-массивом (так и по умолчанию)")
    p.add_argument("--jsonl", action="store_true", help="запросы {\"q\"} построчно со stdin")
    p.add_argument("--collection")
    p.set_defaults(handler=cmd_search)
    p = kb.add_parser("history", help="история изменений базы знаний")
    p.add_argument("--collection")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(handler=cmd_history)
