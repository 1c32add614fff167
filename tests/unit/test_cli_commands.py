"""The ``voronka`` command table: ``voronka <command>`` lives in ``cli/<command>.py``, and only that module is
imported when the command runs."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from cli.main import COMMANDS, build_parser, command_module

CLI_DIR = Path(__file__).resolve().parents[2] / "cli"
SHARED_MODULES = {"__init__", "__main__", "main", "output", "process", "services"}


def test_every_command_has_its_module_and_every_module_its_command() -> None:
    names = [name for name, _ in COMMANDS]
    assert len(names) == len(set(names))
    modules = {path.stem for path in CLI_DIR.glob("*.py")} - SHARED_MODULES
    assert modules == set(names)


def test_every_command_registers_a_handler() -> None:
    for name, _ in COMMANDS:
        parser = argparse.ArgumentParser(prog=f"voronka {name}")
        command_module(name).register(parser)
        handlers = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
        leaves = [sub for action in handlers for sub in action.choices.values()] or [parser]
        for leaf in leaves:
            assert callable(leaf.get_default("handler")), f"voronka {name}: {leaf.prog} has no handler"


def test_the_parser_holds_only_the_named_command() -> None:
    args = build_parser(["admin", "gen-key"]).parse_args(["admin", "gen-key", "--kid", "k9"])
    assert args.command == "admin" and args.subcommand == "gen-key" and args.kid == "k9"
    assert callable(args.handler)


def test_help_and_health_do_not_load_the_heavy_commands() -> None:
    """``voronka --help`` and the container probe ``voronka health`` stay cheap: no web app, aiogram, dramatiq or
    knowledge base."""
    code = ("import sys; from cli.main import build_parser; build_parser(sys.argv[1:]); "
            "heavy = [m for m in ('aiogram', 'web.app', 'dramatiq', 'pipelines.knowledge', 'sqlalchemy') "
            "if m in sys.modules]; print(heavy); raise SystemExit(1 if heavy else 0)")
    for argv in ([], ["health"]):
        result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (argv, result.stdout, result.stderr)
