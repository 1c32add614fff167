"""``voronka doc render --kind proposal|contract|invoice --brief brief.json --out DIR``: a document as PDF.

The brief file is the ``voronka quote`` JSON (``product``, ``users``, ``integrations``, ``hosting``, ``sla``,
``deadline``) plus optional ``client_name``, ``company``, ``package`` (start|optimum|enterprise, default
optimum), ``payment_url`` and client requisites (``client_inn``, ``client_kpp``, ``client_address``, ``phone``,
``email``). Prices come from the built-in rate table. The PDF goes to ``DIR`` as ``KP-2026-0001-v1.pdf``
(the next free number in that folder); its path is printed. Exit codes: 0 done, 2 bad input (message on
stderr, in Russian), 1 the document could not be made.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from cli.output import quiet_logs
from db.rate_table import DEFAULT_RATES
from pipelines.document.context import KINDS, build_context
from pipelines.document.render import DocumentTooLarge, RenderError, render_pdf
from pipelines.document.storage import KIND_PREFIXES, file_name, format_number
from pipelines.price.engine import calculate, validate_brief
from voronka.errors import ValidationError
from voronka.settings import Settings
from voronka.vocabulary import PACKAGES, RECOMMENDED_PACKAGE

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2


def _fail(err: TextIO, message: str, code: int = EXIT_INVALID) -> int:
    err.write(message.rstrip() + "\n")
    err.flush()
    return code


def _read_brief(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ValidationError(f"Файл брифа не найден: {path}", field="brief")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValidationError(f"Файл брифа {path} не в кодировке UTF-8", field="brief") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"Файл брифа {path} — некорректный JSON: {exc.msg} (строка {exc.lineno}, "
                              f"позиция {exc.colno})", field="brief") from None
    if not isinstance(data, dict):
        raise ValidationError("Бриф должен быть JSON-объектом с полями product, users, integrations, hosting, "
                              "sla, deadline", field="brief")
    return data


def _next_number(kind: str, out_dir: Path, year: int) -> str:
    """The next free number in ``out_dir`` (files named like KP-2026-0007-v1.pdf)."""
    ascii_prefix = KIND_PREFIXES[kind][1]
    seqs = []
    for path in out_dir.glob(f"{ascii_prefix}-{year}-*-v*.pdf"):
        parts = path.stem.split("-")
        if len(parts) == 4 and parts[2].isdigit():
            seqs.append(int(parts[2]))
    return format_number(kind, year, max(seqs, default=0) + 1)


def doc_render_main(kind: str, brief_path: str, out_dir: str, settings: Settings, *,
                    out: TextIO | None = None, err: TextIO | None = None,
                    issued_at: date | None = None) -> int:
    """Render one document from a brief file into ``out_dir``; print the PDF path. Returns the exit code."""
    stdout = out or sys.stdout
    stderr = err or sys.stderr
    if kind not in KINDS:
        return _fail(stderr, f"Неизвестный вид документа «{kind}»: выберите proposal (КП), contract (договор) "
                             "или invoice (счёт).")
    try:
        raw = _read_brief(Path(brief_path))
        brief = validate_brief(raw)
        package = raw.get("package") or RECOMMENDED_PACKAGE
        if package not in PACKAGES:
            raise ValidationError(f"Неизвестный пакет «{package}»: выберите start, optimum или enterprise.",
                                  field="package")
        for name in ("client_name", "company", "payment_url"):
            if raw.get(name) is not None and not isinstance(raw[name], str):
                raise ValidationError(f"Поле {name} должно быть строкой.", field=name)
    except ValidationError as exc:
        return _fail(stderr, f"Ошибка в брифе: {exc.message}")

    target = Path(out_dir)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(stderr, f"Не удалось создать папку {target}: {exc.strerror}")

    day = issued_at or date.today()
    number = _next_number(kind, target, day.year)
    quote = calculate(brief, DEFAULT_RATES)
    context = build_context(
        kind, brief={**raw, **brief.as_dict()}, quote=quote, package=package,
        client_name=raw.get("client_name"), company=raw.get("company"), number=number, version=1,
        settings=settings, payment_url=raw.get("payment_url") or None, issued_at=day,
    )
    try:
        rendered = render_pdf(kind, context, max_bytes=settings.max_pdf_bytes)
    except DocumentTooLarge as exc:
        return _fail(stderr, exc.message, EXIT_FAILED)
    except RenderError as exc:
        return _fail(stderr, f"Не удалось сделать PDF: {exc}", EXIT_FAILED)
    path = target / file_name(kind, number, 1)
    with path.open("xb") as fh:  # a new number each time: never overwrite a document
        fh.write(rendered.data)
    stdout.write(f"{path}\n")
    stdout.flush()
    return EXIT_OK


def cmd_render(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()
    return doc_render_main(args.kind, args.brief, args.out, settings)


def register(parser: argparse.ArgumentParser) -> None:
    doc = parser.add_subparsers(dest="subcommand", required=True)
    p = doc.add_parser("render", help="КП, договор или счёт по брифу в PDF")
    p.add_argument("--kind", required=True, help="proposal | contract | invoice")
    p.add_argument("--brief", required=True, help="JSON-файл брифа")
    p.add_argument("--out", required=True, help="папка для PDF")
    p.set_defaults(handler=cmd_render)
