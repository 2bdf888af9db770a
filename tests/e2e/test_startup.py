"""A command imports what it uses and nothing more: start-up time is most of a CLI
command's time (benchmarks/ measures it; these tests keep the reasons it is short)."""

from __future__ import annotations

import ast
import gc
import subprocess
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from stagekeeper import open_registry, plugins

PROBE = """
import sys
from stagekeeper.cli.app import app
app(args=sys.argv[1:], standalone_mode=False)
print(sorted(sys.modules), file=sys.stderr)
"""


def loaded_by(*args: str, cwd: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=cwd, check=True
    )
    return set(ast.literal_eval(done.stderr.strip().splitlines()[-1]))


def test_help_loads_no_store_no_service_and_no_entry_point_scan_of_stores(
    tmp_path: Path,
) -> None:
    loaded = loaded_by("--help", cwd=tmp_path)
    assert "stagekeeper.service.registry" not in loaded
    assert not {m for m in loaded if m.startswith(("sqlalchemy", "mlflow", "transitions"))}


def test_a_json_listing_on_sqlite_loads_no_postgresql_and_no_rich(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    open_registry(url).close()
    loaded = loaded_by("list", "--stage", "champion", "--store", url, "--json", cwd=tmp_path)
    assert "stagekeeper_sql.store" in loaded
    assert not {m for m in loaded if m.startswith("sqlalchemy.dialects.postgresql")}
    assert not {m for m in loaded if m.startswith("rich.")} - {"rich.traceback"}
    assert not {m for m in loaded if m.startswith(("mlflow", "alembic", "transitions"))}


def test_first_party_stores_open_without_scanning_entry_points(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_scan(**_: object) -> list[object]:
        raise AssertionError("entry points were scanned")

    monkeypatch.setattr(plugins, "entry_points", no_scan)
    open_registry("memory://").close()
    open_registry(f"sqlite:///{tmp_path / 'm.db'}").close()
    assert plugins.command_group("mlflow") is not None


@pytest.mark.parametrize("group", [plugins.GROUP, plugins.COMMANDS_GROUP])
def test_the_first_party_table_matches_the_installed_entry_points(group: str) -> None:
    installed = {
        e.name: e.value
        for e in entry_points(group=group)
        if e.value.startswith(("stagekeeper.", "stagekeeper_"))
    }
    assert installed == plugins.FIRST_PARTY[group]


def test_help_lists_plugin_groups_from_a_cache_that_an_install_invalidates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    third_party = [EntryPoint("extras", "extras_plugin.cli:app", plugins.COMMANDS_GROUP)]
    monkeypatch.setattr(plugins, "entry_points", lambda **_: third_party)
    assert plugins.command_names() == ["extras"]

    def no_scan(**_: object) -> list[EntryPoint]:
        raise AssertionError("scanned again")

    monkeypatch.setattr(plugins, "entry_points", no_scan)
    assert plugins.command_names() == ["extras"]  # from the cache

    (site / "another_plugin-1.0.dist-info").mkdir()  # something was installed
    monkeypatch.setattr(plugins, "entry_points", lambda **_: [])
    assert plugins.command_names() == []


GC_PROBE = """
import gc, sys
from stagekeeper.cli import start
sys.argv = ["stagekeeper", *sys.argv[1:]]
try:
    start.main()
except SystemExit:
    pass
print(gc.isenabled(), gc.get_freeze_count() > 0, file=sys.stderr)
"""


def gc_after(*args: str, cwd: Path) -> tuple[bool, bool]:
    """Whether collection is on, and whether objects were frozen, when the command ends."""
    done = subprocess.run(
        [sys.executable, "-c", GC_PROBE, *args], capture_output=True, text=True, cwd=cwd, check=True
    )
    enabled, frozen = done.stderr.strip().splitlines()[-1].split()
    return enabled == "True", frozen == "True"


def test_a_command_starts_without_garbage_collection_and_resumes_it_once_its_store_is_open(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    open_registry(url).close()
    assert gc_after("lifecycle", cwd=tmp_path) == (False, False)  # start-up only: off
    assert gc_after("list", "--store", url, cwd=tmp_path) == (True, True)


def test_the_cli_run_inside_a_library_process_leaves_its_collector_alone() -> None:
    from typer.testing import CliRunner

    from stagekeeper.cli.app import app

    frozen = gc.get_freeze_count()
    CliRunner().invoke(app, ["list", "--store", "memory://"])
    assert gc.isenabled() and gc.get_freeze_count() == frozen
