"""The footer every message carries, mandatory ones included: who sent it, from which postal
address (CAN-SPAM 15 U.S.C. 7704(a)(5)(A)(iii)), and where to manage preferences (the seed
promises "every communication"): the person's own signed link when the message has a subject
(`keepfaith.preferences.links`), else the signed-in page."""

from __future__ import annotations

from collections.abc import Mapping

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


def footer_text(policy: Policy, base_url: str, preferences_url: str | None = None) -> str:
    organisation = policy.organisation
    address = ", ".join(postal_lines(organisation.postal_address.model_dump()))
    return (
        f"\n\n-- \n{organisation.legal_name}, {address}\n"
        f"Your e-mail preferences: {preferences_url or base_url + PREFERENCES_PATH}\n"
    )


def footer_html(policy: Policy, base_url: str, preferences_url: str | None = None) -> str:
    from markupsafe import escape

    organisation = policy.organisation
    lines = [organisation.legal_name, *postal_lines(organisation.postal_address.model_dump())]
    address = "<br>".join(str(escape(line)) for line in lines)
    link = escape(preferences_url or f"{base_url}{PREFERENCES_PATH}")
    return (
        '<hr><p style="font-size:small;color:#555">'
        f'{address}</p><p style="font-size:small"><a href="{link}">Your e-mail preferences</a></p>'
    )
