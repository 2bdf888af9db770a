"""The root group's reach below Typer, pinned: ``stagekeeper.cli.group`` overrides four
methods of Typer's group, and these tests fail when a Typer release changes them, so that
lifting Typer's bound is checked here and nowhere else."""

from __future__ import annotations

import inspect

import pytest
from typer.core import TyperGroup

from stagekeeper.cli.group import OVERRIDDEN, FunneledGroup


@pytest.mark.parametrize("name", OVERRIDDEN)
def test_each_overridden_method_is_typers_own_with_the_same_parameters(name: str) -> None:
    theirs = getattr(TyperGroup, name)
    ours = getattr(FunneledGroup, name)
    assert ours is not theirs and callable(theirs)
    their_parameters = list(inspect.signature(theirs).parameters)
    our_parameters = list(inspect.signature(ours).parameters)
    assert our_parameters == their_parameters, (name, their_parameters, our_parameters)


def test_no_other_method_of_typers_group_is_overridden() -> None:
    own = {name for name, value in vars(FunneledGroup).items() if inspect.isfunction(value)}
    assert own <= set(OVERRIDDEN)
