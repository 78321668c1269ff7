"""Jobs: durable units of work on one target, with a state machine and an append-only journal."""
