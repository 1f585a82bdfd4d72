"""What a campaign says, and what its templates may use.

A campaign's templates (`keepfaith.mail.templating`) see two variables:

* ``person``: the recipient's data, as ``person.<field>``, where a field is the last part of a
  data category key the campaign's purpose uses (``person.name`` for ``user.name``). Only the
  purpose's categories are offered (purpose limitation): a newsletter that does not use postal
  addresses cannot print one. Each recipient's values are read from the vault for the fields the
  template names, and only those.
* ``organisation``: the business's trading name.

A person who does not hold a field gets an empty value: ``{{ person.name or "there" }}``.

The footer (who sent it, postal address, preference and unsubscribe links) is added to every
message by the mail layer; templates do not write it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keepfaith.campaigns.models import Campaign
from keepfaith.mail.compose import Draft
from keepfaith.mail.footer import postal_lines, sender_name
from keepfaith.mail.kinds import Kind, MailError, resolve_kind
from keepfaith.mail.templating import (
    MessageTemplate,
    TemplateProblem,
    attributes_used,
    check,
    render,
)
from keepfaith.policy.schema import Channel, Policy, ValueType


class CampaignError(ValueError):
    """A campaign that cannot be saved, sent or changed: ``field`` names what is wrong (a form
    field, or ``state``); the message never repeats personal data."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Fields:
    """The purpose's categories as template fields: ``{"name": "user.name", ...}``, and the
    e-mail category messages go to."""

    by_name: dict[str, str]
    email: str


def marketing_kind(policy: Policy, kind: str) -> Kind:
    """The campaign's kind: a marketing communication in the policy, with its purpose, sent by
    e-mail for a purpose that lists e-mail as a channel."""
    try:
        facts = resolve_kind(policy, kind, None)
    except MailError as exc:
        raise CampaignError("kind", exc.message) from None
    if facts.system or not facts.marketing or facts.purpose is None:
        raise CampaignError(
            "kind",
            f"{kind} is not a marketing communication: mandatory messages are not campaigns "
            "(the business's systems send them through the messages API)",
        )
    communication = policy.communications[kind]
    purpose = policy.purposes[facts.purpose]
    if Channel.EMAIL not in communication.channels or Channel.EMAIL not in purpose.channels:
        raise CampaignError("kind", f"{kind} is not sent by e-mail under the policy in force")
    return facts


def fields_for(policy: Policy, purpose: str) -> Fields:
    categories = policy.purposes[purpose].categories
    names = {key: key.rsplit(".", 1)[-1] for key in categories}
    counts = Counter(names.values())
    by_name = {name: key for key, name in names.items() if counts[name] == 1}
    emails = [k for k in categories if policy.data_categories[k].type is ValueType.EMAIL]
    if not emails:
        raise CampaignError("kind", f"the purpose {purpose} does not use an e-mail address")
    return Fields(by_name, emails[0])


def template_of(campaign: Campaign) -> MessageTemplate:
    return MessageTemplate(campaign.subject, campaign.text_template, campaign.html_template)


def check_campaign(policy: Policy, kind: str, template: MessageTemplate) -> Kind:
    """The kind's facts, or CampaignError naming the field at fault."""
    facts = marketing_kind(policy, kind)
    assert facts.purpose is not None
    fields = fields_for(policy, facts.purpose)
    try:
        check(template, {"person": fields.by_name, "organisation": ()})
        # A trial run, for what only rendering shows (the sandbox refusing an attribute).
        person = {name: f"[{name}]" for name in fields.by_name}
        render(template, {"person": person, "organisation": sender_name(policy)})
    except TemplateProblem as exc:
        raise CampaignError(exc.field, exc.message) from None
    return facts


@dataclass(frozen=True)
class Renderer:
    """A campaign ready to be written for many people: the fields its template names and their
    categories worked out once, not for every recipient."""

    template: MessageTemplate
    fields: dict[str, str | None]  # each field the template names: its category
    email: str
    organisation: str

    @classmethod
    def of(cls, policy: Policy, campaign: Campaign) -> Renderer:
        fields = fields_for(policy, campaign.purpose)
        template = template_of(campaign)
        used = attributes_used(template, "person")
        by_name = {name: fields.by_name.get(name) for name in sorted(used)}
        return cls(template, by_name, fields.email, sender_name(policy))

    def categories(self) -> list[str]:
        """Read for each recipient: the e-mail address and the fields named."""
        return sorted({self.email, *(c for c in self.fields.values() if c is not None)})

    def draft(self, values: Mapping[str, Any], placeholders: bool = False) -> Draft:
        """The campaign for one person, from their values by category (``placeholders``: a
        ``[field]`` for each value not given, for a preview or a test)."""
        person: dict[str, Any] = {}
        for name, category in self.fields.items():
            value = values.get(category) if category else None
            if value is None:
                value = f"[{name}]" if placeholders else ""
            person[name] = _shown(value)
        return render(self.template, {"person": person, "organisation": self.organisation})


def categories_used(policy: Policy, campaign: Campaign) -> list[str]:
    return Renderer.of(policy, campaign).categories()


def draft_for(
    policy: Policy, campaign: Campaign, values: Mapping[str, Any], placeholders: bool = False
) -> Draft:
    return Renderer.of(policy, campaign).draft(values, placeholders)


def _shown(value: Any) -> str:
    if isinstance(value, dict):  # a postal address
        return ", ".join(postal_lines(value))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
