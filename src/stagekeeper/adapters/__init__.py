"""Adapters shipped with the core: the in-memory store (``memory://``). Imports the domain
and the ports."""
