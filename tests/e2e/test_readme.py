"""The README runs as written, so that a newcomer who copies a block gets what it says.

Each Python block runs in a throwaway folder whose default store holds 1H's version 1 (the
state the README's own quickstart leaves). Each shell block is run (a console block's output
compared with what it shows) or says, in its marker, why it cannot run here."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from stagekeeper import open_registry

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def test_the_readme_has_python_blocks_to_run() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{n}" for n in range(len(BLOCKS))])
def test_each_python_block_of_the_readme_runs(
    block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STAGEKEEPER_STORE", raising=False)
    with open_registry("sqlite:///stagekeeper.db", actor="setup") as registry:
        registry.register("1H")
    exec(compile(block, str(README), "exec"), {"__name__": "readme"})


# The README's shell blocks. Each stands under a marker: ``<!-- readme-test: run SETUP -->``
# runs it on a store SETUP prepares (a console block's output must match what it shows,
# times aside), ``<!-- readme-test: skip, WHY -->`` says why it cannot run here.
SHELL_BLOCK = re.compile(
    r"(?:<!-- readme-test: (?P<marker>[^>]*) -->\n)?```(?:bash|sh|console)\n(?P<body>.*?)```",
    re.DOTALL,
)
SHELL_BLOCKS = list(SHELL_BLOCK.finditer(README.read_text(encoding="utf-8")))
RUN = [b for b in SHELL_BLOCKS if (b["marker"] or "").startswith("run ")]
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
COMMAND = Path(sys.executable).parent / "stagekeeper"


def test_every_shell_block_of_the_readme_is_run_or_says_why_not() -> None:
    assert len(SHELL_BLOCKS) >= 8
    for block in SHELL_BLOCKS:
        marker = block["marker"] or ""
        assert marker.startswith("run ") or (marker.startswith("skip, ") and len(marker) > 12), (
            f"a README shell block has no readme-test marker:\n{block['body'][:200]}"
        )
    assert len(RUN) >= 3


def prepared(setup: str, folder: Path) -> None:
    """The store the block's marker names, as ``./stagekeeper.db`` of ``folder``."""
    with open_registry(f"sqlite:///{folder / 'stagekeeper.db'}", actor="ana") as registry:
        if setup == "seeded":
            registry.register("1H")
        elif setup == "crowned":  # the quickstart's v2 champion, v3 in beta
            for _ in range(3):
                registry.register("1H")
            for version, stage in ((2, "beta"), (2, "champion"), (3, "beta")):
                registry.promote("1H", version, stage)
        elif setup == "gated":  # a champion with sharpe 1.2, a challenger with 0.8
            for version, sharpe in ((1, 1.2), (2, 0.8)):
                registry.register("1H", metrics={"sharpe": sharpe})
                registry.promote("1H", version, "beta")
            registry.promote("1H", 1, "champion")
            registry.set_policy(
                {"champion": {"require_reason": True, "require": ["sharpe >= 1.0"]}}
            )
        else:
            raise AssertionError(f"no such README setup: {setup}")


@pytest.mark.parametrize("block", RUN, ids=[f"shell{n}" for n in range(len(RUN))])
def test_each_runnable_shell_block_of_the_readme_runs(block: re.Match[str], tmp_path: Path) -> None:
    setup, _, how = block["marker"].removeprefix("run ").partition(", ")
    prepared(setup, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAGEKEEPER_")}
    env |= {"PATH": f"{COMMAND.parent}:{env['PATH']}", "STAGEKEEPER_ACTOR": "ana", "NO_COLOR": "1"}
    lines = block["body"].splitlines()
    if not any(line.startswith("$ ") for line in lines):  # a script: each line succeeds
        for line in lines:
            done = subprocess.run(line, shell=True, cwd=tmp_path, env=env, capture_output=True,
                                  text=True, check=False)  # fmt: skip
            assert done.returncode == 0, (line, done.stderr)
        return
    for command, shown in _console(lines):
        wide = re.search(r"(\d+) columns", how)
        columns = int(wide[1]) if wide else None
        said = _said(command, tmp_path, env, columns)
        assert _plain(said) == _plain("\n".join(shown)), (command, said)


def _console(lines: list[str]) -> list[tuple[str, list[str]]]:
    """A console block's commands, each with the lines it shows."""
    found: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("$ "):
            found.append((line[2:], []))
        else:
            found[-1][1].append(line)
    return found


def _said(command: str, folder: Path, env: dict[str, str], columns: int | None) -> str:
    argv = shlex.split(command)
    if columns is not None:
        from tests.e2e.test_terminal import terminal

        return terminal(argv[1:], env, columns=columns, cwd=folder)
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


def _plain(text: str) -> str:
    """What a reader sees, times aside: no escape codes, no trailing blanks."""
    from tests.e2e.test_terminal import shown

    return "\n".join(TIME.sub("<time>", line) for line in shown(text).strip().splitlines())
