"""``voronka analyze --jsonl``: the offline understanding of one message per stdin line (``pipelines/understand``)."""

from __future__ import annotations

import argparse
import sys

from pipelines.understand.cli import analyze_jsonl
from voronka.settings import Settings


def cmd_analyze(args: argparse.Namespace, settings: Settings) -> int:
    return analyze_jsonl(sys.stdin, sys.stdout)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jsonl", action="store_true", required=True)
    parser.set_defaults(handler=cmd_analyze)
