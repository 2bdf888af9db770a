"""The seed's promotion workflow, step by step, on a stagekeeper registry.

    python examples/model_promotion_example.py                   # the embedded SQLite default
    python examples/model_promotion_example.py --store memory://

It registers three versions of the 1H model, moves them through beta to champion, shows
the automatic demotion of the old champion, lists every stage, prints the audit trail
and rolls back. Run it again and it carries on with new version numbers.
"""

from __future__ import annotations

import argparse

from stagekeeper import ModelVersion, Registry, Stage, StageChange, open_registry

TIMEFRAME = "1H"


def show_changes(changes: list[StageChange]) -> None:
    for change in changes:
        source = change.from_stage.value if change.from_stage else "(new)"
        note = f"  [{change.cause.value}]" if change.cause.value != "promotion" else ""
        print(f"    v{change.version}: {source} -> {change.to_stage.value}{note}")


def step(title: str) -> None:
    print(f"\n== {title}")


def promote(registry: Registry, version: ModelVersion, stage: Stage, reason: str) -> str:
    """Promote and show the changes; return the operation id they share."""
    print(f"  promote v{version.version} to {stage.value}: {reason}")
    changes = registry.promote(TIMEFRAME, version.version, stage, reason=reason)
    show_changes(changes)
    return changes[0].operation_id


def run(registry: Registry) -> None:
    step(f"1. Register three versions of {registry.model_name(TIMEFRAME)}")
    first, second, third = (
        registry.register(TIMEFRAME, source=f"runs:/example/model-{n}") for n in range(3)
    )
    print(f"  registered v{first.version}, v{second.version}, v{third.version} in development")

    step("2. Promote the first version to beta")
    operations = {promote(registry, first, Stage.BETA, "Passed initial validation")}

    step("3. Promote the second version to beta, then to champion")
    operations.add(promote(registry, second, Stage.BETA, "Passed initial validation"))
    operations.add(promote(registry, second, Stage.CHAMPION, "Best performance in backtesting"))

    step("4. Promote the third version to champion: the second is archived automatically")
    operations.add(promote(registry, third, Stage.BETA, "Passed initial validation"))
    operations.add(
        promote(registry, third, Stage.CHAMPION, "Beat the champion on last month's data")
    )

    step(f"5. Versions of {TIMEFRAME} by stage")
    for stage in Stage:
        found = [f"v{v.version}" for v in registry.list(TIMEFRAME, stage)]
        print(f"  {stage.value:<12} {', '.join(found) or '-'}")

    step("   History of this run (who, what, why)")
    registered = {first.version, second.version, third.version}
    this_run = [
        change
        for change in registry.history(TIMEFRAME)
        # this run's versions, and an earlier run's champion that this run demoted
        if change.version in registered or change.operation_id in operations
    ]
    for change in this_run:
        source = change.from_stage.value if change.from_stage else "(new)"
        print(
            f"  {change.at:%H:%M:%S} v{change.version} {source} -> {change.to_stage.value}"
            f" by {change.actor} ({change.cause.value}) {change.reason or ''}".rstrip()
        )

    step("   Roll back: the third version misbehaves in production")
    show_changes(registry.rollback(TIMEFRAME, reason="Live drawdown above limit"))
    champion = registry.champion(TIMEFRAME)
    print(f"  champion of {TIMEFRAME} is now v{champion.version if champion else '-'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store URL (default: $STAGEKEEPER_STORE or sqlite)")
    args = parser.parse_args()
    with open_registry(args.store, actor="example") as registry:
        run(registry)


if __name__ == "__main__":
    main()
