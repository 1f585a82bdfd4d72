"""staff: tables of the staff feature

Revision ID: 0003_staff
Revises: 0002_policy
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0003_staff"
down_revision = "0002_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
