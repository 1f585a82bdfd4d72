"""The e-mails My Account sends. Both are mandatory messages about the person's account: they
never carry marketing, and they ask for nothing but a click or a code."""

from __future__ import annotations

from datetime import datetime

from keepfaith.mail.compose import Draft
from keepfaith.mail.footer import sender_name
from keepfaith.mail.letters import letter
from keepfaith.policy.schema import Policy


def sign_in_letter(policy: Policy, *, link: str, code: str, minutes: int) -> Draft:
    return letter(
        f"Your sign-in code for {sender_name(policy)}: {code}",
        "account/mail/sign_in",
        organisation=sender_name(policy),
        link=link,
        code=code,
        minutes=minutes,
    )


def email_changed_letter(policy: Policy, *, when: datetime, contact: str) -> Draft:
    return letter(
        f"The e-mail address on your {sender_name(policy)} account was changed",
        "account/mail/email_changed",
        organisation=sender_name(policy),
        when=when,
        contact=contact,
    )
