"""SQL stores for stagekeeper: ``sqlite:///file.db`` and ``postgresql+psycopg://...``.

Found through the ``stagekeeper.backends`` entry point; ``open_store`` is the factory.
"""

from stagekeeper_sql.store import SqlStore, open_store

__all__ = ["SqlStore", "open_store"]
