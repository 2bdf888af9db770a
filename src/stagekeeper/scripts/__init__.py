"""Seed-compatible scripts, run as ``python -m stagekeeper.scripts.<name>``."""
