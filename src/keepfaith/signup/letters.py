"""The confirmation e-mail of double opt-in: a mandatory message that asks one thing."""

from __future__ import annotations

from keepfaith.mail.compose import Draft
from keepfaith.mail.footer import sender_name
from keepfaith.mail.letters import letter
from keepfaith.policy.schema import Policy


def confirm_letter(policy: Policy, *, titles: list[str], link: str, days: int) -> Draft:
    return letter(
        f"Please confirm: {sender_name(policy)} will only write once you do",
        "signup/mail/confirm",
        organisation=sender_name(policy),
        titles=titles,
        link=link,
        days=days,
    )
