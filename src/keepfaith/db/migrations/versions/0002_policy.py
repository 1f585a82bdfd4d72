"""policy: tables of the policy feature

Revision ID: 0002_policy
Revises: 0001_core
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0002_policy"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
