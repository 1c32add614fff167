"""The layout of tests/ itself: shared fixtures live in tests/fixtures/ (plugins registered in tests/conftest.py),
shared helpers in tests/support/; a test module never imports another test module, never imports fixtures, and a
fixture name is defined in one place only (so which ``settings`` or ``client`` a test gets is never a question of
what shadows what)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def python_files() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


def is_test_module(path: Path) -> bool:
    return path.name.startswith("test_") and path.suffix == ".py"


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(TESTS.parent).with_suffix("").parts)


def imported_modules(tree: ast.AST, path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in the file, relative imports resolved; ``from a import b`` gives a.b
    as well as a (b may be a module)."""
    package = module_name(path).split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def imports_of_test_modules(tree: ast.AST, path: Path) -> list[str]:
    """Imports of test modules (tests.<...>.test_*) in one file."""
    return [f"{path.relative_to(TESTS.parent)}:{line} imports {name}" for line, name in imported_modules(tree, path)
            if name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_")]


def is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Attribute) and target.attr == "fixture") or \
        (isinstance(target, ast.Name) and target.id == "fixture")


def fixture_definitions(tree: ast.AST, path: Path) -> list[tuple[str, str]]:
    """(fixture name, where) of every fixture defined in one file (``name=`` in the decorator counts)."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for decorator in node.decorator_list:
            if not is_fixture(decorator):
                continue
            name = node.name
            if isinstance(decorator, ast.Call):
                for keyword in decorator.keywords:
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                        name = str(keyword.value.value)
            found.append((name, f"{path.relative_to(TESTS.parent)}:{node.lineno}"))
    return found


def duplicated_fixtures(files: dict[Path, ast.AST]) -> dict[str, list[str]]:
    places: dict[str, list[str]] = defaultdict(list)
    for path, tree in files.items():
        for name, where in fixture_definitions(tree, path):
            places[name].append(where)
    return {name: where for name, where in places.items() if len(where) > 1}


def parsed() -> dict[Path, ast.AST]:
    return {path: ast.parse(path.read_text(encoding="utf-8"), filename=str(path)) for path in python_files()}


def test_no_file_in_tests_imports_a_test_module() -> None:
    offenders = [line for path, tree in parsed().items() for line in imports_of_test_modules(tree, path)]
    assert not offenders, "move what is shared to tests/support/ (helpers) or tests/fixtures/ (fixtures):\n" + \
        "\n".join(offenders)


def test_test_modules_do_not_import_fixtures() -> None:
    offenders = [f"{path.relative_to(TESTS.parent)}:{line} imports {name}"
                 for path, tree in parsed().items() if is_test_module(path)
                 for line, name in imported_modules(tree, path)
                 if name == "tests.fixtures" or name.startswith("tests.fixtures.") or name == "tests.conftest"]
    assert not offenders, "fixtures reach a test by its parameters (plugins in tests/conftest.py):\n" + \
        "\n".join(offenders)


def test_each_fixture_name_is_defined_once() -> None:
    duplicates = duplicated_fixtures(parsed())
    assert not duplicates, "one definition per fixture name (shared ones in tests/fixtures/):\n" + "\n".join(
        f"{name}: {', '.join(where)}" for name, where in sorted(duplicates.items()))


def test_every_fixture_plugin_is_registered() -> None:
    conftest = ast.parse((TESTS / "conftest.py").read_text(encoding="utf-8"))
    registered: list[str] = []
    for node in conftest.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytest_plugins"
                                                for t in node.targets):
            registered = [str(ast.literal_eval(element)) for element in node.value.elts]  # type: ignore[attr-defined]
    plugins = {module_name(path) for path in (TESTS / "fixtures").glob("*.py") if path.name != "__init__.py"}
    assert plugins == set(registered)


def test_the_checks_see_what_they_are_meant_to_catch() -> None:
    """The scan itself: a duplicate fixture, an imported test module (absolute and relative) are found."""
    one = ast.parse("import pytest\n@pytest.fixture\ndef settings(): ...\n")
    two = ast.parse("from pytest import fixture\n@fixture(name='settings')\nasync def other(): ...\n")
    duplicates = duplicated_fixtures({TESTS / "a" / "test_a.py": one, TESTS / "b" / "test_b.py": two})
    assert list(duplicates) == ["settings"]
    package = "tests.integration"  # (spelt apart so that a grep for such imports finds none here)
    importing = ast.parse(f"from {package}.test_x import helper\nfrom .test_y import other\n"
                          "from tests.support import deals\n")
    found = imports_of_test_modules(importing, TESTS / "e2e" / "test_z.py")
    assert [line.rsplit(" ", 1)[-1] for line in found] == ["tests.integration.test_x", "tests.e2e.test_y"]
