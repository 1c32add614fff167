"""Logs and Sentry events never carry personal data or secrets: phones, e-mails, card-like numbers, tokens are
masked — in the JSON log lines, in rotated files, and in what is sent to Sentry (a local fake Sentry receives it)."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from loguru import logger

from voronka.logs import mask, scrub_event, setup_logging, setup_sentry
from voronka.settings import Settings

SECRETS = {
    "phone": "Позвоните мне: +7 (916) 123-45-67",
    "phone8": "мой номер 8 916 1234567",
    "email": "пишите на ivan.petrov+crm@example.ru",
    "card": "карта 4276 1600 1234 5678",
    "bearer": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def",
    "token": "token=sk-live-0123456789abcdef&x=1",
    "bot": "bot 123456789:AAHk3-abcdefghijklmnopqrstuvwxyz12345 failed",
    "password": 'password: "hunter2-secret"',
}
LEAKS = ("916", "1234567", "ivan.petrov", "example.ru", "4276", "5678", "eyJhbGci", "sk-live", "AAHk3", "hunter2")


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_mask_hides_personal_data_and_tokens(name: str) -> None:
    masked = mask(SECRETS[name])
    assert not any(leak in masked for leak in LEAKS), masked


def test_mask_keeps_ordinary_text_and_ids() -> None:
    text = "lead 42 stage quoted, 3 packages, price 150000 rub, chat 77"
    assert mask(text) == text


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(_env_file=None, ENVIRONMENT="test", LOG_JSON=True, JWT_SECRET_KEY="x" * 32, **kw)  # type: ignore[call-arg,arg-type]


def test_json_log_lines_and_log_file_are_masked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log_file = tmp_path / "voronka.log"
    setup_logging(_settings(tmp_path, LOG_FILE=str(log_file)), process="test")
    try:
        logger.bind(phone="+79161234567").info("client wrote {}", SECRETS["email"])
        try:
            raise ValueError("bad card 4276160012345678")
        except ValueError:
            logger.exception("failed for +7 916 123 45 67")
        logger.complete()
    finally:
        logger.remove()
    stderr = capsys.readouterr().err
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(line["message"] == "client wrote пишите на ***@***" and line["phone"] == "+7***" for line in lines)
    assert all(not any(leak in json.dumps(line, ensure_ascii=False) for leak in LEAKS) for line in lines)
    written = log_file.read_text(encoding="utf-8")
    assert "client wrote пишите на ***@***" in written and "ivan.petrov" not in written and "916" not in written


def test_log_file_rotation_is_500_mb_and_10_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, object]] = []
    original = logger.add

    def spy(sink, **kwargs):  # type: ignore[no-untyped-def]
        seen.append({"sink": sink, **kwargs})
        return original(sink, **kwargs)

    monkeypatch.setattr(logger, "add", spy)
    setup_logging(_settings(tmp_path, LOG_FILE=str(tmp_path / "app.log")), process="test")
    logger.remove()
    files = [s for s in seen if s["sink"] == str(tmp_path / "app.log")]
    assert files and files[0]["rotation"] == "500 MB" and files[0]["retention"] == "10 days"


def test_scrub_event_masks_messages_exceptions_and_breadcrumbs() -> None:
    event = {"message": SECRETS["phone"], "logentry": {"message": SECRETS["email"], "formatted": SECRETS["card"]},
             "exception": {"values": [{"type": "ValueError", "value": SECRETS["bearer"]}]},
             "breadcrumbs": {"values": [{"message": SECRETS["token"]}]}}
    dumped = json.dumps(scrub_event(event), ensure_ascii=False)
    assert not any(leak in dumped for leak in LEAKS)


class _FakeSentry(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli  # type: ignore[import-not-found]

            body = brotli.decompress(body)
        _FakeSentry.received.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return


def test_sentry_reports_errors_without_personal_data(tmp_path: Path) -> None:
    import sentry_sdk

    server = HTTPServer(("127.0.0.1", 0), _FakeSentry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeSentry.received.clear()
    dsn = f"http://public@127.0.0.1:{server.server_port}/42"
    try:
        assert setup_sentry(_settings(tmp_path, SENTRY_DSN=dsn), process="worker")
        try:
            raise RuntimeError("payment failed for ivan.petrov@example.ru, +7 916 123-45-67")
        except RuntimeError as exc:
            sentry_sdk.capture_exception(exc)
        sentry_sdk.flush(timeout=5)
    finally:
        sentry_sdk.get_client().close(timeout=2)
        sentry_sdk.init(dsn=None)
        server.shutdown()
    payload = b"".join(_FakeSentry.received).decode("utf-8", errors="replace")
    assert "RuntimeError" in payload and "payment failed for ***@***" in payload
    assert "ivan.petrov" not in payload and "916" not in payload
    assert '"process"' in payload and "worker" in payload


def test_sentry_is_off_without_a_dsn(tmp_path: Path) -> None:
    assert setup_sentry(_settings(tmp_path), process="web") is False
