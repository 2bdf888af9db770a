"""The input and error contract on an embedded MLflow registry: a smaller fuzz than SQL's,
since every MLflow command pays for MLflow's own start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from tests.fuzzing import argument_lists, fuzz_settings, run_and_check, seeded


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return seeded(f"mlflow+sqlite:///{tmp_path_factory.mktemp('fuzz') / 'mlflow.db'}")


@pytest.mark.slow
@fuzz_settings(150)
@given(args=argument_lists())
def test_fuzzed_command_lines_keep_the_contract_on_mlflow(
    mlflow_store: str, in_tmp: Path, args: list[str]
) -> None:
    run_and_check(mlflow_store, args, tally="CLI argument lists, MLflow embedded")
