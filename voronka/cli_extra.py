"""Subcommands of later features (knowledge base, documents, channels, backups, admin, privacy, health).

Each ``add_*`` registers its parser and returns {"<command>:<subcommand>" or "<command>": handler}.
"""

from __future__ import annotations

from typing import Any


def add_parsers(sub: Any) -> dict[str, Any]:
    handlers: dict[str, Any] = {}
    from voronka import cli_channels

    handlers.update(cli_channels.add_parsers(sub))
    from voronka import cli_ops

    handlers.update(cli_ops.add_parsers(sub))  # admin, privacy, backup, restore, doc, kb
    from voronka import cli_health

    handlers.update(cli_health.add_parsers(sub))  # health worker|scheduler|web
    return handlers
