"""Fencing: a writer frozen (SIGSTOP) past its lease loses its lock to the next writer, and
when it wakes it writes nothing more. No second champion, no lost promotion, and the history
replays to the stored stages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from stagekeeper import Stage, open_registry
from stagekeeper.service.ports import StoreOptions
from stagekeeper.service.registry import Registry
from stagekeeper_mlflow.store import MlflowStore

SOURCE = "s3://models/stall"
LEASE = 1.0
# The writer under test: crowns v2, and freezes itself just before the n-th check that its
# lock is still its own, that is, before its n-th write after taking the lock (``CHECKS``:
# embedded, 1 record, 2 alias, 3 and 4 the stage tags, 5 the unlock; through a server,
# where the tags go at once after one check, 1 record, 2 alias, 3 the tags, 4 the
# unlock); with "after", just after that check has passed, in the window between the
# check and its write; with "write", before its n-th write, for a lease long enough to be
# trusted without checks.
WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from stagekeeper import LockLost
    from stagekeeper.service.ports import StoreOptions
    from stagekeeper.service.registry import Registry
    from stagekeeper_mlflow.store import MlflowStore

    url, template, freeze_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # The record is a new version of the history's model; the rest, tags and the alias.
    WRITES = ("create_model_version", "set_", "delete_")
    mode = sys.argv[5] if len(sys.argv) > 5 else "before"
    after_check = mode == "after"
    options = StoreOptions(model_name_template=template)
    store = MlflowStore(url, options, lease_seconds=float(sys.argv[4]))
    inner, checks = store.lookups.client, 0

    class Freezing:
        def __getattr__(self, name):
            method = getattr(inner, name)
            def call(*args, **kwargs):
                global checks
                if mode == "write" and name.startswith(WRITES):
                    checks += 1  # here: writes, for a writer that trusts its lease
                    if checks == freeze_at:
                        os.kill(os.getpid(), signal.SIGSTOP)
                elif mode != "write" and name == "get_registered_model" and (
                    args[0].startswith("stagekeeper-lock.")
                ):
                    checks += 1
                    if checks == freeze_at:
                        answer = method(*args, **kwargs) if after_check else None
                        os.kill(os.getpid(), signal.SIGSTOP)
                        return answer if after_check else method(*args, **kwargs)
                return method(*args, **kwargs)
            return call

    store.lookups.client = Freezing()
    try:
        Registry(store, options=options, actor="frozen").promote("1H", 2, "champion")
    except LockLost:
        sys.exit(7)
    """
)


def checks(url: str) -> dict[str, int]:
    """The writer's checks, by what each comes before."""
    if url.startswith("mlflow+http"):
        return {"record": 1, "alias": 2, "last tag": 3, "unlock": 4}
    return {"record": 1, "alias": 2, "last tag": 4, "unlock": 5}


def _crowned_one_of(url: str, template: str, betas: int) -> None:
    """1H with ``betas`` versions in beta, v1 crowned."""
    with open_registry(url, model_name_template=template, actor="setup") as setup:
        for version in range(1, betas + 1):
            setup.register("1H", source=SOURCE)
            setup.promote("1H", version, "beta")
        setup.promote("1H", 1, "champion")


def _writer(*args: str) -> subprocess.Popen[bytes]:
    """The writer under test (``WRITER``), crowning v2 of 1H and freezing where told."""
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, *args],
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
    )


def _wait_until_stopped(pid: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        time.sleep(0.02)
    raise AssertionError("the writer never reached its freezing point")


def _replayed(registry: Registry) -> dict[int, Stage]:
    """Each version's stage by folding the history, checking that every change leads on."""
    replayed: dict[int, Stage] = {}
    for change in registry.history("1H"):
        assert replayed.get(change.version, change.from_stage) == change.from_stage, change
        replayed[change.version] = change.to_stage
    return replayed


def _fresh(url: str, template: str, lease: float = LEASE) -> Registry:
    options = StoreOptions(model_name_template=template)
    store = MlflowStore(url, options, lease_seconds=lease)
    return Registry(store, options=options, actor="next")


@pytest.mark.slow
@pytest.mark.parametrize("point", ["record", "alias", "last tag", "unlock"])
def test_a_writer_frozen_past_its_lease_writes_nothing_more(
    mlflow_url: str, template: str, point: str
) -> None:
    _crowned_one_of(mlflow_url, template, betas=3)
    frozen = _writer(mlflow_url, template, str(checks(mlflow_url)[point]), str(LEASE))
    try:
        _wait_until_stopped(frozen.pid)
        time.sleep(LEASE * 1.5)  # its lease runs out while it is frozen
        next_writer = _fresh(mlflow_url, template)
        assert [c.version for c in next_writer.promote("1H", 3, "champion")][-1] == 3
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    woke = frozen.wait(60)

    after = _fresh(mlflow_url, template)
    stages = {v.version: v.stage for v in after.list("1H")}
    assert stages[3] is Stage.CHAMPION and list(stages.values()).count(Stage.CHAMPION) == 1
    assert _replayed(after) == stages
    assert after.doctor() == []
    # It was stopped at its check whenever the next writer had taken over; frozen before
    # unlocking, its whole operation had been done, and only the unlock is refused.
    assert woke == (7 if point != "unlock" else 0)


@pytest.mark.slow
def test_doctor_beside_a_writer_frozen_mid_operation_reports_it_and_changes_nothing(
    mlflow_url: str, template: str
) -> None:
    _crowned_one_of(mlflow_url, template, betas=2)
    # Frozen before its 3rd write: the alias is on v2, both stage tags still unchanged.
    frozen = _writer(mlflow_url, template, "3", "60", "write")
    try:
        _wait_until_stopped(frozen.pid)
        with open_registry(mlflow_url, model_name_template=template, lock_timeout=0.5) as doc:
            before = doc.history()
            findings = doc.doctor(fix=True)
            assert [f.code for f in findings] == ["operation-in-progress"]
            assert "being changed by frozen" in findings[0].message
            assert doc.history() == before
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
        woke = frozen.wait(60)
    assert woke == 0
    with open_registry(mlflow_url, model_name_template=template) as after:
        assert after.doctor() == []
        assert after.champion("1H").version == 2  # type: ignore[union-attr]


def late_exit(url: str, point: str) -> int:
    """How a writer frozen after its check before ``point`` ends once woken: what it
    checked for lands, then its next check stops it (7); after its last write there is
    only the unlock, which it skips as no longer its own (0)."""
    return 0 if checks(url)[point] == checks(url)["last tag"] else 7


def _late_write(url: str, template: str, point: str, *, betas: int) -> int:
    """v1 crowned; a writer crowning v2 frozen just after its check before ``point``, past
    its lease, while the next writer crowns v3; then woken. Its exit code."""
    _crowned_one_of(url, template, betas=betas)
    frozen = _writer(url, template, str(checks(url)[point]), str(LEASE), "after")
    try:
        _wait_until_stopped(frozen.pid)
        time.sleep(LEASE * 1.5)
        _fresh(url, template).promote("1H", 3, "champion")
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    return frozen.wait(60)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["record", "alias", "last tag"])
def test_a_write_landing_after_the_lock_was_lost_is_undone_by_doctor(
    mlflow_url: str, template: str, point: str
) -> None:
    """The window fencing leaves: frozen after its check, the writer lands what it checked
    for when it wakes: one write, or through a server the alias and the stage tags, sent
    at once. doctor --fix puts the store back where the last committed operation left it."""
    woke = _late_write(mlflow_url, template, point, betas=3)
    assert woke == late_exit(mlflow_url, point)

    after = _fresh(mlflow_url, template)
    after.doctor(fix=True)
    assert after.doctor() == []
    # Frozen before its record, its operation was dropped; after, it was finished by the
    # next writer, who then crowned v3 over it.
    left = Stage.BETA if point == "record" else Stage.ARCHIVED
    stages = {v.version: v.stage for v in after.list("1H")}
    assert stages == {1: Stage.ARCHIVED, 2: left, 3: Stage.CHAMPION}
    assert _replayed(after) == stages
    assert not [c for c in after.history("1H") if c.cause.value == "repair"]


@pytest.mark.slow
def test_a_writer_that_trusts_its_lease_asks_again_when_it_wakes_past_it(
    mlflow_url: str, template: str
) -> None:
    """With a lease long enough to be trusted for a while without checks, a writer frozen
    past it (before its alias write) still finds, when it wakes, that it lost its lock."""
    lease = 5.0  # trusted for 0.5 s: every write of a live writer goes unchecked
    _crowned_one_of(mlflow_url, template, betas=3)
    frozen = _writer(mlflow_url, template, "2", str(lease), "write")
    try:
        _wait_until_stopped(frozen.pid)
        time.sleep(lease * 1.5)
        _fresh(mlflow_url, template, lease).promote("1H", 3, "champion")
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
        woke = frozen.wait(60)
    # It was frozen between its (trusted) check and its alias write: that write landed
    # late, and its next check, before the stage tags, asked the registry and stopped it.
    assert woke == late_exit(mlflow_url, "alias")
    after = _fresh(mlflow_url, template)
    after.doctor(fix=True)
    assert after.doctor() == []
    assert after.champion("1H").version == 3  # type: ignore[union-attr]
    assert _replayed(after) == {v.version: v.stage for v in after.list("1H")}


@pytest.mark.slow
@pytest.mark.parametrize("point", ["record", "alias", "last tag"])
def test_a_late_write_is_undone_by_the_next_ordinary_writer_before_it_plans(
    mlflow_url: str, template: str, point: str
) -> None:
    """No doctor this time: the writer after the late write is an ordinary promotion. It
    finds the store as the history describes it, so no version is demoted twice and its
    event names the champion the history had, not the one the late write set."""
    woke = _late_write(mlflow_url, template, point, betas=4)
    assert woke == late_exit(mlflow_url, point)

    ordinary = _fresh(mlflow_url, template)
    demotion, crowning = ordinary.promote("1H", 4, "champion")
    assert (demotion.version, demotion.from_stage, crowning.version) == (3, Stage.CHAMPION, 4)
    left = Stage.BETA if point == "record" else Stage.ARCHIVED
    stages = {v.version: v.stage for v in ordinary.list("1H")}
    assert stages == {1: Stage.ARCHIVED, 2: left, 3: Stage.ARCHIVED, 4: Stage.CHAMPION}
    assert _replayed(ordinary) == stages  # every change leads on from the one before
    assert ordinary.events()[-1].previous_champion == 3
    assert not [c for c in ordinary.history("1H") if c.cause.value == "repair"]
    assert ordinary.champion("1H").version == 4  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_version_read_beside_a_late_write_is_read_again_once_it_is_undone(
    mlflow_url: str, template: str
) -> None:
    """v2 left champion for archived, then beta, before a frozen writer's late write tagged
    it champion again. A store that saw v3 crowned reads v2 beside the model, so before
    the undoing, as archived (a champion tag without the alias); it reads it again after,
    in beta, and may crown it."""
    _crowned_one_of(mlflow_url, template, betas=4)
    frozen = _writer(mlflow_url, template, str(checks(mlflow_url)["alias"]), str(LEASE), "after")
    try:
        _wait_until_stopped(frozen.pid)
        time.sleep(LEASE * 1.5)
        rival = _fresh(mlflow_url, template)
        rival.promote("1H", 3, "champion")  # finishes the frozen writer's v2, then crowns v3
        rival.promote("1H", 2, "beta")
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    assert frozen.wait(60) == late_exit(mlflow_url, "alias")

    ordinary = _fresh(mlflow_url, template)
    store: Any = ordinary.store
    store.champions[ordinary.model_name("1H")] = 3
    demotion, crowning = ordinary.promote("1H", 2, "champion")
    assert (demotion.version, crowning.version, crowning.from_stage) == (3, 2, Stage.BETA)
    assert _replayed(ordinary) == {v.version: v.stage for v in ordinary.list("1H")}


ORDERED_LEASE = 6.0  # trusted for 1 s: its writes go without the lock (decision record 18)


@pytest.mark.slow
@pytest.mark.parametrize("ending", ["killed", "frozen"])
def test_a_write_without_the_lock_stopped_after_its_record_is_finished_by_the_next(
    mlflow_url: str, template: str, ending: str
) -> None:
    """A writer without the lock stops between its record and its alias. The next writer
    waits for the record's writes; once the record is older than the lease, it lands them
    itself, marking the model, then crowns its own. Woken, the frozen writer lands the
    alias write it was making, then stops at its next check (past its trust window); the
    next writers and doctor put the late alias back."""
    _crowned_one_of(mlflow_url, template, betas=3)
    stopped = _writer(mlflow_url, template, "2", str(ORDERED_LEASE), "write")
    try:
        _wait_until_stopped(stopped.pid)
        if ending == "killed":
            stopped.kill()
        _fresh(mlflow_url, template, ORDERED_LEASE).promote("1H", 3, "champion")
    finally:
        os.kill(stopped.pid, signal.SIGCONT)
    woke = stopped.wait(60)
    assert woke == (-signal.SIGKILL if ending == "killed" else 7)

    after = _fresh(mlflow_url, template)
    assert [c.version for c in after.history("1H") if c.to_stage is Stage.CHAMPION] == [1, 2, 3]
    after.doctor(fix=True)
    assert after.doctor() == []
    stages = {v.version: v.stage for v in after.list("1H")}
    assert stages == {1: Stage.ARCHIVED, 2: Stage.ARCHIVED, 3: Stage.CHAMPION}
    assert _replayed(after) == stages
