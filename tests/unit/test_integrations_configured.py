"""One «is it configured» per integration (``Settings.<service>_configured``), and the admin «Система» page says the
same: before, the page called Avito configured without AVITO_USER_ID (the client refuses to run then), Google
Calendar configured with a blank key, and the managers' chat configured without the bot that writes to it."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.admin.system import integrations
from voronka.settings import Settings

BLANK: dict[str, Any] = {
    "LLM_PROVIDER": "openai", "OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "", "OPENROUTER_API_KEY": "",
    "AVITO_CLIENT_ID": "", "AVITO_CLIENT_SECRET": "", "AVITO_USER_ID": "",
    "TELEGRAM_BOT_TOKEN": "", "MANAGER_TELEGRAM_CHAT_ID": "",
    "AMOCRM_DOMAIN": "", "AMOCRM_BASE_URL": "", "AMOCRM_ACCESS_TOKEN": "",
    "GOOGLE_CALENDAR_CREDENTIALS": "", "YOOKASSA_SHOP_ID": "", "YOOKASSA_SECRET_KEY": "", "SMTP_HOST": "",
}


def make(**values: Any) -> Settings:
    return Settings(_env_file=None, **{**BLANK, **values})  # type: ignore[call-arg]


# (property, admin page key, the settings that configure it, the same with one piece missing or blank)
CASES = [
    ("llm_configured", "llm", {"OPENAI_API_KEY": "sk"}, {"OPENAI_API_KEY": "sk", "LLM_PROVIDER": "offline"}),
    ("llm_configured", "llm", {"LLM_PROVIDER": "anthropic", "OPENROUTER_API_KEY": "k"}, {"LLM_PROVIDER": "anthropic"}),
    ("avito_configured", "avito", {"AVITO_CLIENT_ID": "i", "AVITO_CLIENT_SECRET": "s", "AVITO_USER_ID": "1"},
     {"AVITO_CLIENT_ID": "i", "AVITO_CLIENT_SECRET": "s"}),
    ("telegram_configured", "telegram", {"TELEGRAM_BOT_TOKEN": "t"}, {"MANAGER_TELEGRAM_CHAT_ID": "-100"}),
    ("manager_chat_configured", "manager_chat", {"TELEGRAM_BOT_TOKEN": "t", "MANAGER_TELEGRAM_CHAT_ID": "-100"},
     {"MANAGER_TELEGRAM_CHAT_ID": "-100"}),
    ("amocrm_configured", "amocrm", {"AMOCRM_DOMAIN": "a.amocrm.ru", "AMOCRM_ACCESS_TOKEN": "t"},
     {"AMOCRM_ACCESS_TOKEN": "t"}),
    ("amocrm_configured", "amocrm", {"AMOCRM_BASE_URL": "http://fake", "AMOCRM_ACCESS_TOKEN": "t"},
     {"AMOCRM_BASE_URL": "http://fake"}),
    ("gcal_configured", "gcal", {"GOOGLE_CALENDAR_CREDENTIALS": "/etc/key.json"},
     {"GOOGLE_CALENDAR_CREDENTIALS": "   "}),
    ("yookassa_configured", "yookassa", {"YOOKASSA_SHOP_ID": "1", "YOOKASSA_SECRET_KEY": "s"},
     {"YOOKASSA_SHOP_ID": "1"}),
    ("smtp_configured", "smtp", {"SMTP_HOST": "smtp.example.ru"}, {"SMTP_USER": "u"}),
]


@pytest.mark.parametrize(("prop", "key", "on", "off"), CASES)
def test_configured_and_the_admin_page_agree(prop: str, key: str, on: dict[str, Any], off: dict[str, Any]) -> None:
    for values, expected in ((on, True), (off, False), ({}, False)):
        settings = make(**values)
        assert getattr(settings, prop) is expected, (prop, values)
        shown = {item["key"]: item["configured"] for item in integrations(settings)}
        assert shown[key] is expected, (key, values)


def test_every_integration_on_the_admin_page_has_its_property() -> None:
    keys = {item["key"] for item in integrations(make())}
    assert {key for _, key, _, _ in CASES} <= keys
