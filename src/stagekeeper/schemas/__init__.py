"""The published formats: JSON Schemas, shipped with the package."""
