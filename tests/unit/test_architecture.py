"""The architecture guard that import-linter cannot express: imports inside functions.

import-linter (pyproject, run by ``.ci/run``) keeps the layers pointing down and sibling packages acyclic; it sees
imports inside functions too, so hiding an import in a function does not dodge it. What remains is the habit itself:
an import inside a function is allowed only for a stated reason (a heavy optional dependency, a library that reads
the environment at import), written on the import line as ``# reason: ...``, and there are only a few of them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("cli", "voronka", "web", "bot", "workers", "pipelines", "integrations", "db")
MAX_FUNCTION_IMPORTS = 15


def _product_files() -> list[Path]:
    files: list[Path] = []
    for package in PRODUCT_PACKAGES:
        base = ROOT / package
        files += [p for p in base.rglob("*.py") if "migrations" not in p.relative_to(base).parts]
    return sorted(files)


def function_level_imports(path: Path) -> list[tuple[int, str]]:
    """(line number, source line) of every import statement inside a function of ``path``."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    found.append((sub.lineno, lines[sub.lineno - 1]))
    return sorted(set(found))


def test_the_scan_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\n\ndef f():\n    import json  # reason: demo\n    return json\n", encoding="utf-8")
    assert function_level_imports(sample) == [(4, "    import json  # reason: demo")]


def test_imports_inside_functions_are_few_and_each_says_why() -> None:
    everything = {path.relative_to(ROOT).as_posix(): function_level_imports(path) for path in _product_files()}
    found = [(name, lineno, line) for name, hits in everything.items() for lineno, line in hits]
    unexplained = [f"{name}:{lineno}: {line.strip()}" for name, lineno, line in found if "# reason:" not in line]
    assert not unexplained, "imports inside functions without a '# reason:' comment:\n" + "\n".join(unexplained)
    assert len(found) <= MAX_FUNCTION_IMPORTS, f"{len(found)} imports inside functions (at most {MAX_FUNCTION_IMPORTS})"


def test_the_web_receiver_and_the_scheduler_do_not_load_aiogram() -> None:
    """aiogram's types cost seconds of CPU and ~130 MB at import: only the bot and the Telegram webhook (with a
    token, at start-up) load it, so the receiver is ready in a second or two on a fresh machine."""
    code = "import sys, cli.web, cli.scheduler, web.app; print('aiogram' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
