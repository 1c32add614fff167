"""Import every module that defines tables, so SQLModel.metadata is complete (migrations, tests)."""

from __future__ import annotations

import importlib

MODEL_MODULES = ("db.models",)
OPTIONAL_MODEL_MODULES = ("db.models_pricing", "db.models_knowledge", "db.models_ops", "db.models_channels",
                          "db.models_deals")


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
    for name in OPTIONAL_MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
