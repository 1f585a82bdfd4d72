"""Every feature's tables, imported so that the metadata is complete (for Alembic and tests)."""

from __future__ import annotations

import keepfaith.account.models
import keepfaith.audit.models
import keepfaith.campaigns.models
import keepfaith.chain.models
import keepfaith.consent.models
import keepfaith.jobs.models
import keepfaith.mail.models
import keepfaith.messages.models
import keepfaith.policy.models
import keepfaith.signup.models
import keepfaith.staff.models
import keepfaith.subjects.models
import keepfaith.suppression.models
import keepfaith.unsubscribe.models  # noqa: F401
from keepfaith.db.base import Base

metadata = Base.metadata
