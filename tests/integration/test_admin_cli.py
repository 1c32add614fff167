"""The ops CLI wiring: ``voronka doc render`` and ``voronka kb ingest|search|history`` run their bodies against the
real services, ``voronka admin gen-key`` prints a usable key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from db.crypto import parse_keys


def run(args: list[str], settings, services) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "DATABASE_URL": services[0], "REDIS_URL": services[1], "ENVIRONMENT": "test",
           "LOG_JSON": "false", "JWT_SECRET_KEY": settings.JWT_SECRET_KEY, "KB_EMBEDDER": "offline",
           "VORONKA_DATA_DIR": str(settings.VORONKA_DATA_DIR), "LLM_PROVIDER": "offline"}
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env,
                          timeout=180, check=False)


def test_doc_render_writes_a_pdf(settings, services, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    brief = tmp_path / "brief.json"
    brief.write_text(json.dumps({"product": "ai_manager", "users": 12, "integrations": 1, "hosting": "cloud",
                                 "sla": "standard", "deadline": "standard", "company": "ООО «Тест»"}),
                     encoding="utf-8")
    done = run(["doc", "render", "--kind", "proposal", "--brief", str(brief), "--out", str(tmp_path / "out")],
               settings, services)
    assert done.returncode == 0, done.stderr
    pdf = Path(done.stdout.strip())
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    bad = run(["doc", "render", "--kind", "letter", "--brief", str(brief), "--out", str(tmp_path)], settings, services)
    assert bad.returncode == 2


def test_kb_ingest_search_history(settings, services, clean_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "cli_kb"
    folder.mkdir()
    (folder / "hours.md").write_text("# Часы работы\n\nМенеджеры отвечают с 10:00 до 19:00 по Москве.\n",
                                     encoding="utf-8")
    ingested = run(["kb", "ingest", str(folder), "--collection", "cli_kb"], settings, services)
    assert ingested.returncode == 0, ingested.stderr + ingested.stdout
    assert "добавлено 1" in ingested.stdout
    found = run(["kb", "search", "когда отвечают менеджеры", "--collection", "cli_kb", "--top", "1"], settings,
                services)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["title"] == "Часы работы"
    history = run(["kb", "history", "--collection", "cli_kb"], settings, services)
    assert history.returncode == 0 and "Часы работы" in history.stdout


def test_gen_key_prints_a_valid_encryption_key(settings, services) -> None:  # type: ignore[no-untyped-def]
    done = run(["admin", "gen-key", "--kid", "k7"], settings, services)
    assert done.returncode == 0
    [(kid, key)] = parse_keys(done.stdout.strip())
    assert kid == "k7" and len(key) == 32
