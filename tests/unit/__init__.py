"""Unit tests: the pure domain, and the service over the in-memory store."""
