"""The layers stay honest: the import contracts in ``pyproject.toml`` are checked by
import-linter over first-party and third-party imports alike."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import stagekeeper

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(stagekeeper.__file__).parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_every_import_contract_is_kept() -> None:
    result = subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "7 kept, 0 broken" in result.stdout


def test_the_layers_can_be_seen_in_the_tree() -> None:
    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    assert {"domain", "service", "adapters", "cli"} <= folders
    modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert modules == {"bootstrap", "settings", "plugins", "compat"}


def _top_level_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_the_cli_never_imports_click_directly() -> None:
    for path in (PACKAGE / "cli").rglob("*.py"):
        assert "click" not in _top_level_imports(path), path


def test_every_module_says_what_it_is_for() -> None:
    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "backends").glob("*/src/*/**/*.py")]
    for path in sources:
        if path.name != "__main__.py" and "migrations" not in path.parts:
            assert ast.get_docstring(ast.parse(path.read_text())), path


MAX_MODULE_LINES = 350


def test_no_module_outgrows_a_screenful_or_two() -> None:
    """DESIGN.md's limit, outside the exported test suite and the migrations."""
    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "backends").glob("*/src/*/**/*.py")]
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in sources
        if "testing" not in path.parts and "migrations" not in path.parts
        and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }  # fmt: skip
    assert too_long == {}
