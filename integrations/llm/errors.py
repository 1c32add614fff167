"""Typed errors of the LLM layer.

Callers catch ``LLMError`` (which covers ``LLMUnavailable``) and fall back to the offline path.
"""

from __future__ import annotations

from voronka.errors import UpstreamError


class LLMError(UpstreamError):
    """One LLM call failed or returned something unusable (e.g. not JSON when JSON was asked for)."""

    code = "llm_error"

    def __init__(self, message: str, *, provider: str = "llm", retryable: bool = True,
                 status_code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, service=provider, retryable=retryable, status_code=status_code,
                         retry_after=retry_after)
        self.provider = provider


class LLMUnavailable(LLMError):
    """No provider is configured, all are cooling down, or every configured provider failed for this call."""

    code = "llm_unavailable"

    def __init__(self, message: str, *, failures: list[str] | None = None) -> None:
        super().__init__(message, provider="llm", retryable=True)
        self.failures = list(failures or [])
