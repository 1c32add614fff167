"""The one settings class. Read once at start-up (``get_settings``), passed down explicitly afterwards.

Names and defaults follow the spec (§10 variables, §11 limits) plus the contracts' base URLs and ``VORONKA_*``.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_JWT_SECRET = "change-me"  # refused when ENVIRONMENT=production


class SettingsError(Exception):
    """A configuration value is wrong; the message names the variable."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      case_sensitive=True)

    # --- runtime / process -------------------------------------------------------------------
    ENVIRONMENT: Literal["development", "test", "staging", "production"] = "development"
    LOG_LEVEL: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    LOG_JSON: bool = True
    LOG_FILE: str = ""  # empty: logs go to stderr only; set a path for rotated files (500 MB, 10 days)
    VORONKA_HOST: str = "127.0.0.1"
    VORONKA_PORT: int = Field(8080, ge=1, le=65535)
    VORONKA_DATA_DIR: Path = Path("./data")
    VORONKA_PUBLIC_URL: str = ""  # how clients reach us (links in messages); default http://HOST:PORT
    VORONKA_WEB_PROCESSES: int = Field(1, ge=1, le=32)  # web receivers sharing the port (SO_REUSEPORT)
    VORONKA_WORKER_PROCESSES: int = Field(1, ge=1, le=32)
    VORONKA_WORKER_THREADS: int = Field(8, ge=1, le=64)
    VORONKA_WORKER_NICE: int = Field(15, ge=0, le=19)  # workers yield the CPU to the web receiver on a small box
    VORONKA_INBOX_SWEEP_SECONDS: int = Field(30, ge=1)  # an inbox row older than this and not processed is re-enqueued
    VORONKA_ACK_TIMEOUT_SECONDS: int = Field(20, ge=2)  # a killed worker's message is redelivered after this
    VORONKA_HEARTBEAT_SECONDS: float = Field(10.0, gt=0)  # worker/scheduler `voronka health` key refresh (TTL 3×)
    VORONKA_FAULT_PIPELINE_DELAY: float = Field(0.0, ge=0)  # fault injection for tests: hold each job this long

    # --- storage ------------------------------------------------------------------------------
    DATABASE_URL: str = ""  # empty: embedded PostgreSQL in VORONKA_DATA_DIR
    REDIS_URL: str = ""  # empty: embedded Valkey in VORONKA_DATA_DIR (UPSTASH_REDIS_URL is used when set)
    SUPABASE_URL: str = ""
    SUPABASE_KEY: str = ""
    SUPABASE_SERVICE_KEY: str = ""
    UPSTASH_REDIS_URL: str = ""
    DOCUMENTS_PATH: Path = Path("data/documents")
    BACKUP_PATH: Path = Path("data/backups")

    # --- LLM ----------------------------------------------------------------------------------
    LLM_PROVIDER: Literal["openai", "anthropic", "openrouter", "offline"] = "openai"
    OPENAI_API_KEY: str = ""
    OPENAI_BASE_URL: str = "https://api.openai.com/v1"
    OPENAI_MODEL: str = "gpt-4o-mini"
    OPENAI_EMBEDDING_MODEL: str = "text-embedding-3-small"
    ANTHROPIC_API_KEY: str = ""
    ANTHROPIC_BASE_URL: str = "https://api.anthropic.com"
    ANTHROPIC_MODEL: str = "claude-3-5-sonnet-latest"
    OPENROUTER_API_KEY: str = ""
    OPENROUTER_BASE_URL: str = "https://openrouter.ai/api/v1"
    OPENROUTER_MODEL: str = "openai/gpt-4o-mini"
    LLM_FIRST_TOKEN_SECONDS: float = Field(3.0, gt=0)
    LLM_COOLDOWN_SECONDS: int = Field(60, ge=0)
    KB_EMBEDDER: Literal["auto", "offline", "openai"] = "auto"  # knowledge base vectors; auto = openai with a key
    NLU_CLARIFY_BELOW: float = Field(0.45, ge=0, le=1)  # intent confidence below this: the dialog asks, not guesses

    # --- Avito --------------------------------------------------------------------------------
    AVITO_API_URL: str = "https://api.avito.ru"
    AVITO_CLIENT_ID: str = ""
    AVITO_CLIENT_SECRET: str = ""
    AVITO_USER_ID: str = ""
    AVITO_WEBHOOK_SECRET: str = ""

    # --- Telegram -----------------------------------------------------------------------------
    TELEGRAM_API_URL: str = "https://api.telegram.org"
    TELEGRAM_BOT_TOKEN: str = ""
    TELEGRAM_BOT_USERNAME: str = ""
    TELEGRAM_WEBHOOK_URL: str = ""
    TELEGRAM_WEBHOOK_SECRET: str = ""
    MANAGER_TELEGRAM_CHAT_ID: str = ""

    # --- amoCRM -------------------------------------------------------------------------------
    AMOCRM_DOMAIN: str = ""
    AMOCRM_BASE_URL: str = ""  # default https://<AMOCRM_DOMAIN>
    AMOCRM_ACCESS_TOKEN: str = ""
    AMOCRM_PIPELINE_ID: int = 0
    AMOCRM_STATUS_ID: int = 0

    # --- Google Calendar ----------------------------------------------------------------------
    GOOGLE_CALENDAR_CREDENTIALS: str = ""  # path to or JSON of a service-account key
    GOOGLE_API_URL: str = "https://www.googleapis.com/calendar/v3"
    GOOGLE_CALENDAR_ID: str = "primary"
    BOOKING_TIMEZONE: str = "Europe/Moscow"
    BOOKING_WORK_DAYS: CsvList = ["1", "2", "3", "4", "5"]  # ISO weekdays
    BOOKING_WORK_HOURS: str = "10:00-19:00"
    BOOKING_SLOT_MINUTES: int = Field(60, ge=15, le=240)
    BOOKING_MIN_NOTICE_HOURS: int = Field(2, ge=0)
    BOOKING_DAYS_AHEAD: int = Field(14, ge=1, le=60)  # how far ahead free slots are looked for

    # --- YooKassa -----------------------------------------------------------------------------
    YOOKASSA_API_URL: str = "https://api.yookassa.ru/v3"
    YOOKASSA_SHOP_ID: str = ""
    YOOKASSA_SECRET_KEY: str = ""
    YOOKASSA_RETURN_URL: str = ""
    YOOKASSA_ALLOWED_IPS: CsvList = [
        "185.71.76.0/27", "185.71.77.0/27", "77.75.153.0/25", "77.75.156.11",
        "77.75.156.35", "77.75.154.128/25", "2a02:5180::/32",
    ]
    TRUSTED_PROXIES: CsvList = []
    PREPAYMENT_PERCENT: int = Field(100, ge=1, le=100)
    PAYMENT_POLL_SECONDS: int = Field(300, ge=10)  # pending payments are re-read this often (lost notifications)

    # --- mail ---------------------------------------------------------------------------------
    SMTP_HOST: str = ""
    SMTP_PORT: int = Field(587, ge=1, le=65535)
    SMTP_USER: str = ""
    SMTP_PASSWORD: str = ""
    SMTP_STARTTLS: bool = True
    SMTP_FROM: str = "voronka@localhost"
    MANAGER_EMAILS: CsvList = []

    # --- security / admin ---------------------------------------------------------------------
    JWT_SECRET_KEY: str = DEFAULT_JWT_SECRET
    JWT_ALGORITHM: Literal["HS256"] = "HS256"
    JWT_EXPIRE_MINUTES: int = Field(1440, ge=1)
    SENTRY_DSN: str = ""
    CORS_ORIGINS: CsvList = []
    METRICS_TOKEN: str = ""
    LINK_SIGNING_KEY: str = ""  # HMAC key of download links; defaults to JWT_SECRET_KEY
    LINK_TTL_HOURS: int = Field(72, ge=1)
    ENCRYPTION_KEYS: str = ""  # "kid:base64key,kid2:base64key" — the first one encrypts
    DATA_RETENTION_DAYS: int = Field(1095, ge=1)
    CONTACT_HASH_KEY: str = ""  # HMAC key of phone/e-mail look-up hashes (never change it); default from JWT secret
    METRICS_PUSH_SECONDS: float = Field(10.0, gt=0)  # workers/scheduler/bot publish their metrics this often
    ADMIN_LOGIN_MAX_FAILURES: int = Field(5, ge=1)  # failed admin logins per user and per IP ...
    ADMIN_LOGIN_WINDOW_MINUTES: int = Field(15, ge=1)  # ... within this window → 429

    # --- business -----------------------------------------------------------------------------
    WORKING_HOURS: str = "10:00-19:00"  # when managers answer (Europe/Moscow, Mon–Fri)
    VAT_PERCENT: int = Field(0, ge=0, le=30)
    MAX_QUOTE_RECALCULATIONS: int = Field(20, ge=1)
    NPS_DELAY_DAYS: int = Field(3, ge=0)
    NPS_AFTER_CONSULTATION_HOURS: int = Field(24, ge=0)  # the survey after a consultation, counted from its end
    AGENCY_NAME: str = "ООО «Воронка ИИ»"
    AGENCY_INN: str = "7700000000"
    AGENCY_KPP: str = "770001001"
    AGENCY_OGRN: str = "1247700000000"
    AGENCY_ADDRESS: str = "123112, г. Москва, Пресненская наб., д. 12"
    AGENCY_BANK: str = "АО «Т-Банк»"
    AGENCY_BIK: str = "044525974"
    AGENCY_ACCOUNT: str = "40702810000000000001"
    AGENCY_CORR_ACCOUNT: str = "30101810145250000974"
    AGENCY_PHONE: str = "+7 495 000-00-00"
    AGENCY_EMAIL: str = "sales@voronka.ai"
    AGENCY_DIRECTOR: str = "Иванов И. И."

    # --- limits (§11) -------------------------------------------------------------------------
    MAX_PDF_SIZE_MB: int = Field(10, ge=1)
    SESSION_TTL_DAYS: int = Field(30, ge=1)
    MAX_CONCURRENT_USERS: int = Field(100, ge=1)
    RATE_LIMIT_PER_MINUTE: int = Field(60, ge=1)
    MAX_MESSAGE_LENGTH: int = Field(4000, ge=1)
    MAX_CONTEXT_MESSAGES: int = Field(20, ge=1)
    LLM_TIMEOUT_SECONDS: int = Field(30, ge=1)
    MAX_RETRIES: int = Field(3, ge=0)
    RETRY_MIN_BACKOFF_SECONDS: float = Field(1.0, gt=0)  # a failed job's first retry waits about this long
    RETRY_MAX_BACKOFF_SECONDS: float = Field(60.0, gt=0)  # each next retry waits twice as long, up to this
    MAX_PAYMENT_ATTEMPTS: int = Field(3, ge=1)
    PAYMENT_LINK_TTL_HOURS: int = Field(24, ge=1)
    MAX_ATTACHMENTS: int = Field(5, ge=0)

    _csv = field_validator(
        "BOOKING_WORK_DAYS", "YOOKASSA_ALLOWED_IPS", "TRUSTED_PROXIES", "MANAGER_EMAILS", "CORS_ORIGINS",
        mode="before",
    )(_split_csv)

    # --- derived ------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.VORONKA_DATA_DIR.resolve()

    @property
    def documents_dir(self) -> Path:
        path = self.DOCUMENTS_PATH
        if not path.is_absolute() and Path("data/documents") == self.DOCUMENTS_PATH:
            return self.data_dir / "documents"
        return path.resolve()

    @property
    def public_url(self) -> str:
        return (self.VORONKA_PUBLIC_URL or f"http://{self.VORONKA_HOST}:{self.VORONKA_PORT}").rstrip("/")

    @property
    def redis_url(self) -> str:
        return self.REDIS_URL or self.UPSTASH_REDIS_URL

    @property
    def link_key(self) -> bytes:
        return (self.LINK_SIGNING_KEY or self.JWT_SECRET_KEY).encode()

    @property
    def max_pdf_bytes(self) -> int:
        return self.MAX_PDF_SIZE_MB * 1024 * 1024

    @property
    def is_production(self) -> bool:
        return self.ENVIRONMENT == "production"

    # --- is an integration configured: one definition each (the admin «Система» page shows the same) -----------
    @property
    def llm_configured(self) -> bool:
        """A provider has a key and ``LLM_PROVIDER`` is not ``offline`` (which means no LLM at all)."""
        return self.LLM_PROVIDER != "offline" and bool(
            self.OPENAI_API_KEY or self.ANTHROPIC_API_KEY or self.OPENROUTER_API_KEY)

    @property
    def avito_configured(self) -> bool:
        """The Avito client needs all three (the user id is part of every messenger API path)."""
        return bool(self.AVITO_CLIENT_ID and self.AVITO_CLIENT_SECRET and self.AVITO_USER_ID)

    @property
    def telegram_configured(self) -> bool:
        return bool(self.TELEGRAM_BOT_TOKEN)

    @property
    def manager_chat_configured(self) -> bool:
        """The managers' Telegram chat: a chat id and the bot that writes to it."""
        return bool(self.TELEGRAM_BOT_TOKEN and self.MANAGER_TELEGRAM_CHAT_ID)

    @property
    def amocrm_configured(self) -> bool:
        return bool((self.AMOCRM_BASE_URL or self.AMOCRM_DOMAIN) and self.AMOCRM_ACCESS_TOKEN)

    @property
    def gcal_configured(self) -> bool:
        return bool(self.GOOGLE_CALENDAR_CREDENTIALS.strip())

    @property
    def yookassa_configured(self) -> bool:
        return bool(self.YOOKASSA_SHOP_ID and self.YOOKASSA_SECRET_KEY)

    @property
    def smtp_configured(self) -> bool:
        return bool(self.SMTP_HOST)

    @property
    def prepayment_share(self) -> Decimal:
        return Decimal(self.PREPAYMENT_PERCENT) / Decimal(100)

    def check_production(self) -> None:
        if self.is_production and self.JWT_SECRET_KEY in ("", DEFAULT_JWT_SECRET):
            raise SettingsError(
                "JWT_SECRET_KEY: в production нужен свой длинный секрет, значение по умолчанию запрещено")


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and `.env`), turning validation errors into a readable message."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "?"
            lines.append(f"{name}: {err['msg']} (получено: {err.get('input')!r})")
        raise SettingsError("Неверная настройка окружения — " + "; ".join(lines)) from None
    settings.check_production()
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once."""
    return load_settings()
