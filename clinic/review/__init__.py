"""The physiotherapists' review: the queue, a case, the outcome, the screening's performance."""
