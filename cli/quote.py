"""``voronka quote [--jsonl]``: brief JSON in, packages JSON out, priced by the rate table in the database.

Single mode: one JSON object from ``inp``; prints ``QuoteResult.as_cli_dict()`` and returns 0, or prints
``{"error": {"code", "message", "field"}}`` and returns 2 (code ``invalid_json`` or ``invalid_brief``).
JSONL mode: one brief per line, one answer or error per line (blank lines skipped), returns 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from cli.output import quiet_logs
from cli.services import one_connection_engine, with_services
from db.engine import session_scope
from db.rate_table import RateTable
from db.repo_pricing import load_rate_table
from pipelines.price.engine import calculate, validate_brief
from voronka.errors import ValidationError
from voronka.settings import Settings

EXIT_OK = 0
EXIT_INVALID = 2


def _answer(text: str, rates: RateTable) -> tuple[dict[str, Any], bool]:
    """Return (printed object, ok)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        error = ValidationError(f"Некорректный JSON: {exc.msg} (строка {exc.lineno}, позиция {exc.colno}).",
                                code="invalid_json")
        return error.as_dict(), False
    try:
        brief = validate_brief(data)
    except ValidationError as exc:
        return exc.as_dict(), False
    return calculate(brief, rates).as_cli_dict(), True


def _print(out: TextIO, obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
    out.flush()


def quote_main(inp: TextIO, out: TextIO, *, jsonl: bool, rates: RateTable) -> int:
    if not jsonl:
        obj, ok = _answer(inp.read(), rates)
        _print(out, obj)
        return EXIT_OK if ok else EXIT_INVALID
    for line in inp:
        if not line.strip():
            continue
        obj, _ok = _answer(line, rates)
        _print(out, obj)
    return EXIT_OK


def cmd_quote(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()

    def body(database_url: str, redis_url: str) -> int:
        with one_connection_engine(database_url) as engine, session_scope(engine) as session:
            rates = load_rate_table(session)
        return quote_main(sys.stdin, sys.stdout, jsonl=args.jsonl, rates=rates)

    return with_services(settings, body)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jsonl", action="store_true")
    parser.set_defaults(handler=cmd_quote)
