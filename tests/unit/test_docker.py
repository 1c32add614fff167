"""docker-compose.yml, the Dockerfile and .dockerignore keep their promises (no Docker needed to check them):
`docker compose config` works with no .env (env_file optional, every ${VAR} has a default), every long-running
service has a real health check, and the image installs the hashed lock, then voronka non-editable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
APP_SERVICES = {"migrate", "web", "worker", "scheduler", "bot"}
# ${VAR} without a default (or ${VAR:?message}) would make `docker compose config` need a .env. A real secret that a
# service cannot run without may be listed here; it must then be documented in docker-compose.yml and the README.
SECRETS_WITHOUT_DEFAULT: set[str] = set()

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")


def _compose_lines() -> list[str]:
    return [line for line in COMPOSE.splitlines() if not line.lstrip().startswith("#")]


def test_every_compose_variable_has_a_default_unless_a_documented_secret() -> None:
    found = _VARIABLE.findall("\n".join(_compose_lines()))
    assert found, "docker-compose.yml interpolates nothing? the regex or the file changed"
    for name, modifier in found:
        if modifier.startswith((":-", "-")):
            continue
        assert name in SECRETS_WITHOUT_DEFAULT, f"${{{name}{modifier}}} needs a default (${{{name}:-…}})"
    for name in SECRETS_WITHOUT_DEFAULT:
        assert name in COMPOSE.split("x-app:")[0], f"{name} is not documented in docker-compose.yml's header"
        assert name in (ROOT / "README.md").read_text(encoding="utf-8"), f"{name} is not documented in README.md"
    # a bare $VAR is interpolated too: there must be none outside ${...} ($$ is a literal dollar)
    bare = re.findall(r"(?<!\$)\$(?!\$|\{)[A-Za-z_]", "\n".join(_compose_lines()))
    assert not bare, bare
    # every compose variable is explained at the top of the file
    header = COMPOSE.split("x-app:")[0]
    for name, _ in found:
        assert name in header, f"{name} is not documented in docker-compose.yml's header"


def test_compose_services_env_file_optional_and_health_checks() -> None:
    yaml = pytest.importorskip("yaml")  # PyYAML: not in the dev lock yet; the checks above need no parser
    services = yaml.safe_load(COMPOSE)["services"]
    assert set(services) >= APP_SERVICES
    for name, service in services.items():
        env_file = service.get("env_file")
        if name in APP_SERVICES:
            assert env_file, f"{name}: no env_file"
        if env_file is None:
            continue
        entries = env_file if isinstance(env_file, list) else [env_file]
        for entry in entries:
            assert isinstance(entry, dict) and entry.get("required") is False, (
                f"{name}: env_file {entry!r} must be {{path: …, required: false}} so that no .env is needed")
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
    assert "/ready" in " ".join(services["web"]["healthcheck"]["test"])
    for name in ("worker", "scheduler"):
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD" and test[1:4] == ["voronka", "health", name], test
        assert services[name]["command"][:2] == ["voronka", name]
    for name in ("migrate", "bot"):  # the image's check asks the web port: not theirs
        assert services[name]["healthcheck"] == {"disable": True}
    assert services["bot"].get("profiles") == ["telegram"]  # it cannot run without TELEGRAM_BOT_TOKEN
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].endswith("@postgres:5432/voronka")
        assert environment["REDIS_URL"] == "redis://redis:6379/0"


def _instructions() -> list[str]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(line for line in DOCKERFILE.splitlines()
                                             if not line.lstrip().startswith("#")))
    return [line.strip() for line in joined.splitlines() if line.strip()]


def test_dockerfile_installs_the_hashed_lock_then_voronka_non_editable() -> None:
    steps = _instructions()
    hashed = next(i for i, s in enumerate(steps)
                  if s.startswith("RUN pip install --no-cache-dir --require-hashes -r requirements.txt"))
    own = next(i for i, s in enumerate(steps) if s.startswith("RUN pip install --no-cache-dir --no-deps ."))
    copy_lock = steps.index("COPY requirements.txt ./")
    first_source = next(i for i, s in enumerate(steps) if s.startswith("COPY voronka "))
    assert copy_lock < hashed < first_source < own, "lock first (its layer cached), then the source, then voronka"
    assert not any(re.search(r"pip install[^&]*(\s-e\s|--editable)", s) for s in steps), "no editable install"
    copied = [s.split()[1] for s in steps[hashed:own] if s.startswith("COPY ")]
    for tree in ("pyproject.toml", "voronka", "cli", "web", "bot", "workers", "pipelines", "db", "integrations",
                 "templates", "knowledge_base"):
        assert tree in copied, f"{tree} is not copied before `pip install .`"


def test_dockerfile_healthcheck_asks_ready_without_curl() -> None:
    (check,) = [s for s in _instructions() if s.startswith("HEALTHCHECK")]
    assert "/ready" in check and "urllib.request" in check and "curl" not in check
    assert "CMD" in check and "--interval=" in check


def _ignore_patterns() -> list[tuple[bool, str]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.lstrip("!").rstrip("/")))
    return rules


def _pattern_regex(pattern: str) -> str:
    """Docker's .dockerignore matching (Go filepath.Match plus ``**``): ``*`` and ``?`` stay within one path
    segment, ``**/`` spans any number of directories, including none."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out.append(pattern[i:end + 1])
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def _ignored(path: str) -> bool:
    """The last matching pattern decides; a pattern matching a directory excludes everything inside it."""
    verdict = False
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for negated, pattern in _ignore_patterns():
        regex = _pattern_regex(pattern)
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            verdict = not negated
    return verdict


def test_dockerignore_keeps_junk_out_and_the_copied_sources_in() -> None:
    for junk in (".git/config", ".venv/bin/python", "venv/lib/x.py", ".ci/.venv/bin/pip", "data/pg/PG_VERSION",
                 "data/documents/a.pdf", "cli/__pycache__/main.cpython-311.pyc", "web/routes/x.pyc",
                 "voronka.egg-info/PKG-INFO", "build/lib/cli/main.py", "dist/voronka-0.1.0.whl",
                 ".pytest_cache/v/cache", ".mypy_cache/3.11/x.json", ".ruff_cache/x", ".hypothesis/examples/x",
                 ".coverage", "coverage.xml", "htmlcov/index.html", ".env", "tests/e2e/test_x.py"):
        assert _ignored(junk), f"{junk} would be sent to the Docker build"
    assert not _ignored(".env.example")
    for step in _instructions():
        if step.startswith("COPY ") and "--from" not in step:
            source = step.split()[1]
            assert not _ignored(source), f"{source} is copied by the Dockerfile but excluded by .dockerignore"
            assert (ROOT / source).exists(), source
    for tracked in ("cli/main.py", "web/static", "templates/site", "knowledge_base", "db/migrations/env.py"):
        assert not _ignored(tracked), tracked
