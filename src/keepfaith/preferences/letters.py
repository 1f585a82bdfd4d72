"""The preference centre's e-mails: a receipt after a change, and the notice asking for renewed
consent after a material policy change. Both are mandatory messages: they carry no marketing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from keepfaith.mail.compose import Draft
from keepfaith.mail.footer import sender_name
from keepfaith.mail.letters import letter
from keepfaith.policy.notice.context import human_date
from keepfaith.policy.schema import Policy


def receipt_letter(
    policy: Policy, *, lines: Sequence[tuple[str, str]], link: str, when: datetime
) -> Draft:
    """``lines``: (purpose title, where it stands) for each choice; ``link``: the person's
    signed preference-centre link."""
    return letter(
        f"Your privacy choices at {sender_name(policy)}: your receipt",
        "preferences/mail/receipt",
        organisation=sender_name(policy),
        lines=lines,
        link=link,
        when=f"{human_date(when)}, {when:%H:%M} UTC",
    )


def renewal_letter(
    policy: Policy,
    *,
    purposes: Sequence[tuple[str, Sequence[str]]],
    link: str,
    effective_at: datetime,
    now: datetime,
) -> Draft:
    """``purposes``: (title, what changed) for each consent that needs renewing."""
    upcoming = effective_at > now
    return letter(
        f"{sender_name(policy)} is changing its privacy policy: please choose again",
        "preferences/mail/renewal",
        organisation=sender_name(policy),
        purposes=purposes,
        link=link,
        effective=human_date(effective_at),
        upcoming=upcoming,
    )
