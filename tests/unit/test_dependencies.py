"""Every package the product imports at run time is declared, every declared one is used, and the locks agree.

A fresh `pip install -r requirements.txt` must bring all of it: an import that works here only because something
else happened to pull its distribution in is a broken install for the next user.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["cli", "voronka", "web", "bot", "workers", "pipelines", "db", "integrations"]
FIRST_PARTY = set(PRODUCT) | {"templates", "knowledge_base"}
# Declared without being imported by name: what each one is for.
USED_WITHOUT_IMPORT = {
    "pymorphy3-dicts-ru": "the Russian dictionaries pymorphy3 loads",
    "sqlalchemy": "declared for its [asyncio] extra (greenlet); imported through sqlmodel",
    "psycopg": "the database driver SQLAlchemy loads for postgresql+psycopg URLs (db/engine.py)",
}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(path: Path) -> dict[str, str]:
    """name → pinned version ('' when unpinned) of the requirement lines of a requirements file."""
    names: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip().rstrip("\\").strip()
        if not line or line.startswith(("-", "--")):
            continue
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(==\s*([^\s;]+))?", line)
        assert match, f"unparsed requirement line in {path.name}: {raw!r}"
        names[normalise(match.group(1))] = match.group(4) or ""
    return names


def imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for package in PRODUCT:
        for source in (ROOT / package).rglob("*.py"):
            if "versions" in source.parts and "migrations" in source.parts:
                continue
            tree = ast.parse(source.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m not in FIRST_PARTY and m != "__future__"}


def test_every_imported_package_is_declared_in_requirements_in() -> None:
    declared = set(requirement_names(ROOT / "requirements.in"))
    distributions = metadata.packages_distributions()
    undeclared = {}
    for module in sorted(imported_top_level_modules()):
        owners = {normalise(d) for d in distributions.get(module, [])}
        assert owners, f"{module} is imported by the product but no installed distribution provides it"
        if not owners & declared:
            undeclared[module] = sorted(owners)
    assert not undeclared, f"imported at run time but not declared in requirements.in: {undeclared}"


def test_every_declared_package_is_used() -> None:
    distributions = metadata.packages_distributions()
    provided_by: dict[str, set[str]] = {}
    for module, owners in distributions.items():
        for owner in owners:
            provided_by.setdefault(normalise(owner), set()).add(module)
    imported = imported_top_level_modules()
    unused = [name for name in requirement_names(ROOT / "requirements.in")
              if name not in USED_WITHOUT_IMPORT and not provided_by.get(name, set()) & imported]
    assert not unused, f"declared in requirements.in but imported nowhere in the product: {unused}"


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_lock_pins_every_package_with_hashes(lock: str) -> None:
    text = (ROOT / lock).read_text(encoding="utf-8")
    pins = requirement_names(ROOT / lock)
    assert all(pins.values()), f"unpinned lines in {lock}: {[n for n, v in pins.items() if not v]}"
    assert text.count("==") == len(pins) and text.count("--hash=sha256:") >= len(pins)
    assert "-e " not in text, "an editable line cannot be hash-checked"


def test_locks_cover_what_is_chosen_and_agree() -> None:
    chosen = requirement_names(ROOT / "requirements.in")
    runtime = requirement_names(ROOT / "requirements.txt")
    dev = requirement_names(ROOT / "requirements-dev.txt")
    for name, version in chosen.items():
        assert name in runtime, f"{name} is chosen in requirements.in but missing from the lock: regenerate it"
        assert not version or runtime[name] == version, f"{name}: requirements.in {version}, lock {runtime[name]}"
    mismatched = {n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v}
    assert not mismatched, f"the dev lock must hold the runtime lock's versions: {mismatched}"
    for tool in requirement_names(ROOT / "requirements-dev.in"):
        assert tool in dev, f"{tool} chosen in requirements-dev.in but missing from requirements-dev.txt"


def test_installed_versions_match_the_lock() -> None:
    """The environment the tests run in is the locked one (CI builds it fresh from the dev lock)."""
    dev = requirement_names(ROOT / "requirements-dev.txt")
    drift = {}
    for name, version in dev.items():
        if name in {"pip", "setuptools", "wheel"}:
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            drift[name] = (version, None)
            continue
        if normalise(installed) != normalise(version):
            drift[name] = (version, installed)
    assert not drift, f"installed packages differ from requirements-dev.txt (locked, installed): {drift}"
