"""Chat commands and deep-link payloads (pipelines/commands.py)."""

from __future__ import annotations

import pytest

from pipelines.commands import Command, parse_command


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("/start", Command("start")),
        ("/start site_ai_lawyer", Command("start", "site_ai_lawyer")),
        ("/start@voronka_bot avito_ai_manager_spring", Command("start", "avito_ai_manager_spring")),
        ("/help", Command("help")),
        ("/menu@voronka_bot", Command("menu")),
        ("/Cancel", Command("cancel")),
        ("  /foo bar  ", Command("foo", "bar")),
    ],
)
def test_a_command_is_recognised(text: str, command: Command) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize("text", ["", None, "старт", "24/7", "1/2 ставки", "нас 12 / хотим юриста", "http://x.ru"])
def test_ordinary_text_is_not_a_command(text: str | None) -> None:
    assert parse_command(text) is None


def test_a_deep_link_names_its_source_and_product() -> None:
    link = parse_command("/start site_ai_lawyer")
    assert link is not None and (link.source, link.product) == ("site", "ai_lawyer")
    session = parse_command("/start site_3f9a2026")
    assert session is not None and (session.source, session.product) == ("site", None)
    assert Command("start").source is None and Command("start").product is None
