"""The domain: stages, the lifecycle, values, errors, validation. No I/O, no framework;
imports only the standard library (and ``transitions``, in ``lifecycle`` alone)."""
