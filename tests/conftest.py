"""The test process: the runtime dir of the embedded servers, one secret, the markers, and the shared fixtures.

The fixtures live in tests/fixtures/ as plugins, grouped by what they provide (see its ``__init__``); plain helpers
shared by test modules are in tests/support/. A test module never imports another test module.
"""

from __future__ import annotations

import os

import pytest

from db.embedded import ensure_runtime_dir

ensure_runtime_dir()
# One secret for the test process and the worker processes it starts (signed links, dev encryption key).
os.environ.setdefault("JWT_SECRET_KEY", "test-secret-key-0123456789abcdef")

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.workers",
    "tests.fixtures.web",
    "tests.fixtures.fakes",
    "tests.fixtures.deals",
    "tests.fixtures.browser",
    "tests.fixtures.logs",
]


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "settings(**fields): the ``settings`` fixture (and ``deps``) of these tests get these fields",
        "channel_fakes: the ``settings`` fixture points Avito and Telegram at ``avito_fake`` and ``tg_fake``",
        "deals_smtp: the ``deps`` fixture points SMTP at the ``mailbox`` server",
    ):
        config.addinivalue_line("markers", line)
