"""Integration tests: real services beside stagekeeper (a webhook server, PostgreSQL,
MLflow, a browser)."""
