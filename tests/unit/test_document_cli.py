"""``voronka doc render`` body: a brief file in, a PDF out; a bad brief is exit code 2 with a Russian message."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import date
from pathlib import Path

import pytest

from cli.doc import doc_render_main
from voronka.settings import Settings

DAY = date(2026, 5, 12)


@pytest.fixture
def plain_settings() -> Settings:
    return Settings(_env_file=None, ENVIRONMENT="test")  # type: ignore[call-arg]


def run(kind: str, brief: Path, out_dir: Path, plain_settings: Settings) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = doc_render_main(kind, str(brief), str(out_dir), plain_settings, out=out, err=err, issued_at=DAY)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "brief.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_renders_a_pdf_and_prints_its_path(tmp_path: Path, plain_settings: Settings) -> None:
    brief = write(tmp_path, {"product": "ai_analyst", "users": 12, "integrations": 1, "hosting": "cloud",
                             "sla": "standard", "deadline": "standard", "company": "АО «Вектор»",
                             "package": "enterprise"})
    code, out, err = run("proposal", brief, tmp_path / "out", plain_settings)
    assert code == 0, err
    path = Path(out.strip())
    assert path == tmp_path / "out" / "KP-2026-0001-v1.pdf"
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout.decode()
    assert "АО «Вектор»" in text and "Enterprise" in text and "ИИ-Аналитик" in text

    code, out, _err = run("proposal", brief, tmp_path / "out", plain_settings)
    assert code == 0
    assert Path(out.strip()).name == "KP-2026-0002-v1.pdf", "a second run never overwrites the first"


def test_default_package_is_optimum(tmp_path: Path, plain_settings: Settings) -> None:
    brief = write(tmp_path, {"product": "ai_manager", "users": 3})
    code, out, err = run("invoice", brief, tmp_path, plain_settings)
    assert code == 0, err
    text = subprocess.run(["pdftotext", out.strip(), "-"], capture_output=True, check=True).stdout.decode()
    assert "«Оптимум»" in text


@pytest.mark.parametrize(("content", "message"), [
    (None, "Файл брифа не найден"),
    ("{not json", "некорректный JSON"),
    ("[1, 2]", "JSON-объектом"),
    ('{"product": "ai_manager"}', "число пользователей"),
    ('{"product": "robot", "users": 3}', "Неизвестный продукт"),
    ('{"product": "ai_manager", "users": 3, "package": "gold"}', "Неизвестный пакет"),
])
def test_bad_brief_is_exit_code_2_with_a_russian_message(tmp_path: Path, plain_settings: Settings,
                                                         content: str | None, message: str) -> None:
    brief = tmp_path / "brief.json"
    if content is not None:
        brief.write_text(content, encoding="utf-8")
    code, out, err = run("proposal", brief, tmp_path / "out", plain_settings)
    assert code == 2
    assert out == ""
    assert message in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_unknown_kind_is_exit_code_2(tmp_path: Path, plain_settings: Settings) -> None:
    brief = write(tmp_path, {"product": "ai_manager", "users": 3})
    code, _out, err = run("letter", brief, tmp_path, plain_settings)
    assert code == 2
    assert "Неизвестный вид документа" in err
