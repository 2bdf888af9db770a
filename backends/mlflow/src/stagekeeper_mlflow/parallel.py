"""Independent MLflow requests at once: the critical path of a write, not its count.

A promotion's reads under the lock need not wait for each other (the model with the policy,
and the versions with the champion the store last saw, which the alias then checks), nor do
its writes after the history record (the alias and the stage tags). Sent at once, each group
costs its slowest request. The order crash safety needs is kept by the groups themselves:
the record is written before any group that applies it, and the lock is let go after the
last. Only through a server, where they help: an embedded registry runs in this process,
whose threads share one interpreter lock and one SQLite file, and was measured slower so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property
from typing import Any

Call = Callable[[], Any]
Outcome = tuple[Any, BaseException | None]
WORKERS = 3  # the widest group: the alias and two stage tags


class AtOnce:
    """Runs groups of independent requests, each group at once where that helps."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled

    @cached_property
    def _pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="stagekeeper-mlflow")

    def reads(self, *calls: Call) -> list[Any]:
        """Each call's result, in order: the calls made at once where that helps."""
        return self._run(calls) if self.enabled else [call() for call in calls]

    def writes(self, check: Callable[[], None], writes: Sequence[Call]) -> None:
        """The writes at once after one ``check`` that the lock is still this writer's,
        where that helps; else one after another, each after its own check. A writer
        frozen after a check lands what it checked for: one write, or the group."""
        if not self.enabled:
            one_by_one(check, writes)
            return
        check()
        self._run(tuple(writes))

    def _run(self, calls: tuple[Call, ...]) -> list[Any]:
        """Every call runs to its end before any failure is raised (the first, in order):
        a group never leaves a request of its own behind, still running."""
        if len(calls) < 2:
            return [call() for call in calls]
        started: list[Future[Outcome]] = [self._pool.submit(_outcome, c) for c in calls[1:]]
        outcomes = [_outcome(calls[0]), *(future.result() for future in started)]
        for _, failure in outcomes:
            if failure is not None:
                raise failure
        return [result for result, _ in outcomes]

    def close(self) -> None:
        if "_pool" in self.__dict__:
            self._pool.shutdown(wait=True)


def one_by_one(check: Callable[[], None], writes: Sequence[Call]) -> None:
    """Each write after its own check: a writer frozen between the two lands one."""
    for write in writes:
        check()
        write()


def _outcome(call: Call) -> Outcome:
    """The call's result or its failure, kept to be raised once its group has ended."""
    try:
        return call(), None
    except BaseException as failure:
        return None, failure
