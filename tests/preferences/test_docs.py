"""docs/preferences.md cannot drift from the code: every page, job and message kind it owns."""

from __future__ import annotations

import re
from pathlib import Path

from keepfaith.mail.kinds import CONSENT_RECEIPT, POLICY_CHANGE, SIGNUP_CONFIRM
from keepfaith.preferences import console, jobs
from keepfaith.preferences import views as preference_views
from keepfaith.preferences.choices import RECEIPT_JOB
from keepfaith.signup import api as signup_api
from keepfaith.signup import jobs as signup_jobs
from keepfaith.signup import views as signup_views
from keepfaith.signup.service import PREPARE_JOB

DOCS = Path(__file__).resolve().parents[2] / "docs"
PREFERENCES = (DOCS / "preferences.md").read_text()
API = (DOCS / "api.md").read_text()


def _paths(router: object) -> set[str]:
    return {getattr(r, "path", "") for r in getattr(router, "routes", [])}


def test_every_page_is_documented() -> None:
    paths = _paths(preference_views.router) | _paths(signup_views.router)
    paths |= _paths(console.router)
    for path in sorted(paths):
        # "/preferences/{token}/receipt" is documented as "…/receipt" after the two addresses.
        tail = re.sub(r"^/(account/)?preferences(/\{token\})?", "", path)
        tail = re.sub(r"\{(form|token)\}", "", tail)
        assert (tail or path) in PREFERENCES or path in PREFERENCES, path


def test_the_api_call_is_documented_in_both() -> None:
    for route in signup_api.router.routes:
        for method in getattr(route, "methods", ()):
            call = f"{method} {getattr(route, 'path', '')}"
            assert call in API and call.split(" ", 1)[1] in PREFERENCES


def test_jobs_and_message_kinds_are_documented() -> None:
    names = [RECEIPT_JOB, jobs.RENEWAL_JOB, PREPARE_JOB, signup_jobs.EXPIRE_JOB]
    names += [CONSENT_RECEIPT, SIGNUP_CONFIRM, POLICY_CHANGE]
    assert [n for n in names if f"`{n}`" not in PREFERENCES] == []
