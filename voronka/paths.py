"""Where the files the product reads at run time live, defined once.

``templates/``, ``knowledge_base/``, ``web/static`` and ``db/migrations`` travel inside the wheel as package data
(see pyproject.toml), installed beside the Python packages, so the same paths hold for a source checkout, an
editable install and ``pip install .`` run from any directory.
"""

from __future__ import annotations

from pathlib import Path

INSTALL_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = INSTALL_ROOT / "templates"
KNOWLEDGE_BASE_DIR = INSTALL_ROOT / "knowledge_base"
STATIC_DIR = INSTALL_ROOT / "web" / "static"
MIGRATIONS_DIR = INSTALL_ROOT / "db" / "migrations"
