"""Prompt templates: ``templates/prompts/<name>.j2`` rendered with Jinja2.

``render_prompt("reply", channel="avito", chunks=[...], ...)`` returns the text. Undefined variables are an error
(a prompt silently missing its knowledge chunks would invite the model to invent), and templates are read once.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from voronka import paths

PROMPTS_DIR = paths.TEMPLATES_DIR / "prompts"


def format_rub(amount: Any) -> str:
    """``150000`` → ``150 000 ₽`` (whole rubles, space-grouped): the form the grounding check reads back."""
    value = round(float(amount))
    return f"{value:,}".replace(",", " ") + " ₽"


@lru_cache(maxsize=4)
def prompt_environment(directory: Path = PROMPTS_DIR) -> jinja2.Environment:
    """The Jinja2 environment of the prompt folder (plain text: no HTML escaping)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["rub"] = format_rub
    return env


def render_prompt(name: str, /, **ctx: Any) -> str:
    """Render ``templates/prompts/<name>.j2`` (the suffix may be given) with ``ctx``.

    Runs of blank lines are collapsed and the ends stripped.
    """
    return render_prompt_in(PROMPTS_DIR, name, **ctx)


def render_prompt_in(directory: Path, name: str, /, **ctx: Any) -> str:
    """``render_prompt`` from another folder (tests, overrides)."""
    file_name = name if name.endswith(".j2") else f"{name}.j2"
    template = prompt_environment(directory).get_template(file_name)
    text = template.render(**ctx)
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.rstrip()
        if not stripped and lines and not lines[-1]:
            continue
        lines.append(stripped)
    return "\n".join(lines).strip()
