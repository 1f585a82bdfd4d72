"""What every section builder needs: the policy, where links point, and small phrasings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from keepfaith.policy.countries import HOME_AREA, country_name
from keepfaith.policy.labels import TRIGGERS, UNTIL
from keepfaith.policy.notice.blocks import Inline, Span, line, link
from keepfaith.policy.schema import (
    Jurisdiction,
    Policy,
    PostalAddress,
    Purpose,
    Recipient,
    Retention,
)

PRIVACY_CENTRE = "/privacy-centre"
VERSIONS = "/privacy/versions"
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def listing(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def human_date(moment: datetime) -> str:
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"


def category_anchor(key: str) -> str:
    return f"category-{key}"


@dataclass(frozen=True)
class Context:
    policy: Policy
    base_url: str = ""  # "" keeps links relative (the /privacy page); the CLI gives one

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}{path}"

    @property
    def name(self) -> str:
        org = self.policy.organisation
        return org.trading_name or org.legal_name

    @property
    def law(self) -> str:
        uk = self.policy.has(Jurisdiction.UK_GDPR)
        eu = self.policy.has(Jurisdiction.EU_GDPR)
        return "UK GDPR and GDPR" if uk and eu else "UK GDPR" if uk else "GDPR"

    @property
    def rights_email(self) -> str:
        return str(self.policy.rights.contact or self.policy.organisation.contact.email)

    @property
    def website(self) -> str:
        return str(self.policy.organisation.website).rstrip("/")

    def address(self, postal: PostalAddress) -> str:
        parts = [
            p for p in (postal.street, postal.locality, postal.region, postal.postal_code) if p
        ]
        return ", ".join([*parts, self.country(postal.country)])

    def mail(self, address: str) -> Span:
        return link(address, f"mailto:{address}")

    def centre(self, text: str = "privacy centre", anchor: str = "") -> Span:
        return link(text, self.url(PRIVACY_CENTRE) + anchor)

    def category_title(self, key: str) -> str:
        entry = self.policy.data_categories.get(key)
        return entry.title if entry else key

    def categories(self, keys: list[str]) -> Inline:
        """Category titles, linked to their row in the data table."""
        pieces: list[str | Span] = []
        for index, key in enumerate(keys):
            if index:
                pieces.append(", ")
            pieces.append(link(self.category_title(key), f"#{category_anchor(key)}"))
        return line(*pieces)

    def purpose_titles(self, keys: list[str]) -> Inline:
        pieces: list[str | Span] = []
        for index, key in enumerate(keys):
            if index:
                pieces.append(", ")
            title = self.policy.purposes[key].title if key in self.policy.purposes else key
            pieces.append(link(title, f"#purpose-{key}"))
        return line(*pieces)

    def recipients_of(self, purpose: str) -> dict[str, Recipient]:
        return self.policy.recipients_for(purpose)

    def abroad(self, recipient: Recipient) -> bool:
        return recipient.country not in HOME_AREA

    def country(self, code: str) -> str:
        """ "United Kingdom" (table cells and addresses), not "the United Kingdom"."""
        name = country_name(code).removeprefix("the ")
        return name[0].upper() + name[1:]

    def retention(self, retention: Retention) -> str:
        """ "6 years after our contract with you ends", or "until you withdraw your consent"."""
        if retention.period.approximate_days == 0:
            return UNTIL[retention.trigger].capitalize()
        return f"{retention.period.describe()} {TRIGGERS[retention.trigger]}".capitalize()

    def consent_based(self, purpose: Purpose) -> bool:
        return purpose.legal_basis.value == "consent"
