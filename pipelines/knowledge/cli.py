"""Bodies of ``voronka kb ingest|search|history`` and the scheduled hot-reload ``rescan``.

Each takes the settings and text streams, builds a sync engine from ``settings.DATABASE_URL`` and returns an exit code:
0 done, 1 done with problems (a file that could not be read, a bad input line), 2 could not run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

from loguru import logger
from sqlmodel import Session

from pipelines.knowledge.cache import SearchCache
from pipelines.knowledge.embedders import Embedder, make_embedder
from pipelines.knowledge.ingest import IngestReport, ingest_path, list_history
from pipelines.knowledge.search import search
from pipelines.russian import plural
from voronka import paths
from voronka.errors import NotConfigured, UpstreamError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from voronka.settings import Settings

KNOWLEDGE_BASE_DIR = paths.KNOWLEDGE_BASE_DIR
RESCAN_COLLECTION = "knowledge_base"
ACTION_LABELS = {"added": "добавлен", "changed": "изменён", "retired": "выведен", "reembedded": "переиндексирован"}
ACTION_MARKS = {"added": "+", "changed": "~", "retired": "−", "reembedded": "↻"}




def _docs(n: int) -> str:
    return f"{n} {plural(n, 'документ', 'документа', 'документов')}"


@contextmanager
def _services(settings: Settings, engine: Engine | None = None) -> Iterator[tuple[Engine, SearchCache | None, Any]]:
    """(engine, search cache or None, redis client or None); closes what it opened."""
    from db.engine import make_engine

    own_engine = engine is None
    if engine is None:
        if not settings.DATABASE_URL:
            raise RuntimeError("DATABASE_URL не задан")
        engine = make_engine(settings.DATABASE_URL, pool_size=2)
    client = None
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        yield engine, (SearchCache(client) if client is not None else None), client
    finally:
        if client is not None:
            client.close()
        if own_engine:
            engine.dispose()


def _close(embedder: Embedder) -> None:
    close = getattr(embedder, "close", None)
    if close is not None:
        close()


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
        with _services(settings, engine) as (eng, cache, client):
            embedder = make_embedder(settings, cache=client)
            try:
                with Session(eng, expire_on_commit=False) as session:
                    report = ingest_path(session, target, collection=collection, embedder=embedder, cache=cache)
            finally:
                _close(embedder)
    except (RuntimeError, NotConfigured, UpstreamError) as exc:
        print(f"Не удалось загрузить базу знаний: {exc}", file=out)
        return 2
    print(format_report(report), file=out)
    return 1 if report.failed else 0


def _hit_rows(hits: list[Any]) -> list[dict[str, Any]]:
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
        with _services(settings, engine) as (eng, cache, client):
            embedder = make_embedder(settings, cache=client)
            try:
                with Session(eng, expire_on_commit=False) as session:
                    def run(q: str) -> list[dict[str, Any]]:
                        return _hit_rows(search(session, q, top_k=top, collection=collection, doc_types=doc_types,
                                                embedder=embedder, cache=cache))

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
                _close(embedder)
    except (RuntimeError, NotConfigured, UpstreamError) as exc:
        print(f"Поиск недоступен: {exc}", file=out)
        return 2
    return status


def kb_history_main(collection: str | None, *, settings: Settings, out: TextIO, limit: int = 50,
                    engine: Engine | None = None) -> int:
    """``voronka kb history [--collection NAME]``: the latest changes, newest first, Moscow time."""
    tz = ZoneInfo(settings.BOOKING_TIMEZONE or "Europe/Moscow")
    try:
        with _services(settings, engine) as (eng, _, _client), Session(eng) as session:
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


def rescan(settings: Settings, *, path: Path | None = None, engine: Engine | None = None) -> IngestReport:
    """The scheduled hot reload: ingest ``knowledge_base/`` as collection "knowledge_base"."""
    with _services(settings, engine) as (eng, cache, client):
        embedder = make_embedder(settings, cache=client)
        try:
            with Session(eng, expire_on_commit=False) as session:
                return ingest_path(session, path or KNOWLEDGE_BASE_DIR, collection=RESCAN_COLLECTION,
                                   embedder=embedder, cache=cache)
        finally:
            _close(embedder)
