"""``python -m stagekeeper``: the same as the ``stagekeeper`` command."""

from stagekeeper.cli.app import main

main()
