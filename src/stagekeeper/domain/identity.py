"""Who acted: a name, and whether a system checked it.

``source`` says who vouches for the name: ``postgresql`` (the database's login,
``session_user``), ``mlflow`` (the user an MLflow server authenticated), ``console`` (the
user the web console authenticated), or ``declared``: the ``--actor`` flag, the
environment or the OS user, a label that nothing checked. Imports only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass

DECLARED = "declared"
VERIFYING_SOURCES = ("postgresql", "mlflow", "console")


@dataclass(frozen=True)
class Identity:
    name: str
    source: str = DECLARED

    @property
    def verified(self) -> bool:
        return self.source != DECLARED

    @classmethod
    def declared(cls, actor: str) -> Identity:
        return cls(actor, DECLARED)

    def shown(self) -> str:
        """For a table: a verified name is marked, so a reader sees what a system checked."""
        return f"{self.name} ✓ {self.source}" if self.verified else f"{self.name} (declared)"
