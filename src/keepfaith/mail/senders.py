"""Who may appear in From: checked when a message is queued, so a misaligned sender is refused
with a precise error instead of landing in spam, or worse, impersonating someone.

* A kind of the policy sends from the organisation's own domain (the host of
  ``organisation.website``, or a domain above or below it): CAN-SPAM 15 U.S.C. 7704(a)(1)
  (accurate header information) and SP-05's "sent directly by Session Pros"; DMARC's relaxed
  alignment between From and the DKIM ``d=`` needs it as well.
* Once any DKIM key is configured, every message's From domain must have one (itself or a
  parent domain): unsigned mail from a domain that publishes DMARC is refused by Gmail and
  Yahoo, and RFC 8058 one-click needs a signature over the List-Unsubscribe headers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from keepfaith.mail.compose import domain_of
from keepfaith.mail.dkim import DkimKeys
from keepfaith.mail.kinds import Kind, MailError
from keepfaith.policy.schema import Policy


def organisation_domain(policy: Policy) -> str:
    host = (urlsplit(str(policy.organisation.website)).hostname or "").lower()
    return host.removeprefix("www.")


def _aligned(domain: str, organisation: str) -> bool:
    return (
        domain == organisation
        or domain.endswith("." + organisation)
        or organisation.endswith("." + domain)
    )


def check_sender(policy: Policy, kind: Kind, sender: str, keys: DkimKeys) -> None:
    """MailError (field ``from``) unless ``sender`` may send ``kind``."""
    domain = domain_of(sender)
    organisation = organisation_domain(policy)
    if not kind.system and not _aligned(domain, organisation):
        raise MailError(
            "from",
            f"{kind.key} is sent from {sender}, outside the organisation's domain "
            f"{organisation} (organisation.website in the policy): messages must come from "
            "the business's own domain (CAN-SPAM 7704(a)(1), DMARC alignment); change the "
            f"communication's from_address",
        )
    if keys.configured and keys.for_domain(domain) is None:
        raise MailError(
            "from",
            f"{kind.key} is sent from {domain}, which has no DKIM key in {keys.folder}: run "
            f"keepfaith mail dkim-keygen --domain {domain} --selector <name> and publish "
            "the DNS record it prints",
        )
