"""Print the environment-variable table (``--markdown``) or a ``.env.example`` (``--env``) from ``Settings``.

Descriptions come from the trailing comments in ``voronka/settings.py``; sections from its ``# --- name`` lines.
Keeps the README and .env.example true: ``python -m voronka.envdoc --env > .env.example``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from voronka.settings import Settings

_FIELD = re.compile(r"^    ([A-Z][A-Z0-9_]+):[^=]+=\s*(.*?)(?:\s+#\s*(.*))?$")
_SECTION = re.compile(r"^    # --- ([^-]+?) -+$")
SECRET_HINTS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "DSN")

# Descriptions of settings that carry no trailing comment in settings.py.
DESCRIPTIONS = {
    "ENVIRONMENT": "development | test | staging | production (production refuses a default JWT secret)",
    "LOG_LEVEL": "loguru level", "LOG_JSON": "JSON log lines (false: human-readable)",
    "VORONKA_HOST": "address the web receiver binds", "VORONKA_PORT": "HTTP port (`--port` overrides)",
    "VORONKA_DATA_DIR": "embedded PostgreSQL/Valkey data, run lock, documents (by default)",
    "VORONKA_WORKER_PROCESSES": "worker processes started by `voronka run`",
    "VORONKA_WORKER_THREADS": "threads per worker process",
    "SUPABASE_URL": "spec §10; not needed (use DATABASE_URL)", "SUPABASE_KEY": "spec §10; not used",
    "SUPABASE_SERVICE_KEY": "spec §10; not used", "UPSTASH_REDIS_URL": "used as REDIS_URL when that is empty",
    "DOCUMENTS_PATH": "where PDFs are stored (default: <data dir>/documents)",
    "BACKUP_PATH": "where `voronka backup` writes", "LLM_PROVIDER": "first LLM provider; `offline` = no LLM",
    "OPENAI_API_KEY": "OpenAI key (chat + embeddings)", "OPENAI_BASE_URL": "OpenAI API base URL",
    "OPENAI_MODEL": "chat model", "OPENAI_EMBEDDING_MODEL": "embedding model (1536 dims)",
    "ANTHROPIC_API_KEY": "Anthropic key (second provider)", "ANTHROPIC_BASE_URL": "Anthropic API base URL",
    "ANTHROPIC_MODEL": "Claude model", "OPENROUTER_API_KEY": "OpenRouter key (third provider)",
    "OPENROUTER_BASE_URL": "OpenRouter base URL", "OPENROUTER_MODEL": "model on OpenRouter",
    "LLM_FIRST_TOKEN_SECONDS": "streaming: a provider silent this long is skipped",
    "LLM_COOLDOWN_SECONDS": "a failing provider is skipped this long",
    "AVITO_API_URL": "Avito API base URL", "AVITO_CLIENT_ID": "Avito OAuth client id",
    "AVITO_CLIENT_SECRET": "Avito OAuth client secret", "AVITO_USER_ID": "numeric id of the agency's Avito account",
    "AVITO_WEBHOOK_SECRET": "secret path segment of the Avito webhook URL",
    "TELEGRAM_API_URL": "Bot API base URL", "TELEGRAM_BOT_TOKEN": "bot token (the bot runs when set)",
    "TELEGRAM_BOT_USERNAME": "bot username for «Продолжить в Telegram» links",
    "TELEGRAM_WEBHOOK_URL": "public webhook URL (default: VORONKA_PUBLIC_URL + /api/v1/webhooks/telegram)",
    "TELEGRAM_WEBHOOK_SECRET": "X-Telegram-Bot-Api-Secret-Token value",
    "MANAGER_TELEGRAM_CHAT_ID": "managers' chat: handoffs, new leads, take over / give back",
    "AMOCRM_DOMAIN": "amoCRM subdomain host, e.g. agency.amocrm.ru", "AMOCRM_ACCESS_TOKEN": "long-lived token",
    "AMOCRM_PIPELINE_ID": "pipeline for new leads (0: main)", "AMOCRM_STATUS_ID": "status for new leads (0: first)",
    "GOOGLE_API_URL": "Calendar API base URL", "GOOGLE_CALENDAR_ID": "calendar to book into",
    "BOOKING_TIMEZONE": "time zone of slots", "BOOKING_WORK_HOURS": "consultation hours",
    "BOOKING_SLOT_MINUTES": "consultation length", "BOOKING_MIN_NOTICE_HOURS": "earliest slot from now",
    "YOOKASSA_API_URL": "YooKassa API base URL", "YOOKASSA_SHOP_ID": "shop id (Basic auth user)",
    "YOOKASSA_SECRET_KEY": "secret key (Basic auth password)",
    "YOOKASSA_RETURN_URL": "where YooKassa returns the payer",
    "YOOKASSA_ALLOWED_IPS": "notification sender ranges (contract list)",
    "TRUSTED_PROXIES": "proxies whose X-Forwarded-For is believed",
    "PREPAYMENT_PERCENT": "share of the package paid upfront",
    "SMTP_HOST": "mail server (mail is off when empty)", "SMTP_PORT": "mail port (465: TLS)",
    "SMTP_USER": "login", "SMTP_PASSWORD": "password", "SMTP_STARTTLS": "STARTTLS on connect",
    "SMTP_FROM": "sender address", "MANAGER_EMAILS": "comma-separated managers' addresses",
    "JWT_SECRET_KEY": "admin JWT and link signing secret (required in production)",
    "JWT_ALGORITHM": "pinned to HS256", "JWT_EXPIRE_MINUTES": "admin token lifetime",
    "SENTRY_DSN": "Sentry for web, workers, scheduler, bot", "CORS_ORIGINS": "sites allowed to embed the widget",
    "METRICS_TOKEN": "Bearer token for /metrics (open when empty)", "LINK_TTL_HOURS": "document link lifetime",
    "DATA_RETENTION_DAYS": "personal data of inactive leads is purged after this",
    "VAT_PERCENT": "VAT line on invoices (0: «Без НДС»)", "MAX_QUOTE_RECALCULATIONS": "recalculations per lead",
    "NPS_DELAY_DAYS": "NPS survey this long after payment", "AGENCY_NAME": "agency requisites for documents",
    "AGENCY_INN": "ИНН", "AGENCY_KPP": "КПП", "AGENCY_OGRN": "ОГРН", "AGENCY_ADDRESS": "legal address",
    "AGENCY_BANK": "bank", "AGENCY_BIK": "БИК", "AGENCY_ACCOUNT": "settlement account",
    "AGENCY_CORR_ACCOUNT": "correspondent account", "AGENCY_PHONE": "phone in documents and replies",
    "AGENCY_EMAIL": "e-mail in documents and replies", "AGENCY_DIRECTOR": "signatory",
    "MAX_PDF_SIZE_MB": "§11 limit", "SESSION_TTL_DAYS": "§11: conversation memory lifetime",
    "MAX_CONCURRENT_USERS": "§11", "RATE_LIMIT_PER_MINUTE": "§11: public requests per IP per minute",
    "MAX_MESSAGE_LENGTH": "§11: characters per client message", "MAX_CONTEXT_MESSAGES": "§11: memory size",
    "LLM_TIMEOUT_SECONDS": "§11: per LLM call", "MAX_RETRIES": "§11: retries with exponential backoff",
    "MAX_PAYMENT_ATTEMPTS": "§11: payment links per invoice", "PAYMENT_LINK_TTL_HOURS": "§11: payment link lifetime",
    "MAX_ATTACHMENTS": "§11",
}


def rows() -> list[tuple[str, str, str, str]]:
    """(section, name, default, description)."""
    source = (Path(__file__).parent / "settings.py").read_text(encoding="utf-8").splitlines()
    section = ""
    found: list[tuple[str, str, str, str]] = []
    defaults = Settings.model_fields
    for line in source:
        if match := _SECTION.match(line):
            section = match.group(1).strip()
            continue
        if (match := _FIELD.match(line)) and match.group(1) in defaults:
            name = match.group(1)
            default = defaults[name].default
            if isinstance(default, list):
                shown = ",".join(str(v) for v in default)
            elif isinstance(default, bool):
                shown = "true" if default else "false"
            else:
                shown = "" if default is None else str(default)
            found.append((section, name, shown, (match.group(3) or "").strip() or DESCRIPTIONS.get(name, "")))
    return found


def markdown() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    current = None
    for section, name, default, description in rows():
        if section != current:
            lines.append(f"| **{section}** | | |")
            current = section
        lines.append(f"| `{name}` | `{default}` | {description} |" if default else f"| `{name}` | | {description} |")
    return "\n".join(lines)


def env_example() -> str:
    out = ["# voronka settings. Everything is optional: with nothing set, `voronka run` works offline with embedded",
           "# PostgreSQL and Redis. Uncomment what you need. Generated by `python -m voronka.envdoc --env`."]
    current = None
    for section, name, default, description in rows():
        if section != current:
            out += ["", f"# --- {section}"]
            current = section
        if description:
            out.append(f"# {description}")
        value = "" if any(h in name for h in SECRET_HINTS) and default not in ("", "change-me") else default
        out.append(f"# {name}={value}")
    return "\n".join(out) + "\n"


START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def with_table(readme: str) -> str:
    """The README text with its settings table replaced by the current one."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{markdown()}\n{END}{tail}"


def main() -> None:
    if "--write" in sys.argv:  # refresh README.md's table and .env.example in place
        root = Path(__file__).resolve().parents[1]
        readme = root / "README.md"
        readme.write_text(with_table(readme.read_text(encoding="utf-8")), encoding="utf-8")
        (root / ".env.example").write_text(env_example(), encoding="utf-8")
        return
    sys.stdout.write(env_example() if "--env" in sys.argv else markdown() + "\n")


if __name__ == "__main__":
    main()
