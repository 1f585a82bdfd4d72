"""Storage: engine and sessions for SQLite and PostgreSQL, the declarative base, migrations."""

from keepfaith.db.base import Base
from keepfaith.db.engine import Database

__all__ = ["Base", "Database"]
