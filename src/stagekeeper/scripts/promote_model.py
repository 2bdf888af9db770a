"""The seed's ``promote_model`` script with exactly its flags, over the stagekeeper service.

    python -m stagekeeper.scripts.promote_model --timeframe 1H --model-version 1 \
        --target-stage beta --reason "Passed initial validation"
    python -m stagekeeper.scripts.promote_model --timeframe 1H --list-models --stage champion

The store is ``STAGEKEEPER_STORE``, else the default store, as for the CLI. Errors and
exit codes are the CLI's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from stagekeeper.bootstrap import open_registry
from stagekeeper.cli import funnel, render, tables
from stagekeeper.cli.session import command_session
from stagekeeper.compat import MLflowManager
from stagekeeper.domain.errors import GateError

FORCE_HINT = (
    "stagekeeper check shows every gate; stagekeeper promote --force --reason goes past them"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stagekeeper.scripts.promote_model",
        description="Promote a model version, or list the versions in a stage.",
    )
    parser.add_argument("--timeframe", required=True, help="Timeframe, e.g. 1H")
    parser.add_argument("--model-version", help="Version to promote")
    parser.add_argument("--target-stage", help="development, beta, champion or archived")
    parser.add_argument("--reason", help="Why the model is promoted")
    parser.add_argument("--list-models", action="store_true", help="List versions instead")
    parser.add_argument("--stage", help="With --list-models: only this stage (default: all)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.list_models and (args.model_version is None or args.target_stage is None):
        parser.error("--model-version and --target-stage are required unless --list-models")
    with command_session(json_output=False) as session:
        # Both read or move versions that must exist: a mistyped store is named, not made.
        manager = MLflowManager(timeframe=args.timeframe, registry=open_registry(create=False))
        try:
            if args.list_models:
                versions = manager.registry.list(args.timeframe, args.stage)
                empty = f"No {args.stage + ' ' if args.stage else ''}models for {args.timeframe}."
                session.emit(None, lambda c: tables.show(c, render.versions_table(versions), empty))
                return
            try:
                changes = manager.promote_model(
                    manager.registry.model_name(args.timeframe),
                    args.model_version,
                    args.target_stage,
                    reason=args.reason,
                )
            except GateError as refused:  # this script has no --force; the CLI has
                refused.hint = FORCE_HINT
                raise
            already = "Already in that stage; nothing changed."
            session.emit(None, lambda c: tables.show(c, render.changes_table(changes), already))
        finally:
            manager.close()


def run() -> None:
    """Run ``main`` as a process, failures through the CLI's funnel."""
    argv = sys.argv[1:]
    sys.exit(funnel.guarded(argv, lambda: main(argv)))


if __name__ == "__main__":
    run()
