"""Stress: writers in separate processes, killed, frozen and raced, with ``doctor`` beside
them, and the two promises checked during and after (``invariants``).

The regular suite runs a short version of each scenario (``tests/e2e/test_stress.py``);
``python -m tests.stress`` runs the full figures and writes ``docs/RELIABILITY.md``.
"""
