"""Knowledge-base parsing, chunking and the offline embedder (no database)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from pipelines.knowledge.chunker import chunk_document, doc_type_for, split_text
from pipelines.knowledge.embedders import OfflineEmbedder
from pipelines.knowledge.parsers import ParseError, parse_file, parse_markdown
from pipelines.knowledge.text import normalise

MD = """# ИИ-Юрист

Проверяет **договоры** за минуты. [Подробнее](https://example.com).

## Интеграции

- 1С:Документооборот
- Диадок

### Контур.Фокус

Проверка контрагентов.

## Цены

| Пакет | Цена |
|---|---|
| Старт | 120 000 ₽ |
"""


def test_markdown_chunks_carry_the_heading_path_and_lose_markup() -> None:
    chunks = chunk_document(parse_markdown(MD, "fallback"), "service")
    headings = [c.heading for c in chunks]
    assert headings == [
        "Услуги › ИИ-Юрист",
        "Услуги › ИИ-Юрист › Интеграции",
        "Услуги › ИИ-Юрист › Интеграции › Контур.Фокус",
        "Услуги › ИИ-Юрист › Цены",
    ]
    assert chunks[0].text == "Проверяет договоры за минуты. Подробнее."
    assert "Диадок" in chunks[1].text and "**" not in chunks[0].text
    assert chunks[3].text == "Пакет — Цена\nСтарт — 120 000 ₽"


def test_long_section_is_split_under_the_cap_with_one_sentence_overlap() -> None:
    sentences = [f"Предложение номер {i} рассказывает про внедрение ассистента в отделе продаж." for i in range(40)]
    pieces = split_text(" ".join(sentences), max_chars=600)
    assert len(pieces) > 3
    assert all(len(p) <= 600 for p in pieces)
    for prev, nxt in itertools.pairwise(pieces):
        last_sentence = prev.split(". ")[-1]
        assert nxt.startswith(last_sentence.rstrip(".")), "the next piece repeats the previous last sentence"
    joined = " ".join(pieces)
    assert all(s in joined for s in sentences)


@pytest.mark.parametrize(("path", "doc_type"), [
    ("services/ai_lawyer.md", "service"), ("usp/usp.md", "usp"), ("cases/x.md", "case"), ("faq/a.md", "faq"),
    ("prices/p.md", "price"), ("policies/sla.md", "policy"), ("scripts/s.md", "script"), ("misc/n.md", "other"),
    ("readme.md", "other"),
])
def test_document_type_comes_from_the_top_folder(path: str, doc_type: str) -> None:
    assert doc_type_for(path) == doc_type


def test_normalise_keeps_yo_composes_unicode_and_squeezes_spaces() -> None:
    decomposed = "Е\u0308лка\u00a0\u00a0и   ёж\u00ad\n\n\n\nдальше"
    assert normalise(decomposed) == "Ёлка и ёж\n\nдальше"


def test_html_pdf_docx_and_txt_are_parsed(tmp_path: Path) -> None:
    import docx
    from weasyprint import HTML

    html = ("<html><head><title>Политика SLA</title><style>p{}</style></head><body><h1>Политика SLA</h1>"
            "<h2>Компенсации</h2><p>Десять процентов за каждые 0,1% простоя.</p><script>x()</script></body></html>")
    (tmp_path / "sla.html").write_text(html, encoding="utf-8")
    doc = parse_file(tmp_path / "sla.html")
    assert doc.title == "Политика SLA"
    assert [b.text for b in doc.blocks] == ["Компенсации", "Десять процентов за каждые 0,1% простоя."]

    HTML(string="<html><head><title>Прайс</title></head><body><p>Облачное размещение без доплаты.</p>"
                "</body></html>").write_pdf(tmp_path / "price.pdf")
    doc = parse_file(tmp_path / "price.pdf")
    assert doc.title == "Прайс"
    assert "Облачное размещение без доплаты." in doc.plain_text

    document = docx.Document()
    document.add_heading("Договор", level=1)
    document.add_heading("Оплата", level=2)
    document.add_paragraph("Предоплата пятьдесят процентов.")
    document.save(str(tmp_path / "contract.docx"))
    doc = parse_file(tmp_path / "contract.docx")
    assert doc.title == "Договор"
    chunks = chunk_document(doc, "policy")
    assert [(c.heading, c.text) for c in chunks] == [("Политики › Договор › Оплата", "Предоплата пятьдесят процентов.")]

    (tmp_path / "note.txt").write_bytes("Заметка\n\nВторой абзац про скидки.".encode("cp1251"))
    doc = parse_file(tmp_path / "note.txt")
    assert (doc.title, doc.plain_text) == ("Заметка", "Второй абзац про скидки.")


def test_broken_and_unsupported_files_raise_parse_error(tmp_path: Path) -> None:
    (tmp_path / "bad.pdf").write_bytes(b"not a pdf at all")
    (tmp_path / "bad.docx").write_bytes(b"not a zip")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    for name in ("bad.pdf", "bad.docx", "image.png"):
        with pytest.raises(ParseError):
            parse_file(tmp_path / name)


def test_offline_embedder_is_deterministic_normalised_and_fixed_size() -> None:
    emb = OfflineEmbedder()
    a, b = emb.embed(["Сколько стоит ИИ-Юрист?", "Сколько стоит ИИ-Юрист?"])
    assert a == b
    assert len(a) == emb.dim == 384
    assert np.linalg.norm(a) == pytest.approx(1.0)
    assert OfflineEmbedder(dim=128).name != emb.name  # another vector space, another name
    assert np.linalg.norm(emb.embed([""])[0]) == pytest.approx(1.0)


def _cos(emb: OfflineEmbedder, x: str, y: str) -> float:
    return float(np.dot(emb.vector(x), emb.vector(y)))


def test_offline_embedder_brings_paraphrases_and_typos_together() -> None:
    emb = OfflineEmbedder()
    price = "Цена пакета Старт и стоимость внедрения"
    hosting = "Размещение в облаке Yandex Cloud или на ваших серверах"
    security = "Защита персональных данных по 152-ФЗ, шифрование AES-256"
    # paraphrases with no shared word land nearer their topic than the other topics
    assert _cos(emb, "сколько стоит?", price) > max(_cos(emb, "сколько стоит?", hosting),
                                                    _cos(emb, "сколько стоит?", security))
    assert _cos(emb, "какой у вас хостинг", hosting) > _cos(emb, "какой у вас хостинг", price)
    assert _cos(emb, "не будет ли утечки", security) > _cos(emb, "не будет ли утечки", hosting)
    # a typo keeps most of its character n-grams
    assert _cos(emb, "интергация с битриксом", "интеграция с Битрикс24") > 0.3
