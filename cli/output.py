"""What the commands print: warnings-only logs, JSON, error lines, and the yes/no question before a destructive step."""

from __future__ import annotations

import json
import sys
from typing import Any

from loguru import logger

YES_ANSWERS = ("да", "yes", "y", "д")


def quiet_logs() -> None:
    """A one-shot command prints its answer; the log shows only warnings and errors, on stderr."""
    logger.remove()
    logger.add(sys.stderr, level="WARNING", format="{level}: {message}")


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def fail(message: str, code: int = 1) -> int:
    """Print ``message`` on stderr and return the exit code."""
    print(message, file=sys.stderr)
    return code


def confirmed(question: str) -> bool:
    """Ask ``question`` on the terminal; only an explicit yes goes on (anything else prints «Отменено»)."""
    answer = input(f"{question} [да/нет] ")
    if answer.strip().lower() in YES_ANSWERS:
        return True
    print("Отменено", file=sys.stderr)
    return False
