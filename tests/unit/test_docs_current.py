"""The README's settings table and .env.example describe exactly the settings the code has."""

from __future__ import annotations

from pathlib import Path

from voronka.envdoc import env_example, with_table
from voronka.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_readme_settings_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert with_table(readme) == readme, "run: python -m voronka.envdoc --write"
    for name in Settings.model_fields:
        assert f"`{name}`" in readme, name


def test_env_example_is_current() -> None:
    assert (ROOT / ".env.example").read_text(encoding="utf-8") == env_example(), "run: python -m voronka.envdoc --write"
