"""Loguru set-up: structured JSON lines, ids bound by callers (lead_id, channel, chat_id), personal data masked."""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any

import sentry_sdk
from loguru import logger
from sentry_sdk.integrations.aiohttp import AioHttpIntegration
from sentry_sdk.integrations.dramatiq import DramatiqIntegration
from sentry_sdk.integrations.loguru import LoguruIntegration

if TYPE_CHECKING:
    from loguru import Record

    from voronka.settings import Settings

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(r"(?<!\w)(?:\+7|8|7)[\s\-(]*\d{3}[\s\-)]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){13,19}(?!\d)")
_TOKEN = re.compile(
    r"(?i)(bearer\s+|(?<![a-z])(?:access_token|token|secret|password|api[_-]?key|secret_key)[\"']?\s*[=:]\s*[\"']?)"
    r"[^\s\"'&,]+")
_BOT_TOKEN = re.compile(r"\d{6,12}:[A-Za-z0-9_-]{30,}")


def mask(text: str) -> str:
    """Hide e-mails, phone numbers, card-like numbers and tokens in a log line."""
    text = _BOT_TOKEN.sub("***:***", text)
    text = _TOKEN.sub(lambda m: m.group(1) + "***", text)
    text = _EMAIL.sub("***@***", text)
    text = _CARD.sub("[card]", text)
    return _PHONE.sub("+7***", text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    return value


def _json_sink(message: Any) -> None:
    record: Record = message.record
    payload = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "message": mask(record["message"]),
        "module": record["name"],
        "function": record["function"],
        "line": record["line"],
        **{k: _mask_value(v) for k, v in record["extra"].items()},
    }
    if record["exception"] is not None:
        exc = record["exception"]
        payload["exception"] = mask(f"{exc.type.__name__ if exc.type else ''}: {exc.value}")
    sys.stderr.write(json.dumps(payload, ensure_ascii=False, default=str) + "\n")


def _patch(record: Record) -> None:
    record["message"] = mask(record["message"])
    for key, value in list(record["extra"].items()):
        if isinstance(value, str):
            record["extra"][key] = mask(value)


def setup_logging(settings: Settings, *, process: str) -> None:
    """Configure loguru once per process."""
    logger.remove()
    logger.configure(extra={"process": process}, patcher=_patch)
    if settings.LOG_JSON:
        logger.add(_json_sink, level=settings.LOG_LEVEL, enqueue=False)
    else:
        logger.add(sys.stderr, level=settings.LOG_LEVEL,
                   format="<green>{time:HH:mm:ss.SSS}</green> {level: <7} [{extra[process]}] {name}: {message}")
    if settings.LOG_FILE:
        logger.add(settings.LOG_FILE, level=settings.LOG_LEVEL, serialize=True, rotation="500 MB",
                   retention="10 days", enqueue=True)


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry ``before_send``: the same masking as the logs, applied to messages and exception values."""
    message = event.get("message")
    if isinstance(message, str):
        event["message"] = mask(message)
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        for key in ("message", "formatted"):
            if isinstance(logentry.get(key), str):
                logentry[key] = mask(logentry[key])
    for exc in (event.get("exception") or {}).get("values") or []:
        if isinstance(exc.get("value"), str):
            exc["value"] = mask(exc["value"])
    for crumb in (event.get("breadcrumbs") or {}).get("values") or []:
        if isinstance(crumb.get("message"), str):
            crumb["message"] = mask(crumb["message"])
    return event


# What Sentry may collect: no user info, no request bodies, no query data, no job arguments, no local variables and
# no source lines around frames (client texts live in variables; the stack trace keeps files, lines, functions).
SENTRY_DATA_COLLECTION: dict[str, Any] = {
    "user_info": False, "http_bodies": [], "database_query_data": False, "queues": False,
    "stack_frame_variables": False, "frame_context_lines": 0, "gen_ai": {"inputs": False, "outputs": False},
}


def sentry_integrations(process: str) -> list[Any]:
    """Web: aiohttp requests; workers: Dramatiq jobs; every process: loguru errors become Sentry events."""
    integrations: list[Any] = [LoguruIntegration()]
    if process == "web":
        integrations.append(AioHttpIntegration())
    if process == "worker":
        integrations.append(DramatiqIntegration())
    return integrations


def setup_sentry(settings: Settings, *, process: str) -> bool:
    """Error reporting for web, worker, scheduler and bot (``SENTRY_DSN``; off when empty). No personal data."""
    if not settings.SENTRY_DSN:
        return False
    options: dict[str, Any] = {"before_send": scrub_event, "data_collection": SENTRY_DATA_COLLECTION}
    sentry_sdk.init(dsn=settings.SENTRY_DSN, environment=settings.ENVIRONMENT, traces_sample_rate=0.0,
                    server_name=process, integrations=sentry_integrations(process), **options)
    sentry_sdk.set_tag("process", process)
    return True
