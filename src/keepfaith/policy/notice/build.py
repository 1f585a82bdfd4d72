"""Assembling the whole notice, in the order a reader needs it."""

from __future__ import annotations

from datetime import datetime

from keepfaith.policy.notice import about, choices, rights, sharing
from keepfaith.policy.notice.blocks import (
    Block,
    Bullets,
    Facts,
    Inline,
    Notice,
    Para,
    Section,
    line,
    link,
)
from keepfaith.policy.notice.context import VERSIONS, Context, human_date
from keepfaith.policy.schema import Jurisdiction, Policy


def security(ctx: Context) -> Section:
    measures = ctx.policy.security
    blocks: list[Block] = (
        [
            Para(
                line(
                    "We protect personal data with technical and organisational measures, "
                    "including:"
                )
            ),
            Bullets(tuple(line(m) for m in measures)),
        ]
        if measures
        else [
            Para(
                line(
                    "We protect personal data with technical and organisational measures suited "
                    "to the risk."
                )
            ),
        ]
    )
    return Section("security", "How we protect your data", tuple(blocks))


def changes(ctx: Context) -> Section:
    settings = ctx.policy.changes
    text = (
        "When we change this notice we publish the new version here, and every earlier version "
        "with what changed is kept at "
    )
    blocks: list[Block] = [Para(line(text, link("earlier versions", ctx.url(VERSIONS)), "."))]
    material = (
        "A material change is one that lets us do more with your data or protect it less: a new "
        "purpose, more kinds of data, a new recipient or country, keeping data longer or a "
        "different legal basis. We post material changes here at least "
        f"{settings.notice_period.describe()} before they take effect"
    )
    material += ", and e-mail account holders about them." if settings.notify_by_email else "."
    blocks.append(Para(line(material)))
    if settings.material_requires_consent:
        blocks.append(
            Para(
                line(
                    "Where a use is based on your consent, we ask for your consent again before "
                    "a material change applies to you."
                )
            )
        )
    blocks.append(
        Para(
            line(
                f"After any change, the link to this notice is marked “Updated” for "
                f"{settings.updated_badge.describe()}."
            )
        )
    )
    return Section("changes", "Changes to this notice", tuple(blocks))


def contact(ctx: Context) -> Section:
    org = ctx.policy.organisation
    facts: list[tuple[str, Inline]] = [
        ("Privacy questions and requests", line(ctx.mail(ctx.rights_email)))
    ]
    if str(org.contact.email) != ctx.rights_email:
        facts.append(("General enquiries", line(ctx.mail(str(org.contact.email)))))
    if org.contact.phone:
        facts.append(("Phone", line(org.contact.phone)))
    if org.dpo:
        facts.append(("Data protection officer", line(ctx.mail(str(org.dpo.email)))))
    facts.append(("Post", line(org.legal_name + ", " + ctx.address(org.postal_address))))
    return Section("contact", "Contact us", (Facts(tuple(facts)),))


def _sections(ctx: Context) -> list[Section]:
    policy = ctx.policy
    sections = [
        about.who_we_are(ctx),
        about.data_we_collect(ctx),
        about.how_we_use_it(ctx),
        about.automated_decisions(ctx),
        sharing.who_we_share_with(ctx),
    ]
    if policy.gdpr:
        sections.append(sharing.transfers(ctx))
    sections += [
        sharing.disclosures(ctx),
        sharing.sale_of_business(ctx),
        choices.retention(ctx),
        choices.messages(ctx),
        choices.cookies(ctx),
        choices.analytics(ctx),
        choices.signals(ctx),
        rights.your_rights(ctx),
    ]
    if policy.has(Jurisdiction.CCPA):
        sections.append(rights.california(ctx))
    sections += [rights.using_your_rights(ctx), security(ctx), changes(ctx), contact(ctx)]
    return sections


def build_notice(
    policy: Policy,
    *,
    effective_at: datetime | None = None,
    version: int | None = None,
    base_url: str = "",
) -> Notice:
    """The notice for ``policy``; ``effective_at`` None marks a draft (not yet published)."""
    ctx = Context(policy, base_url)
    effective = human_date(effective_at) if effective_at else None
    if effective:
        status = f"This notice is effective from {effective}"
        status += f" (version {version})." if version else "."
    else:
        status = "Draft: this notice has not been published, so it is not in force."
    intro: tuple[Block, ...] = (
        Para(
            line(
                f"This notice explains what personal data {ctx.name} collects, what we use it "
                "for, who we share it with, how long we keep it, and your rights."
            )
        ),
        Para(line(status)),
    )
    return Notice(
        title=f"{ctx.name} privacy notice",
        organisation=ctx.name,
        effective=effective,
        effective_iso=effective_at.date().isoformat() if effective_at else None,
        version=version,
        intro=intro,
        sections=tuple(_sections(ctx)),
        language=policy.language,
    )


__all__ = ["Facts", "build_notice"]
