"""`voronka analyze --jsonl` and `voronka quote` as a user runs them (real processes, the session's database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture
def tool_env(services) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {**os.environ, "DATABASE_URL": services[0], "REDIS_URL": services[1], "LOG_LEVEL": "WARNING"}


def voronka(args: list[str], stdin: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=120)


def test_analyze_jsonl(tool_env: dict[str, str]) -> None:
    lines = [{"text": "здравствуйте нужен юрист на 40 человек, on-prem, за неделю"},
             {"text": "скок стоит аналитег для полсотни сотрудников?"}]
    result = voronka(["analyze", "--jsonl"], "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
                     tool_env)
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["product"] == "ai_lawyer"
    assert first["slots"] == {"users": 40, "hosting": "onprem", "deadline": "lt1w"}
    assert second["intent"] == "price" and second["product"] == "ai_analyst" and second["slots"]["users"] == 50


def test_quote_single_and_jsonl(tool_env: dict[str, str]) -> None:
    brief = {"product": "ai_manager", "users": 25, "integrations": 3, "hosting": "cloud", "sla": "99.5",
             "deadline": "standard"}
    result = voronka(["quote"], json.dumps(brief), tool_env)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["coefficients"] == {"users": 1.5, "integrations": 1.3, "hosting": 1.0, "sla": 1.3,
                                      "deadline": 1.0}
    assert [p["code"] for p in answer["packages"]] == ["start", "optimum", "enterprise"]

    bad = voronka(["quote"], json.dumps({**brief, "users": 0}), tool_env)
    assert bad.returncode == 2
    assert json.loads(bad.stdout)["error"]["field"] == "users"

    many = voronka(["quote", "--jsonl"], json.dumps(brief) + "\n" + json.dumps({**brief, "hosting": "moon"}) + "\n",
                   tool_env)
    assert many.returncode == 0
    out = [json.loads(line) for line in many.stdout.splitlines()]
    assert "packages" in out[0] and out[1]["error"]["field"] == "hosting"


def test_kb_ingest_then_search_json(tool_env: dict[str, str], clean_db) -> None:  # type: ignore[no-untyped-def]
    first = voronka(["kb", "ingest", "knowledge_base"], "", tool_env)
    assert first.returncode == 0, first.stdout + first.stderr
    again = voronka(["kb", "ingest", "knowledge_base"], "", tool_env)
    assert again.returncode == 0 and "без изменений" in again.stdout.lower()
    found = voronka(["kb", "search", "можно поставить на наши сервера без облака?", "--json", "--top", "3"], "",
                    tool_env)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert 1 <= len(hits) <= 3 and {"source", "title", "score", "text"} <= set(hits[0])
    assert any(h["source"] == "knowledge_base/faq/hosting.md" for h in hits)
    lines = voronka(["kb", "search", "--jsonl", "--top", "1"], '{"q": "сколько стоит юрист"}\n{"q": "кейсы"}\n',
                    tool_env)
    assert [len(json.loads(line)) for line in lines.stdout.splitlines()] == [1, 1]
