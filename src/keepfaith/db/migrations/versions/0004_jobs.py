"""jobs: tables of the jobs feature

Revision ID: 0004_jobs
Revises: 0003_staff
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0004_jobs"
down_revision = "0003_staff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
