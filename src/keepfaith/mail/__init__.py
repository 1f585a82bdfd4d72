"""Outbound e-mail: composing, queueing with an idempotency key, sending on the job queue through
a transport (SMTP, outbox, file), and the state of every message."""
