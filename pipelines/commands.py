"""Chat commands and deep links: ``/start <payload>``, ``/help``, ``/menu``, ``/cancel``, ``/cmd@botname``.

A command is never an answer to a brief question (issue #18 point 5, #15 defect 1): the turn does not run
understanding on it, the dialog answers the command itself. A deep-link payload (``/start site_ai_lawyer``,
``/start avito_ai_manager_spring``) names where the client came from (its first part) and may name a product.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voronka.vocabulary import PRODUCTS, Product

_COMMAND_RE = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@(\w+))?(?:\s+(.*))?$", re.DOTALL)
_SOURCE_RE = re.compile(r"^([a-z]+)(?:[_-]|$)")


@dataclass(frozen=True)
class Command:
    name: str  # lower-case, without the slash and the @botname
    payload: str = ""  # what follows the command (a deep link's start parameter)

    @property
    def product(self) -> Product | None:
        """The product a deep-link payload names («site_ai_lawyer» → ai_lawyer), else None."""
        low = self.payload.lower().replace("-", "_")
        for product in PRODUCTS:
            if product.value in low:
                return product
        return None

    @property
    def source(self) -> str | None:
        """Where a deep link came from: the payload's first part («site_ai_lawyer» → «site»), else None."""
        m = _SOURCE_RE.match(self.payload.lower())
        return m.group(1) if m else None


def parse_command(text: str | None) -> Command | None:
    """The command a message is, or None for ordinary text."""
    m = _COMMAND_RE.match((text or "").strip())
    if not m:
        return None
    return Command(name=m.group(1).lower(), payload=(m.group(3) or "").strip())
