"""Import every module that defines tables, so SQLModel.metadata is complete (migrations, tests)."""

from __future__ import annotations

import importlib

MODEL_MODULES = ("db.models", "db.models_pricing", "db.models_knowledge", "db.models_channels", "db.models_deals",
                 "db.models_ops")


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
