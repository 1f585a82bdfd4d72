"""The mailto in List-Unsubscribe: a message to ``unsubscribe+TOKEN@domain`` unsubscribes the
person the token names (RFC 2369 §3.2; CAN-SPAM accepts a reply address as the opt-out).

The mail server delivers such messages to ``keepfaith mail inbound`` on its standard input
(docs/unsubscribe.md shows Postfix and Exim set-ups), with the envelope recipient as
``--recipient`` when it can pass it; otherwise the address is looked for in Delivered-To,
X-Original-To, To and Cc. Only the headers are read: the subject and body do not matter, and
nothing from the message is stored. The sender's own address is not used either: the token
says whose e-mail this was, wherever it was forwarded.
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from enum import StrEnum

from keepfaith.consent.models import ConsentSource
from keepfaith.crypto.tokens import TokenError
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.unsubscribe.links import MAILTO_LOCAL
from keepfaith.unsubscribe.service import unsubscribe
from keepfaith.unsubscribe.tokens import TOKEN_LENGTH, read_token

ADDRESS = re.compile(
    rf"{MAILTO_LOCAL}\+([a-z2-7]{{{TOKEN_LENGTH}}})@[^@\s>]+", re.IGNORECASE | re.ASCII
)
WHERE = ("Delivered-To", "X-Original-To", "To", "Cc")
MAX_HEADER_BYTES = 256 * 1024


class Inbound(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    ALREADY = "already"  # nothing left to stop (already unsubscribed, or erased)
    NOT_FOR_US = "not_for_us"  # not addressed to an unsubscribe+TOKEN address
    INVALID = "invalid"  # a token we did not make, or altered
    EXPIRED = "expired"

    @property
    def done(self) -> bool:
        return self in (Inbound.UNSUBSCRIBED, Inbound.ALREADY)


def token_in(headers: Message, recipient: str | None = None) -> str | None:
    """The token of the first unsubscribe address among the recipients, or None."""
    candidates = [recipient] if recipient else []
    for name in WHERE:
        candidates += [address for _, address in getaddresses(headers.get_all(name, []))]
    for candidate in candidates:
        found = ADDRESS.fullmatch(candidate.strip().strip("<>"))
        if found:
            return found.group(1).lower()
    return None


def handle_inbound(runtime: Runtime, raw: bytes, recipient: str | None = None) -> Inbound:
    """Unsubscribe whoever the message's unsubscribe address names."""
    headers = BytesHeaderParser().parsebytes(raw[:MAX_HEADER_BYTES])
    token = token_in(headers, recipient)
    if token is None:
        return Inbound.NOT_FOR_US
    with runtime.db.transaction() as session:
        policy = policy_in_force(session)
        try:
            found = read_token(runtime.keyring, token, policy)
        except TokenError as exc:
            return Inbound.EXPIRED if exc.expired else Inbound.INVALID
        done = unsubscribe(session, policy, found, via=ConsentSource.MAILTO)
    return Inbound.UNSUBSCRIBED if done.purposes else Inbound.ALREADY
