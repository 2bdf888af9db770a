"""Stages, causes and the parsing of user-supplied stage names.

Imports only the standard library.
"""

from __future__ import annotations

from enum import StrEnum

from stagekeeper.domain.errors import ValidationError


class Stage(StrEnum):
    """Where a model version stands in its lifecycle."""

    DEVELOPMENT = "development"
    BETA = "beta"
    CHAMPION = "champion"
    ARCHIVED = "archived"

    @classmethod
    def parse(cls, value: Stage | str) -> Stage:
        """Accept a member or its value in any case, surrounding white space ignored;
        refuse anything else. The CLI and the Python API share this one rule."""
        if isinstance(value, Stage):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        names = ", ".join(stage.value for stage in cls)
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}..."
        legacy = LEGACY_WORDS.get(value.strip().lower()) if isinstance(value, str) else None
        hint = None if legacy is None else f"MLflow's {value.strip()!r} is stagekeeper's {legacy}"
        raise ValidationError(f"unknown stage {shown}: expected one of {names}", hint=hint)


# MLflow's deprecated stage names, which newcomers from MLflow type first.
LEGACY_WORDS = {"production": "champion", "staging": "beta", "none": "development"}


class Cause(StrEnum):
    """Why a stage change happened."""

    REGISTRATION = "registration"
    PROMOTION = "promotion"
    # A promotion made with ``--force``: the policy's gates were not held to it (the change's
    # detail names those that failed); the lifecycle and the one champion still were.
    FORCED = "forced"
    AUTO_DEMOTION = "auto-demotion"
    ROLLBACK = "rollback"
    MIGRATION = "migration"
    REPAIR = "repair"
    # Not moves: records about a version that stays where it stands.
    METRICS = "metrics"
    REQUEST = "request"  # a move asked for, waiting for approvals
    APPROVAL = "approval"
    REJECTION = "rejection"
    EXPIRY = "expiry"


# The causes of a move a user asked for, which the lifecycle must allow.
REQUESTED_MOVES = frozenset({Cause.PROMOTION, Cause.FORCED, Cause.ROLLBACK})
