"""The layers stay honest: checked on the source itself, not by convention."""

from __future__ import annotations

import ast
from pathlib import Path

import stagekeeper

PACKAGE = Path(stagekeeper.__file__).parent
DOMAIN = [
    "errors", "stages", "model", "validation", "lifecycle", "ports", "stamp", "legacy", "doctor",
    "maintenance", "service", "memory",
]  # fmt: skip


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_lifecycle_module_imports_transitions() -> None:
    importers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "transitions" in _imports(path)
    }
    assert importers == {"lifecycle.py"}


def test_the_domain_imports_no_framework_or_backend() -> None:
    forbidden = {"typer", "rich", "click", "sqlalchemy", "alembic", "mlflow", "stagekeeper_sql"}
    for name in DOMAIN:
        assert not _imports(PACKAGE / f"{name}.py") & forbidden, name


def test_the_cli_never_imports_click_directly() -> None:
    for path in (PACKAGE / "cli").rglob("*.py"):
        assert "click" not in _imports(path), path


def test_every_module_says_what_it_is_for() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path.name != "__main__.py":
            assert ast.get_docstring(ast.parse(path.read_text())), path
