"""``python -m stagekeeper``: the same as the ``stagekeeper`` command."""

from stagekeeper.cli.start import main

main()
