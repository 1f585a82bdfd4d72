"""The footer every message carries, mandatory ones included: who sent it, from which postal
address (CAN-SPAM 15 U.S.C. 7704(a)(5)(A)(iii)), and where to manage preferences (the seed
promises "every communication"): the person's own signed link when the message has a subject
(`keepfaith.preferences.links`), else the signed-in page. A marketing message's footer starts
with its unsubscribe link."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import escape

from keepfaith.policy.countries import country_name
from keepfaith.policy.schema import Policy

PREFERENCES_PATH = "/account/preferences"


def country_title(code: str) -> str:
    """``"United Kingdom"``, not ``"the United Kingdom"``; unknown codes as they are."""
    name = country_name(code).removeprefix("the ")
    return name[0].upper() + name[1:] if name else code


def postal_lines(address: Mapping[str, str | None]) -> list[str]:
    """An address as it is written on an envelope: street; town, region and postcode
    ("Nashville, TN 37201", "Leeds, LS1 1AA"); the country's name."""
    street = address.get("street")
    code = " ".join(p for p in (address.get("region"), address.get("postal_code")) if p)
    town = ", ".join(p for p in (address.get("locality"), code) if p)
    country = address.get("country")
    return [line for line in (street, town, country_title(country) if country else None) if line]


def sender_name(policy: Policy) -> str:
    organisation = policy.organisation
    return organisation.trading_name or organisation.legal_name


@dataclass(frozen=True)
class Footer:
    """What ends every message: the preference link (every message, SP-14), a marketing
    message's unsubscribe link (visible in the body, as Gmail and Yahoo require and CAN-SPAM
    7704(a)(5)(A)(ii) asks), and who sent it from which postal address."""

    policy: Policy
    base_url: str
    preferences_url: str | None = None
    unsubscribe_url: str | None = None  # marketing only

    @property
    def _preferences(self) -> str:
        return self.preferences_url or self.base_url + PREFERENCES_PATH

    def text(self) -> str:
        organisation = self.policy.organisation
        address = ", ".join(postal_lines(organisation.postal_address.model_dump()))
        unsubscribe = (
            f"Unsubscribe: {self.unsubscribe_url}\n" if self.unsubscribe_url is not None else ""
        )
        return (
            f"\n\n-- \n{organisation.legal_name}, {address}\n"
            f"{unsubscribe}Your e-mail preferences: {self._preferences}\n"
        )

    def html(self) -> str:
        organisation = self.policy.organisation
        lines = [organisation.legal_name, *postal_lines(organisation.postal_address.model_dump())]
        address = "<br>".join(str(escape(line)) for line in lines)
        links = [f'<a href="{escape(self._preferences)}">Your e-mail preferences</a>']
        if self.unsubscribe_url is not None:
            links.insert(0, f'<a href="{escape(self.unsubscribe_url)}">Unsubscribe</a>')
        return (
            f'<hr><p style="font-size:small;color:#555">{address}</p>'
            f'<p style="font-size:small">{" · ".join(links)}</p>'
        )
