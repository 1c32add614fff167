"""``voronka analyze --jsonl``: the offline understanding (``pipelines/understand``) of one message per stdin line.

Input lines: ``{"text": "..."}`` (optionally ``"expecting"`` and ``"current_product"``). Output, one line each:
``{"intent", "product", "emotion", "slots": {...}}`` or, for a bad line,
``{"error": {"code": "invalid_input", "message": "...", "field": "text"}}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from pipelines.understand.offline import understand_offline
from voronka.settings import Settings
from voronka.vocabulary import PRODUCT_OR_NONE

MAX_TEXT_CHARS = 10_000


def _error(message: str) -> dict[str, Any]:
    return {"error": {"code": "invalid_input", "message": message, "field": "text"}}


def analyze_line(line: str, lineno: int) -> dict[str, Any]:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError:
        return _error(f"Строка {lineno}: это не JSON.")
    if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
        return _error(f"Строка {lineno}: нужен объект с полем text (строка).")
    text = rec["text"]
    if not text.strip():
        return _error(f"Строка {lineno}: поле text пустое.")
    if len(text) > MAX_TEXT_CHARS:
        return _error(f"Строка {lineno}: текст длиннее {MAX_TEXT_CHARS} символов.")
    expecting = rec.get("expecting") if isinstance(rec.get("expecting"), str) else None
    current = rec.get("current_product") if rec.get("current_product") in PRODUCT_OR_NONE else None
    return understand_offline(text, current_product=current, expecting=expecting).as_dict()


def analyze_jsonl(inp: TextIO, out: TextIO) -> int:
    """Read JSONL from ``inp``, write one JSON answer per non-blank line to ``out``; returns the exit code (0)."""
    for lineno, line in enumerate(inp, 1):
        if not line.strip():
            continue
        out.write(json.dumps(analyze_line(line, lineno), ensure_ascii=False) + "\n")
    out.flush()
    return 0


def cmd_analyze(args: argparse.Namespace, settings: Settings) -> int:
    return analyze_jsonl(sys.stdin, sys.stdout)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jsonl", action="store_true", required=True)
    parser.set_defaults(handler=cmd_analyze)
