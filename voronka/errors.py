"""One error type per kind of failure. Mapped once to HTTP (web middleware) and once to retry-or-give-up (actors)."""

from __future__ import annotations


class VoronkaError(Exception):
    """Base of our own errors. ``code`` is machine-readable, ``message`` is safe to show (Russian for clients)."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def as_dict(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class ValidationError(VoronkaError):
    code = "validation_error"
    status = 422


class PayloadTooLarge(VoronkaError):
    code = "payload_too_large"
    status = 413


class NotFound(VoronkaError):
    code = "not_found"
    status = 404


class Unauthorized(VoronkaError):
    code = "unauthorized"
    status = 401


class Forbidden(VoronkaError):
    code = "forbidden"
    status = 403


class Conflict(VoronkaError):
    code = "conflict"
    status = 409


class RateLimited(VoronkaError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: float = 1.0, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


class UpstreamError(VoronkaError):
    """An external service failed. ``retryable`` says whether a later attempt may succeed."""

    code = "upstream_error"
    status = 502

    def __init__(self, message: str, *, service: str, retryable: bool = True, status_code: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.service = service
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after = retry_after


class NotConfigured(VoronkaError):
    """An optional integration has no settings; the product goes on without it."""

    code = "not_configured"
    status = 503
