"""CLI start-up: stagekeeper's commands against minimal Typer apps doing the same job, each
run as a whole process, interleaved, after warm-up runs."""

from __future__ import annotations

import compileall
import importlib
import sys
from pathlib import Path

from benchmarks.report import Result
from benchmarks.timing import in_turn, processes

HERE = Path(__file__).parent
PYTHON = sys.executable
STAGEKEEPER = str(Path(sys.executable).parent / "stagekeeper")
FIRST_PARTY = ("stagekeeper", "stagekeeper_sql", "stagekeeper_mlflow")


def byte_compile(packages: tuple[str, ...] = FIRST_PARTY) -> None:
    """Write the packages' bytecode, as installing them does: an editable install never
    writes it when PYTHONDONTWRITEBYTECODE is set, and each command would then compile
    stagekeeper's modules anew while the baselines' libraries load compiled code."""
    for name in packages:
        for folder in importlib.import_module(name).__path__:
            compileall.compile_dir(folder, quiet=1)


def measure(folder: Path, runs: int) -> list[Result]:
    byte_compile()
    store = f"sqlite:///{folder / 'cli.db'}"
    mlflow_store = f"mlflow+sqlite:///{folder / 'cli-mlflow.db'}"
    for url in (store, mlflow_store):
        processes(
            [STAGEKEEPER, "register", "--timeframe", "1H", "--source", "s3://m", "--store", url],
            runs=1,
            warmup=0,
        )
    pairs = {
        "stagekeeper --help, against a minimal Typer app's --help": (
            [STAGEKEEPER, "--help"],
            [PYTHON, str(HERE / "baselines" / "typer_help.py"), "--help"],
        ),
        "list --stage champion on SQLite, against Typer + SQLAlchemy Core running one SELECT": (
            [STAGEKEEPER, "list", "--stage", "champion", "--store", store],
            [PYTHON, str(HERE / "baselines" / "typer_sqlite_select.py"), "--store", store],
        ),
        "list --stage champion on embedded MLflow, against Typer + MLflow's client making "
        "the same search": (
            [STAGEKEEPER, "list", "--stage", "champion", "--store", mlflow_store],
            [
                PYTHON,
                str(HERE / "baselines" / "typer_mlflow_search.py"),
                "--uri",
                mlflow_store.removeprefix("mlflow+"),
            ],
        ),
    }
    results = []
    for name, (ours, baseline) in pairs.items():
        sample, base = in_turn(
            (
                lambda a=ours: processes(a, runs=max(1, runs // 5)),
                lambda b=baseline: processes(b, runs=max(1, runs // 5)),
            ),
            rounds=5,
        )
        results.append(Result.ratio(name, sample, base, target=1.2))
    return results
