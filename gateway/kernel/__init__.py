"""The shared kernel: settings, the container, auth, errors, idempotency, HTTP base classes, logging."""
