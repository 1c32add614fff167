"""Knowledge-base ingest, versions, history, search, filters, cache and CLI bodies on the real PostgreSQL."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import redis as redis_lib
import sqlalchemy as sa
from sqlmodel import Session

from cli.kb import kb_history_main, kb_ingest_main, kb_search_main
from pipelines.knowledge.cache import GENERATION_KEY, SearchCache
from pipelines.knowledge.embedders import OfflineEmbedder
from pipelines.knowledge.ingest import ingest_path, list_history
from pipelines.knowledge.rescan import rescan
from pipelines.knowledge.search import search

EMB = OfflineEmbedder()


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    """A small knowledge base in every supported format."""
    import docx
    from weasyprint import HTML

    root = tmp_path / "demo_kb"
    _write(root, "services/lawyer.md",
           "# ИИ-Юрист\n\n## Что делает\n\nПроверяет договоры по чек-листу рисков и готовит протокол "
           "разногласий.\n\n## Интеграции\n\nДиадок, СБИС, Контур.Фокус.\n")
    _write(root, "faq/hosting.txt", "Размещение\n\nРешение работает в облаке Yandex Cloud в России или на ваших "
                                    "серверах (on-premise) в пакете Enterprise.")
    _write(root, "policies/privacy.html",
           "<html><head><title>Политика конфиденциальности</title></head><body><h2>Права</h2>"
           "<p>Отзыв согласия на обработку персональных данных — письмом, удаляем за 30 дней.</p></body></html>")
    (root / "prices").mkdir(parents=True)
    HTML(string="<html><head><title>Цены ИИ-Аналитика</title></head><body><p>Пакет Старт для ИИ-Аналитика — "
                "150 000 рублей за внедрение.</p></body></html>").write_pdf(root / "prices" / "analyst.pdf")
    document = docx.Document()
    document.add_heading("Скрипт: дорого", level=1)
    document.add_heading("Ответ", level=2)
    document.add_paragraph("Понимаю, бюджет важен: начнём с пилота на четырнадцать дней бесплатно.")
    (root / "scripts").mkdir(parents=True)
    document.save(str(root / "scripts" / "expensive.docx"))
    return root


def _active_chunks(db: Session, source: str) -> list[tuple[int, str]]:
    rows = db.execute(sa.text("SELECT c.version, c.text FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id "
                              "WHERE d.source = :s AND c.active ORDER BY c.ordinal"), {"s": source}).all()
    return [(r.version, r.text) for r in rows]


def test_every_format_is_ingested_and_found(db: Session, kb: Path) -> None:
    report = ingest_path(db, kb, embedder=EMB)
    assert report.collection == "demo_kb"
    assert (report.added, report.changed, report.retired, report.unchanged) == (5, 0, 0, 0)
    assert report.chunks >= 5 and not report.failed

    docs = dict(db.execute(sa.text("SELECT source, doc_type FROM kb_documents")).all())
    assert docs == {"demo_kb/services/lawyer.md": "service", "demo_kb/faq/hosting.txt": "faq",
                    "demo_kb/policies/privacy.html": "policy", "demo_kb/prices/analyst.pdf": "price",
                    "demo_kb/scripts/expensive.docx": "script"}
    assert search(db, "сколько стоит аналитик", embedder=EMB)[0].source == "demo_kb/prices/analyst.pdf"
    assert search(db, "как отозвать согласие", embedder=EMB)[0].source == "demo_kb/policies/privacy.html"
    top = search(db, "это слишком дорого", embedder=EMB)[0]
    assert top.source == "demo_kb/scripts/expensive.docx"
    assert top.heading == "Скрипты › Скрипт: дорого › Ответ" and top.doc_type == "script"


def test_change_and_deletion_make_versions_and_history(db: Session, kb: Path) -> None:
    ingest_path(db, kb, embedder=EMB)
    _write(kb, "services/lawyer.md", "# ИИ-Юрист\n\n## Что делает\n\nСоставляет претензии и доверенности по "
                                     "шаблонам компании.\n")
    (kb / "faq" / "hosting.txt").unlink()

    report = ingest_path(db, kb, embedder=EMB)
    assert (report.added, report.changed, report.retired, report.unchanged) == (0, 1, 1, 3)
    assert ("changed", "demo_kb/services/lawyer.md") in report.details
    assert ("retired", "demo_kb/faq/hosting.txt") in report.details

    assert _active_chunks(db, "demo_kb/services/lawyer.md") == [
        (2, "Составляет претензии и доверенности по шаблонам компании.")]
    assert _active_chunks(db, "demo_kb/faq/hosting.txt") == []
    old = db.execute(sa.text("SELECT count(*) FROM kb_chunks WHERE version = 1 AND NOT active")).scalar_one()
    assert old >= 3  # the old version's chunks are kept, inactive

    hits = search(db, "протокол разногласий", embedder=EMB, mode="fts")
    assert all(h.source != "demo_kb/services/lawyer.md" for h in hits)  # the old text is no longer found
    assert all(h.source != "demo_kb/faq/hosting.txt" for h in search(db, "облако yandex", embedder=EMB))

    history = list_history(db, "demo_kb")
    assert [(h.action, h.version) for h in history if h.source == "demo_kb/services/lawyer.md"] == [
        ("changed", 2), ("added", 1)]
    assert [(h.action, h.version) for h in history if h.source == "demo_kb/faq/hosting.txt"] == [
        ("retired", 1), ("added", 1)]

    _write(kb, "faq/hosting.txt", "Размещение\n\nТолько облако.")  # a retired file comes back
    again = ingest_path(db, kb, embedder=EMB)
    assert (again.added, again.changed) == (1, 0)
    assert list_history(db, "demo_kb")[0].action == "added"
    assert _active_chunks(db, "demo_kb/faq/hosting.txt") == [(2, "Только облако.")]


def test_unchanged_reingest_does_nothing_and_says_so(db: Session, kb: Path, settings, engine) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    assert kb_ingest_main(kb, None, settings, out, engine=engine) == 0
    assert "добавлено 5" in out.getvalue()
    before = db.execute(sa.text("SELECT count(*), max(id) FROM kb_chunks")).one()

    out = io.StringIO()
    assert kb_ingest_main(kb, None, settings, out, engine=engine) == 0
    assert out.getvalue().strip() == "Без изменений: 5 документов"
    assert db.execute(sa.text("SELECT count(*), max(id) FROM kb_chunks")).one() == before
    assert db.execute(sa.text("SELECT count(*) FROM kb_changes")).scalar_one() == 5


def test_paraphrases_and_typos_find_the_right_document(db: Session, kb: Path) -> None:
    ingest_path(db, kb, embedder=EMB)
    cases = {
        "можно поставить на свой сервак?": "demo_kb/faq/hosting.txt",  # shares no word with the answer
        "проверка контрагентов": "demo_kb/services/lawyer.md",
        "почём аналитика?": "demo_kb/prices/analyst.pdf",
        "интеграцыя с диадоком": "demo_kb/services/lawyer.md",  # typo
    }
    for query, source in cases.items():
        assert search(db, query, embedder=EMB, top_k=3)[0].source == source, query


def test_filters_by_collection_and_doc_type(db: Session, kb: Path, tmp_path: Path) -> None:
    ingest_path(db, kb, embedder=EMB)
    other = tmp_path / "other"
    _write(other, "faq/price.md", "# Цены другого бренда\n\nСтарт стоит 150 000 рублей.\n")
    ingest_path(db, other, collection="brand2", embedder=EMB)

    for mode in ("hybrid", "vector", "fts"):
        hits = search(db, "цена старт", embedder=EMB, mode=mode, collection="brand2")
        assert hits and {h.source for h in hits} == {"brand2/faq/price.md"}, mode
        hits = search(db, "цена старт", embedder=EMB, mode=mode, doc_types=["price"])
        assert hits and {h.doc_type for h in hits} == {"price"}, mode
    mixed = search(db, "цена старт", embedder=EMB, doc_types=["faq", "price"], top_k=5)
    assert {h.source for h in mixed} >= {"brand2/faq/price.md", "demo_kb/prices/analyst.pdf"}
    assert len({h.source for h in mixed}) == len(mixed)  # one hit per document


def test_cache_serves_repeats_and_is_invalidated_by_ingest(db: Session, kb: Path,
                                                            redis_client: redis_lib.Redis) -> None:
    cache = SearchCache(redis_client)
    ingest_path(db, kb, embedder=EMB, cache=cache)
    generation = cache.generation()
    first = search(db, "что делает юрист", embedder=EMB, cache=cache)
    assert first[0].source == "demo_kb/services/lawyer.md"
    assert redis_client.keys("kb:search:*")

    # the cache answers a repeat, even though the database changed behind its back
    db.execute(sa.text("UPDATE kb_chunks SET text = 'подменено' WHERE active"))
    db.commit()
    assert search(db, "что делает юрист", embedder=EMB, cache=cache) == first

    _write(kb, "services/lawyer.md", "# ИИ-Юрист\n\n## Что делает\n\nСледит за сроками договоров.\n")
    ingest_path(db, kb, embedder=EMB, cache=cache)
    assert int(redis_client.get(GENERATION_KEY) or 0) == generation + 1
    fresh = search(db, "что делает юрист", embedder=EMB, cache=cache)
    assert fresh[0].text == "Следит за сроками договоров."

    ingest_path(db, kb, embedder=EMB, cache=cache)  # nothing changed: the cache stays warm
    assert cache.generation() == generation + 1


def test_switching_embedder_reembeds(db: Session, kb: Path) -> None:
    small = OfflineEmbedder(dim=128)
    ingest_path(db, kb, embedder=small)
    assert search(db, "облако", embedder=EMB, mode="vector") == []  # no vectors of the default embedder yet
    report = ingest_path(db, kb, embedder=EMB)
    assert report.reembedded == 5 and report.added == report.changed == 0
    dims = db.execute(sa.text("SELECT DISTINCT embedder, embedding_dim, vector_dims(embedding) FROM kb_chunks "
                              "WHERE active")).all()
    assert dims == [(EMB.name, 384, 384)]
    assert search(db, "облако", embedder=EMB, mode="vector")[0].source == "demo_kb/faq/hosting.txt"
    assert ingest_path(db, kb, embedder=EMB).nothing_changed


def test_search_and_history_cli(db: Session, kb: Path, settings, engine) -> None:  # type: ignore[no-untyped-def]
    ingest_path(db, kb, embedder=EMB)
    out = io.StringIO()
    assert kb_search_main("облако или свой сервер", jsonl=False, top=2, settings=settings, inp=io.StringIO(),
                          out=out, engine=engine) == 0
    hits = json.loads(out.getvalue())
    assert len(hits) == 2 and set(hits[0]) == {"source", "title", "score", "text"}
    assert hits[0]["source"] == "demo_kb/faq/hosting.txt" and "облаке" in hits[0]["text"]
    assert "\\u" not in out.getvalue()  # Russian stays readable

    out = io.StringIO()
    lines = '{"q": "отзыв согласия"}\nне json\n{"q": "протокол разногласий"}\n'
    assert kb_search_main(None, jsonl=True, top=1, settings=settings, inp=io.StringIO(lines), out=out,
                          engine=engine) == 1
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r[0]["source"] if r else None for r in rows] == [
        "demo_kb/policies/privacy.html", None, "demo_kb/services/lawyer.md"]

    out = io.StringIO()
    assert kb_history_main("demo_kb", settings=settings, out=out, engine=engine) == 0
    text = out.getvalue()
    assert text.count("добавлен") == 5 and "demo_kb/scripts/expensive.docx — Скрипт: дорого" in text


def test_rescan_ingests_the_shipped_knowledge_base(db: Session, settings, engine) -> None:  # type: ignore[no-untyped-def]
    report = rescan(settings, engine=engine)
    assert report.collection == "knowledge_base" and report.added >= 18 and not report.failed
    assert rescan(settings, engine=engine).nothing_changed
    assert search(db, "сколько стоит ИИ-Юрист", embedder=EMB, collection="knowledge_base")
