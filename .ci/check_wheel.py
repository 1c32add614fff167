"""Check a built wheel carries every file the product reads at run time (templates, static files, the seed
knowledge base, the migrations) and every Python module, as tracked by git.

Usage: python .ci/check_wheel.py dist/voronka-*.whl
"""

from __future__ import annotations

import subprocess
import sys
import zipfile

RUNTIME_TREES = [
    "cli", "voronka", "web", "bot", "workers", "pipelines", "db", "integrations", "templates", "knowledge_base",
]


def main() -> None:
    (wheel,) = sys.argv[1:]
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.check_output(["git", "ls-files", "--", *RUNTIME_TREES], text=True).split()
    missing = [path for path in tracked if path not in names]
    if missing:
        print(f"check_wheel: FAIL: {len(missing)} tracked files missing from {wheel}:", *missing[:40], sep="\n  ")
        raise SystemExit(1)
    for required in ("templates/site/", "templates/documents/", "web/static/", "knowledge_base/", "db/migrations/"):
        if not any(name.startswith(required) for name in names):
            print(f"check_wheel: FAIL: nothing under {required} in {wheel}")
            raise SystemExit(1)
    print(f"check_wheel: {len(tracked)} tracked files, all in {wheel} ({len(names)} entries)")


if __name__ == "__main__":
    main()
