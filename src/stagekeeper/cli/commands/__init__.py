"""One module per command; ``stagekeeper.cli.app`` registers them."""
