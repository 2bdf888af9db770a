"""End-to-end tests: the CLI as a user runs it, in process and as installed, fuzzed and stressed."""
