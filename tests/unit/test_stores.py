"""Choosing a backend by the store URL's scheme."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest

from stagekeeper import BackendError, open_registry, plugins


def test_an_unknown_scheme_lists_the_installed_ones() -> None:
    with pytest.raises(BackendError, match=r"installed schemes: .*memory.*sqlite"):
        open_registry("redis://localhost/0")


def test_a_url_without_a_scheme_is_refused() -> None:
    with pytest.raises(BackendError, match="has no scheme"):
        open_registry("stagekeeper.db")


def test_passwords_are_never_shown() -> None:
    with pytest.raises(BackendError) as refused:
        open_registry("nosuch://ana:s3cret@db.example/models")
    assert "s3cret" not in str(refused.value)
    assert "ana:***@db.example/models" in str(refused.value)


def test_a_broken_plugin_warns_and_does_not_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint("broken", "stagekeeper_no_such_module:open_store", plugins.GROUP)
    monkeypatch.setattr(plugins, "entry_points", lambda **kw: [broken])
    with pytest.warns(UserWarning, match="failed to load"), pytest.raises(BackendError):
        open_registry("broken://anything")


def test_opening_memory_loads_no_sql_or_mlflow_module() -> None:
    probe = (
        "import sys; from stagekeeper import open_registry; open_registry('memory://').close();"
        "print(sorted({n.split('.')[0] for n in sys.modules}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    for heavy in ("sqlalchemy", "alembic", "mlflow", "stagekeeper_sql"):
        assert f"'{heavy}'" not in loaded
    assert "'stagekeeper'" in loaded
