"""A promotion policy at work: gates on evidence, one approval, and a forced emergency move.

    python examples/policy_example.py                      # a fresh in-memory store
    python examples/policy_example.py --store sqlite:///policy.db

The 1D timeframe gets a policy of its own: a champion needs a reason, a Sharpe ratio of at
least 1.0 that beats the current champion's, 24 hours in beta, and one approval from
someone other than the person who asks. The run shows a refusal, a pass that waits for
approval, the approval that makes the move, and a forced move in an emergency, then the
audit trail. The 24 hours pass on a clock the example controls, so every time it records
is simulated: that is why it runs on a fresh in-memory store unless told otherwise.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta

from stagekeeper import GateError, Registry, Stage, open_registry
from stagekeeper.domain.operation import utc_now

TIMEFRAME = "1D"
POLICY = {
    "champion": {
        "require_reason": True,
        "require": ["sharpe >= 1.0", "sharpe > champion.sharpe"],
        "soak": "24h",
        "approvals": 1,
        "expires": "72h",
    }
}


class SimulatedClock:
    """Now, as far as the example is concerned; ``advance`` makes time pass."""

    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += timedelta(hours=hours)
        print(f"  ... {hours:g} hours pass")


def step(title: str) -> None:
    print(f"\n== {title}")


def in_beta(registry: Registry, sharpe: float) -> int:
    version = registry.register(TIMEFRAME, metrics={"sharpe": sharpe}, actor="trainer")
    registry.promote(TIMEFRAME, version.version, Stage.BETA, reason="passed validation")
    print(f"  v{version.version} (sharpe {sharpe}) is in beta")
    return version.version


def ask(registry: Registry, version: int, reason: str) -> str | None:
    """Ana asks for the champion slot; returns the request's id, or None if refused."""
    print(f"  ana asks to crown v{version}: {reason}")
    try:
        registry.promote(TIMEFRAME, version, Stage.CHAMPION, reason=reason, actor="ana")
    except GateError as refused:
        print("  refused by the policy:")
        for failure in refused.failures:
            print(f"    - {failure}")
        return None
    request = registry.pending_request(TIMEFRAME, version, Stage.CHAMPION)
    assert request is not None
    print(f"  every gate passed; request {request.id} waits for {request.remaining} approval")
    return request.id


def approve(registry: Registry, request_id: str) -> None:
    changes = registry.approve(request_id, reason="backtest reviewed", actor="ben")
    for change in changes:
        if change.moves:
            print(f"  ben approves: v{change.version} {change.from_stage} -> {change.to_stage}")


def run(registry: Registry, clock: SimulatedClock) -> None:
    step(f"1. The policy of {TIMEFRAME}: every champion must earn its place")
    registry.set_policy(POLICY, timeframe=TIMEFRAME, reason="trading desk rule", actor="lead")
    print(f"  {POLICY['champion']}")

    step("2. Too early: the first candidate has not soaked in beta for 24 h")
    first = in_beta(registry, sharpe=1.1)
    ask(registry, first, "best backtest so far")

    step("3. A day later it passes every gate, and waits for an approval")
    clock.advance(25)
    for gate in registry.check(TIMEFRAME, first, Stage.CHAMPION, reason="best backtest so far"):
        print(f"    {'pass' if gate.passed else 'wait'}  {gate.gate}: {gate.found}")
    request_id = ask(registry, first, "best backtest so far")
    assert request_id is not None
    approve(registry, request_id)

    step("4. A weaker challenger is refused: below the bar, and not better than the champion")
    weak = in_beta(registry, sharpe=0.8)
    clock.advance(25)
    ask(registry, weak, "cheaper to run")

    step("5. A stronger challenger passes, is approved, and the old champion is archived")
    strong = in_beta(registry, sharpe=1.4)
    clock.advance(25)
    request_id = ask(registry, strong, "beats v1 out of sample")
    assert request_id is not None
    approve(registry, request_id)

    step("6. Emergency: the champion breaks on a new data feed; ops forces a known-good model")
    clock.advance(6)
    changes = registry.promote(
        TIMEFRAME, weak, Stage.CHAMPION, force=True, actor="ops",
        reason="v3 fails on the new feed; v2 is the only model validated on it",
    )  # fmt: skip
    forced = changes[-1]
    print(f"  v{forced.version} is champion, cause {forced.cause.value}: {forced.detail}")
    clock.advance(24)

    step("7. The audit trail: who moved what, when, why")
    for change in registry.history(TIMEFRAME):
        when = change.at.strftime("%Y-%m-%d %H:%M")
        move = f"{change.from_stage or '-'} -> {change.to_stage}"
        print(
            f"  {when}  v{change.version}  {move:<24} {change.cause.value:<13} "
            f"{change.actor:<8} {change.reason or ''}"
        )


def draw_timeline(registry: Registry, clock: SimulatedClock, path: str) -> None:
    """The reigns as a PNG, drawn at the example's own now (needs stagekeeper[plot])."""
    from stagekeeper.cli.charts import picture
    from stagekeeper.domain.timeline import reigns

    with open(path, "wb") as image:
        image.write(picture(reigns(registry.history(TIMEFRAME)), clock(), "png"))
    print(f"\n== The champion timeline: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="memory://", help="store URL (default: memory://)")
    parser.add_argument("--timeline", metavar="FILE.png", help="also draw the timeline")
    args = parser.parse_args()
    clock = SimulatedClock()
    with open_registry(args.store, actor="ana", clock=clock) as registry:
        run(registry, clock)
        if args.timeline:
            draw_timeline(registry, clock, args.timeline)


if __name__ == "__main__":
    main()
