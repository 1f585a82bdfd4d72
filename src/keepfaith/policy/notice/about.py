"""Who we are, what data we collect and what we use it for (Art. 13(1)(a)-(d), 13(2)(e)-(f),
Art. 14(1)(d), 14(2)(f); Cal. Bus. & Prof. Code §22575(b)(1))."""

from __future__ import annotations

from keepfaith.policy.labels import ARTICLES, BASES, CHANNELS, JURISDICTIONS
from keepfaith.policy.notice.blocks import (
    Block,
    Facts,
    Inline,
    Para,
    Piece,
    Row,
    Section,
    Table,
    code,
    line,
    link,
    strong,
)
from keepfaith.policy.notice.context import Context, category_anchor, listing
from keepfaith.policy.schema import Channel, Contact, LegalBasis, Purpose


def _contact_line(ctx: Context, contact: Contact) -> Inline:
    pieces: list[Piece] = []
    if contact.name:
        pieces.append(f"{contact.name}, ")
    pieces.append(ctx.mail(str(contact.email)))
    if contact.phone:
        pieces.append(f", {contact.phone}")
    if contact.postal_address:
        pieces.append(", " + ctx.address(contact.postal_address))
    return line(*pieces)


def who_we_are(ctx: Context) -> Section:
    org = ctx.policy.organisation
    facts: list[tuple[str, Inline]] = [
        (
            "Organisation",
            line(
                org.legal_name + (f" (trading as {org.trading_name})" if org.trading_name else "")
            ),
        ),
        ("Address", line(ctx.address(org.postal_address))),
        ("Contact", _contact_line(ctx, org.contact)),
        ("Website", line(link(ctx.website, ctx.website))),
    ]
    if org.dpo:
        facts.append(("Data protection officer", _contact_line(ctx, org.dpo)))
    if org.representative:
        facts.append(("Our representative (Art. 27)", _contact_line(ctx, org.representative)))
    if org.registration:
        facts.append(("Registration", line(org.registration)))
    if ctx.policy.gdpr:
        opening = (
            f"{org.legal_name} is the controller of your personal data: we decide why and how "
            "it is used, and we are responsible for it under data protection law."
        )
    else:
        opening = (
            f"This notice explains how {org.legal_name} collects, uses and shares personal "
            f"information."
        )
    laws = [JURISDICTIONS[j] for j in ctx.policy.jurisdictions]
    if ctx.policy.us_site:
        laws.append("California Online Privacy Protection Act (CalOPPA)")
    meets = listing([f"the {law}" for law in laws])
    scope = f"This notice covers {ctx.website}. It is written to meet {meets}."
    return Section(
        "who-we-are",
        "Who we are",
        (Para(line(opening)), Facts(tuple(facts)), Para(line(scope))),
    )


def data_we_collect(ctx: Context) -> Section:
    policy = ctx.policy
    rows = []
    for key, category in policy.data_categories.items():
        description = category.description or ""
        if category.special:
            description += " Special category data: used only with your explicit consent."
        if category.criminal:
            description += " Criminal-offence data: handled under a legal condition named below."
        rows.append(
            Row(
                (
                    line(strong(category.title), " ", code(key)),
                    line(description.strip()),
                    line("Required" if category.required else "Optional"),
                    line(category.source or "You"),
                ),
                id=category_anchor(key),
            )
        )
    required = [k for k, c in policy.data_categories.items() if c.required]
    blocks: list[Block] = [
        Para(line("These are all the kinds of personal data we hold about you.")),
        Table(
            "Personal data we collect",
            ("Data", "What it is", "Required?", "Where it comes from"),
            tuple(rows),
        ),
    ]
    if required:
        blocks.append(
            Para(
                line(
                    "Data marked “Required” is needed to provide our service or to meet a legal "
                    "or contractual requirement: without it we cannot do what you ask (for "
                    "example, take your order). Everything else is optional, and refusing it "
                    "never stops you using the service."
                )
            )
        )
    else:
        blocks.append(Para(line("Giving us any of this data is optional.")))
    return Section("data-we-collect", "The personal data we collect", tuple(blocks))


def _basis(ctx: Context, purpose: Purpose) -> Inline:
    label = BASES[purpose.legal_basis]
    text = label[0].upper() + label[1:]
    if ctx.policy.gdpr:
        text += f" ({ctx.law} {ARTICLES[purpose.legal_basis]})"
    if purpose.explicit_consent:
        text += ", given explicitly (Art. 9(2)(a))" if ctx.policy.gdpr else ", given explicitly"
    return line(text)


def _purpose_facts(ctx: Context, key: str, purpose: Purpose) -> Facts:
    facts: list[tuple[str, Inline]] = [("Legal basis", _basis(ctx, purpose))]
    if purpose.legal_basis is LegalBasis.LEGITIMATE_INTERESTS and purpose.legitimate_interest:
        facts.append(("Our legitimate interest", line(purpose.legitimate_interest)))
    if purpose.condition:
        facts.append(("Legal condition for criminal-offence data", line(purpose.condition)))
    facts.append(("Data used", ctx.categories(purpose.categories)))
    facts.append(("How long we keep it", line(ctx.retention(purpose.retention))))
    if purpose.retention.reason:
        facts.append(("Why that long", line(purpose.retention.reason)))
    contact_by = [CHANNELS[c] for c in purpose.channels if c is not Channel.WEB]
    if contact_by:
        facts.append(("How we contact you", line(", ".join(contact_by))))
    recipients = ctx.recipients_of(key)
    if recipients:
        names = [link(r.name, f"#recipient-{k}") for k, r in recipients.items()]
        pieces: list[Piece] = []
        for index, name in enumerate(names):
            pieces += [", "] if index else []
            pieces.append(name)
        facts.append(("Shared with", line(*pieces)))
    else:
        facts.append(("Shared with", line("Nobody outside our organisation")))
    return Facts(tuple(facts))


def _purpose_notes(ctx: Context, purpose: Purpose) -> list[str]:
    notes = []
    if ctx.consent_based(purpose):
        notes.append(
            "You can withdraw your consent at any time, as easily as you gave it; this does not "
            "affect what we did before."
        )
    if purpose.marketing:
        notes.append(
            "This is marketing: you can object or unsubscribe at any time, and we will stop."
        )
    if purpose.soft_opt_in:
        notes.append(
            "We use this only for customers who did not refuse it when they bought from us, and "
            "only for our own similar products; every message lets you refuse further ones, free."
        )
    if purpose.sale:
        notes.append(
            "This is a sale of personal information under California law; you can opt out."
        )
    if purpose.sharing:
        notes.append(
            "This is sharing for cross-context behavioural advertising under California law; "
            "you can opt out."
        )
    if purpose.targeted_advertising:
        notes.append("This uses your data to choose adverts for you.")
    if purpose.profiling or purpose.automated_decision:
        notes.append(
            "This involves profiling or automated decisions: see “Automated decisions and "
            "profiling”."
        )
    return notes


def how_we_use_it(ctx: Context) -> Section:
    children = []
    for key, purpose in ctx.policy.purposes.items():
        blocks: list[Block] = [Para(line(purpose.description)), _purpose_facts(ctx, key, purpose)]
        blocks += [Para(line(note)) for note in _purpose_notes(ctx, purpose)]
        children.append(Section(f"purpose-{key}", purpose.title, tuple(blocks), level=3))
    intro = "We use your personal data only for the purposes below"
    intro += ", each with its legal basis." if ctx.policy.gdpr else "."
    return Section(
        "how-we-use-it", "How we use your data and why", (Para(line(intro)),), tuple(children)
    )


def automated_decisions(ctx: Context) -> Section:
    title = "Automated decisions and profiling"
    profiled = {k: p for k, p in ctx.policy.purposes.items() if p.profiling or p.automated_decision}
    if not profiled:
        text = (
            "We do not make decisions about you by automated means alone, and we do not profile "
            "you."
        )
        return Section("automated-decisions", title, (Para(line(text)),))
    children = []
    for key, purpose in profiled.items():
        facts: list[tuple[str, Inline]] = [("Purpose", ctx.purpose_titles([key]))]
        decision = purpose.automated_decision
        if decision:
            facts += [
                ("What is decided", line(decision.description)),
                ("How it works", line(decision.logic)),
                ("What it means for you", line(decision.significance)),
            ]
        else:
            facts.append(
                (
                    "What it involves",
                    line("Profiling: we analyse your data to understand your interests."),
                )
            )
        children.append(Section(f"decision-{key}", purpose.title, (Facts(tuple(facts)),), level=3))
    rights = ["You can object to profiling for marketing at any time, and we will stop."]
    if any(p.automated_decision for p in profiled.values()):
        rights.append(
            "Where a decision is made by automated means, you can ask a person to review it, "
            "give your point of view and contest the decision"
            + (f" ({ctx.law} Art. 22)." if ctx.policy.gdpr else ".")
        )
    intro = Para(
        line(
            "These uses involve profiling or decisions made by automated means. " + " ".join(rights)
        )
    )
    return Section("automated-decisions", title, (intro,), tuple(children))
