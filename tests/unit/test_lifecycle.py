"""The lifecycle machine: every (from, to) pair is either allowed or refused with a reason."""

from __future__ import annotations

import itertools

import pytest

from stagekeeper.domain import lifecycle
from stagekeeper.domain.errors import TransitionError
from stagekeeper.domain.stages import Stage

D, B, C, A = Stage.DEVELOPMENT, Stage.BETA, Stage.CHAMPION, Stage.ARCHIVED
PROMOTABLE = {(D, B), (D, A), (B, C), (B, D), (B, A), (C, A), (A, B)}
MOVES = [(s, t) for s, t in itertools.product(Stage, Stage) if s is not t]


@pytest.mark.parametrize(("source", "target"), MOVES)
def test_promote_allows_exactly_the_specified_moves(source: Stage, target: Stage) -> None:
    if (source, target) in PROMOTABLE:
        lifecycle.check_move(source, target)
    else:
        with pytest.raises(TransitionError, match="allowed targets are"):
            lifecycle.check_move(source, target)


@pytest.mark.parametrize("source", [s for s in Stage if s is not C])
def test_rollback_crowns_only_an_archived_former_champion(source: Stage) -> None:
    if source is A:
        lifecycle.check_move(source, C, rollback=True, was_champion=True)
    else:
        with pytest.raises(TransitionError, match="restores archived former champions"):
            lifecycle.check_move(source, C, rollback=True, was_champion=True)


def test_rollback_refuses_an_archived_version_that_was_never_champion() -> None:
    with pytest.raises(TransitionError, match="never been champion before"):
        lifecycle.check_move(A, C, rollback=True, was_champion=False)


def test_promote_cannot_bring_back_an_archived_champion() -> None:
    with pytest.raises(TransitionError, match="only through rollback"):
        lifecycle.check_move(A, C, was_champion=True)


def test_the_refusal_names_the_version_and_its_allowed_targets() -> None:
    with pytest.raises(TransitionError) as refused:
        lifecycle.check_move(D, C, subject="version 3 of 1H_trading_model")
    assert str(refused.value) == (
        "cannot move version 3 of 1H_trading_model from development to champion: "
        "allowed targets are beta, archived"
    )


def test_the_table_and_the_machine_agree() -> None:
    from_machine = {(s, t) for s, t, rollback_only in lifecycle.edges() if not rollback_only}
    assert from_machine == PROMOTABLE
    assert [(s, t) for s, t, r in lifecycle.edges() if r] == [(A, C)]


def test_the_mermaid_diagram_draws_every_edge_of_the_machine() -> None:
    diagram = lifecycle.mermaid()
    assert diagram.startswith("stateDiagram-v2\n    [*] --> development\n")
    for source, target in PROMOTABLE:
        assert f"    {source.value} --> {target.value}\n" in diagram
    assert "    archived --> champion: rollback (former champions only)\n" in diagram
    assert diagram.count("-->") == len(PROMOTABLE) + 2


def test_the_readme_shows_the_diagram_the_machine_draws() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"```mermaid\n{lifecycle.mermaid()}```" in readme
