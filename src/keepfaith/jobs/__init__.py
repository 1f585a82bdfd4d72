"""Background jobs: a queue in the application database, workers, periodic schedules."""
