"""The lifecycle: the single definition of which stage moves are allowed.

The table below is data; one static ``transitions.Machine`` is built from it and is the
only thing asked "may X move to Y". This is the one module that imports ``transitions``.
No callback does I/O: transitions does not roll back once the state has changed, so the
machine only answers questions and the service does the writing.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from transitions import Machine, MachineError

from stagekeeper.domain.errors import TransitionError
from stagekeeper.domain.stages import Stage

_RESTORE = "restore_champion"

# Ordinary moves, available to ``promote``: source -> allowed targets.
MOVES: dict[Stage, tuple[Stage, ...]] = {
    Stage.DEVELOPMENT: (Stage.BETA, Stage.ARCHIVED),
    Stage.BETA: (Stage.CHAMPION, Stage.DEVELOPMENT, Stage.ARCHIVED),
    Stage.CHAMPION: (Stage.ARCHIVED,),
    Stage.ARCHIVED: (Stage.BETA,),
}


def _trigger(target: Stage) -> str:
    return f"move_to_{target.value}"


def _was_champion(*, was_champion: bool = False, **_: Any) -> bool:
    return was_champion


_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": _trigger(target), "source": source.value, "dest": target.value}
    for source, targets in MOVES.items()
    for target in targets
] + [
    # Rollback alone may bring back an archived version, and only a former champion.
    {
        "trigger": _RESTORE,
        "source": Stage.ARCHIVED.value,
        "dest": Stage.CHAMPION.value,
        "conditions": [_was_champion],
    }
]

_MACHINE = Machine(
    model=None,
    states=[stage.value for stage in Stage],
    transitions=_TRANSITIONS,
    initial=Stage.DEVELOPMENT.value,
    auto_transitions=False,
)
# add_model/remove_model mutate the machine's model list; keep concurrent checks apart.
_LOCK = threading.Lock()


class _Version:
    """A throwaway model object that carries one version's state through the machine."""

    state: str


def allowed_targets(current: Stage) -> tuple[Stage, ...]:
    """Where ``promote`` may move a version that is now in ``current``."""
    return MOVES[current]


def _describe_refusal(current: Stage, target: Stage, *, rollback: bool, subject: str) -> str:
    if rollback and target is Stage.CHAMPION:
        if current is Stage.ARCHIVED:
            return f"cannot roll back to {subject}: it has never been champion before"
        return (
            f"cannot roll back to {subject}: rollback restores archived former champions, "
            f"and it is {current.value} (use promote)"
        )
    allowed = ", ".join(stage.value for stage in allowed_targets(current)) or "nowhere"
    message = (
        f"cannot move {subject} from {current.value} to {target.value}: "
        f"allowed targets are {allowed}"
    )
    if current is Stage.ARCHIVED and target is Stage.CHAMPION:
        return f"{message}; an archived former champion returns only through rollback"
    return message


def check_move(
    current: Stage,
    target: Stage,
    *,
    rollback: bool = False,
    was_champion: bool = False,
    subject: str = "the version",
) -> None:
    """Raise ``TransitionError`` unless ``current`` may move to ``target``.

    ``rollback`` opens the archived -> champion move, whose condition is
    ``was_champion``. ``subject`` names the version in the message. A move to the
    current stage is not a move; callers treat it as a no-op before asking.
    """
    if not _machine_allows(current, target, rollback=rollback, was_champion=was_champion):
        raise TransitionError(
            _describe_refusal(current, target, rollback=rollback, subject=subject)
        )


@functools.cache
def _machine_allows(current: Stage, target: Stage, *, rollback: bool, was_champion: bool) -> bool:
    """The machine's answer. It is static, so each of the few questions is asked once:
    putting a model through the machine costs more than the rest of a promotion."""
    trigger = _RESTORE if rollback and target is Stage.CHAMPION else _trigger(target)
    token = _Version()
    with _LOCK:
        _MACHINE.add_model(token, initial=current.value)
        try:
            return bool(getattr(token, trigger)(was_champion=was_champion))
        except (MachineError, AttributeError):
            return False
        finally:
            _MACHINE.remove_model(token)


def edges() -> list[tuple[Stage, Stage, bool]]:
    """Every (source, target, rollback_only) edge of the machine, in stage order."""
    order = list(Stage)
    found = [
        (Stage(source), Stage(str(t.dest)), name == _RESTORE)
        for name, event in _MACHINE.events.items()
        for source, transitions in event.transitions.items()
        for t in transitions
    ]
    return sorted(found, key=lambda edge: (order.index(edge[0]), order.index(edge[1])))


def mermaid() -> str:
    """The allowed moves as a Mermaid state diagram, read from the machine itself."""
    lines = ["stateDiagram-v2", f"    [*] --> {Stage.DEVELOPMENT.value}"]
    for source, target, rollback_only in edges():
        label = ": rollback (former champions only)" if rollback_only else ""
        lines.append(f"    {source.value} --> {target.value}{label}")
    return "\n".join(lines) + "\n"
