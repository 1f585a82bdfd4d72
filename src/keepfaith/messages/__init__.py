"""Messages the business's own systems send: transactional and mandatory mail through
``POST /api/v1/messages`` or the Python API, by stored template or as written, and their state."""
