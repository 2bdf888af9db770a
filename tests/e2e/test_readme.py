"""The README's Python blocks run as written, so that a newcomer who copies one gets what
it says: each in a throwaway folder whose default store holds 1H's version 1 (the state the
README's own quickstart leaves)."""

from __future__ import annotations

import re
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
