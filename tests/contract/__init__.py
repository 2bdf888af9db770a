"""Contract tests: the exported contract suite on the in-memory store (the other stores
run it in their own distributions' tests)."""
