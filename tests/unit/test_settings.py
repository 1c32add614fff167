"""Settings: spec names and defaults; a wrong value stops start-up naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from voronka.settings import Settings, SettingsError, load_settings


def test_spec_limits_and_defaults() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (s.MAX_PDF_SIZE_MB, s.SESSION_TTL_DAYS, s.MAX_CONCURRENT_USERS, s.RATE_LIMIT_PER_MINUTE) == (10, 30, 100, 60)
    assert (s.MAX_MESSAGE_LENGTH, s.MAX_CONTEXT_MESSAGES, s.LLM_TIMEOUT_SECONDS, s.MAX_RETRIES) == (4000, 20, 30, 3)
    assert (s.MAX_PAYMENT_ATTEMPTS, s.PAYMENT_LINK_TTL_HOURS, s.MAX_ATTACHMENTS) == (3, 24, 5)
    assert (s.JWT_ALGORITHM, s.JWT_EXPIRE_MINUTES, s.LOG_LEVEL, s.VORONKA_PORT) == ("HS256", 1440, "INFO", 8080)


def test_lists_come_from_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.ru, https://b.ru")
    assert load_settings(_env_file=None).CORS_ORIGINS == ["https://a.ru", "https://b.ru"]


def test_wrong_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "abc")
    with pytest.raises(SettingsError, match="RATE_LIMIT_PER_MINUTE"):
        load_settings(_env_file=None)


def test_cli_refuses_to_start_with_a_wrong_value() -> None:
    env = {**os.environ, "RATE_LIMIT_PER_MINUTE": "abc"}
    result = subprocess.run([sys.executable, "-m", "cli", "migrate"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "RATE_LIMIT_PER_MINUTE" in result.stderr


def test_production_refuses_the_default_jwt_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="JWT_SECRET_KEY"):
        load_settings(_env_file=None)
    monkeypatch.setenv("JWT_SECRET_KEY", "a-long-random-production-secret-value-0123456789")
    assert load_settings(_env_file=None).is_production
