"""Background work: the transactional outbox, the explicit job registry, the worker and the scheduler."""
