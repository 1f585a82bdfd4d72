"""What a message is: a communication kind from the policy, or one of keepfaith's own.

Policy kinds (``communications:`` in policy.yaml) are marketing (tied to a purpose the person
may refuse) or mandatory. System kinds are keepfaith's own mandatory messages, such as the
sign-in link for My Account: they have no purpose to consent to and never carry marketing.
"""

from __future__ import annotations

from dataclasses import dataclass

from keepfaith.policy.schema import CommunicationKind, Policy

SIGN_IN = "account.sign_in"
EMAIL_CHANGED = "account.email_changed"
TEST = "mail.test"
CONSENT_RECEIPT = "consent.receipt"
SIGNUP_CONFIRM = "consent.confirm"
POLICY_CHANGE = "policy.change"
UNSUBSCRIBE_LINK = "unsubscribe.link"
# A draft campaign sent to the member of staff who asked, to check it: to staff, not to a data
# subject, so not direct marketing to a person; its recipient is always the sender's own account.
CAMPAIGN_TEST = "campaign.test"
# Rights requests (keepfaith.rights): to the person who asked, and reminders to staff.
RIGHTS_VERIFY = "rights.verify"
RIGHTS_NOTICE = "rights.notice"
RIGHTS_PACKAGE = "rights.package"
RIGHTS_REMINDER = "rights.reminder"

SYSTEM_KINDS: dict[str, str] = {
    SIGN_IN: "Sign-in link and code for your account",
    EMAIL_CHANGED: "Notice that the e-mail address on your account changed",
    TEST: "Test message sent by an operator",
    CONSENT_RECEIPT: "A receipt for the choices you made about your data",
    SIGNUP_CONFIRM: "A request to confirm your sign-up",
    POLICY_CHANGE: "Notice that our privacy policy is changing, asking you to renew consent",
    UNSUBSCRIBE_LINK: "A link to unsubscribe, sent because you asked for one",
    CAMPAIGN_TEST: "A draft campaign sent to a member of staff to check it",
    RIGHTS_VERIFY: "A code to confirm that a request about your data is yours",
    RIGHTS_NOTICE: "News of your request about your data: received, extended, done or closed",
    RIGHTS_PACKAGE: "A link to the copy of your data you asked for",
    RIGHTS_REMINDER: "A reminder to staff of rights requests that are due soon or overdue",
}

# Sent to staff, never to the people the data is about: not listed among the messages a person gets.
STAFF_KINDS = frozenset({TEST, CAMPAIGN_TEST, RIGHTS_REMINDER})


class MailError(ValueError):
    """A message that cannot be queued; the message names the field and never its value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Kind:
    key: str
    title: str
    marketing: bool
    purpose: str | None
    from_address: str | None  # None: the configured KEEPFAITH_MAIL_FROM
    system: bool


def resolve_kind(policy: Policy, kind: str, purpose: str | None) -> Kind:
    """The kind's facts, or MailError if it is unknown or its purpose does not fit."""
    if kind in SYSTEM_KINDS:
        if purpose is not None:
            raise MailError("purpose", f"{kind} is a system message and serves no purpose")
        return Kind(kind, SYSTEM_KINDS[kind], False, None, None, True)
    communication = policy.communications.get(kind)
    if communication is None:
        raise MailError(
            "kind", f"{kind!r} is neither a communication in the policy in force nor a system kind"
        )
    if purpose is not None and communication.purpose not in (None, purpose):
        raise MailError("purpose", f"{kind} is sent for {communication.purpose}, not {purpose}")
    chosen = purpose or communication.purpose
    marketing = communication.kind is CommunicationKind.MARKETING
    if marketing and chosen is None:
        raise MailError("purpose", f"{kind} is marketing and needs the purpose that permits it")
    if chosen is not None and chosen not in policy.purposes:
        raise MailError("purpose", f"{chosen!r} is not a purpose in the policy in force")
    return Kind(
        kind,
        communication.title,
        marketing,
        chosen,
        str(communication.from_address) if communication.from_address else None,
        False,
    )
