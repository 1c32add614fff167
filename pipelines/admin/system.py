"""Which integrations are configured (from settings, never the secrets themselves) and the log tail."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

from voronka.settings import Settings


def integrations(settings: Settings) -> list[dict[str, Any]]:
    def item(key: str, name: str, configured: bool, detail: str = "") -> dict[str, Any]:
        return {"key": key, "name": name, "configured": configured, "detail": detail}

    llm = [p for p, v in (("OpenAI", settings.OPENAI_API_KEY), ("Anthropic", settings.ANTHROPIC_API_KEY),
                          ("OpenRouter", settings.OPENROUTER_API_KEY)) if v]
    return [
        item("llm", "LLM", settings.llm_configured,
             f"основной: {settings.LLM_PROVIDER}; ключи: {', '.join(llm) or 'нет'}"),
        item("avito", "Avito", settings.avito_configured,
             "вебхук с секретом" if settings.AVITO_WEBHOOK_SECRET else "без секрета вебхука"),
        item("telegram", "Telegram", settings.telegram_configured,
             f"@{settings.TELEGRAM_BOT_USERNAME}" if settings.TELEGRAM_BOT_USERNAME else ""),
        item("manager_chat", "Чат менеджеров в Telegram", settings.manager_chat_configured),
        item("amocrm", "amoCRM", settings.amocrm_configured, settings.AMOCRM_DOMAIN),
        item("gcal", "Google Календарь", settings.gcal_configured, settings.GOOGLE_CALENDAR_ID),
        item("yookassa", "ЮKassa", settings.yookassa_configured,
             f"магазин {settings.YOOKASSA_SHOP_ID}" if settings.YOOKASSA_SHOP_ID else ""),
        item("smtp", "Почта (SMTP)", settings.smtp_configured, settings.SMTP_HOST),
        item("sentry", "Sentry", bool(settings.SENTRY_DSN)),
        item("metrics_token", "Защита /metrics токеном", bool(settings.METRICS_TOKEN)),
        item("encryption", "Ключи шифрования", bool(settings.ENCRYPTION_KEYS),
             "" if settings.ENCRYPTION_KEYS else "ключ выведен из JWT_SECRET_KEY (только для разработки)"),
    ]


def log_tail(settings: Settings, *, page: int, per_page: int, level: str | None = None) -> dict[str, Any]:
    """The newest log records of LOG_FILE (JSON lines written by loguru ``serialize=True``), newest first."""
    if not settings.LOG_FILE:
        return {"items": [], "total": 0, "page": page, "per_page": per_page, "pages": 1,
                "note": "LOG_FILE не задан: журнал пишется только в stderr"}
    path = Path(settings.LOG_FILE)
    keep = page * per_page
    lines: deque[str] = deque(maxlen=20_000)
    if path.exists():
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                lines.append(line)
    records = []
    for line in reversed(lines):
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        record = data.get("record", data)
        lvl = (record.get("level") or {}).get("name") if isinstance(record.get("level"), dict) else record.get("level")
        if level and lvl != level:
            continue
        time = record.get("time")
        records.append({"time": time.get("repr") if isinstance(time, dict) else time, "level": lvl,
                        "message": record.get("message", ""), "module": record.get("name") or record.get("module"),
                        "extra": record.get("extra", {})})
        if len(records) >= keep + per_page * 10:
            break
    total = len(records)
    items = records[(page - 1) * per_page: page * per_page]
    return {"items": items, "total": total, "page": page, "per_page": per_page,
            "pages": max(1, -(-total // per_page))}
