"""Looking a person up by e-mail address or phone number, with a stated reason (SP-19).

A search is an access in its own right: it tells the searcher that the address belongs to
someone the business holds data about. So it needs a reason, and every search, found or not,
is recorded as ``subject.searched`` with that reason and the way searched (``email`` or
``phone``), never the term itself.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.audit.service import record
from keepfaith.crypto.keyring import Keyring
from keepfaith.policy.schema import Policy
from keepfaith.subjects.errors import FieldError
from keepfaith.subjects.service import find_subject

SEARCHED = "subject.searched"


def search_subject(
    session: Session,
    keyring: Keyring,
    policy: Policy,
    *,
    actor: Actor,
    reason: str | None,
    email: str | None = None,
    phone: str | None = None,
) -> uuid.UUID | None:
    """The person with this e-mail address or phone number (exactly one), or None.

    FieldError naming ``reason`` when none is given, ``email`` when neither or both terms
    are, and the term's field when it cannot be an address or number.
    """
    if reason is None or not reason.strip():
        raise FieldError("reason", "is required: say why you are looking this person up")
    if (email is None) == (phone is None):
        raise FieldError("email", "give either an e-mail address or a phone number")
    by = "email" if email is not None else "phone"
    if not (email or phone or "").strip():
        raise FieldError(by, "is empty")
    found = find_subject(session, keyring, email=email, phone=phone, policy=policy)
    record(
        session,
        actor=actor,
        action=SEARCHED,
        subject_id=found,
        reason=reason,
        details={"by": by, "found": found is not None},
    )
    return found
