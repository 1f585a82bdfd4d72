"""HTTP: the app factory, middleware, shared templates and static files."""
