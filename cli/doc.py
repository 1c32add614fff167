"""``voronka doc render --kind proposal|contract|invoice --brief brief.json --out DIR``: a document as PDF."""

from __future__ import annotations

import argparse

from cli.output import quiet_logs
from pipelines.document.cli import doc_render_main
from voronka.settings import Settings


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
