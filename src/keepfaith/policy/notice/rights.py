"""People's rights and how to use them (Art. 13(2)(b)-(d); Cal. Civ. Code 1798.100-1798.135;
Cal. Bus. & Prof. Code §22575(b)(2))."""

from __future__ import annotations

from collections.abc import Mapping

from keepfaith.policy.labels import VERIFICATIONS
from keepfaith.policy.notice.blocks import (
    Block,
    Bullets,
    Facts,
    Inline,
    Para,
    Piece,
    Section,
    line,
    link,
    strong,
)
from keepfaith.policy.notice.context import Context, listing
from keepfaith.policy.schema import Jurisdiction

ICO = "https://ico.org.uk/make-a-complaint/"


def _gdpr_rights(ctx: Context) -> list[Inline]:
    law = ctx.law
    return [
        line(
            strong("Access"),
            f": get a copy of your data and information about how we use it ({law} Art. 15).",
        ),
        line(
            strong("Rectification"),
            ": have inaccurate data corrected and incomplete data completed (Art. 16).",
        ),
        line(
            strong("Erasure"),
            ": have your data deleted when we no longer need it, you withdraw consent or you "
            "object (Art. 17).",
        ),
        line(
            strong("Restriction"),
            ": have us keep your data but stop using it while a question is settled (Art. 18).",
        ),
        line(
            strong("Portability"),
            ": get the data you gave us in a machine-readable format, or have it sent to another "
            "organisation (Art. 20).",
        ),
        line(
            strong("Objection"),
            ": object to uses based on our legitimate interests; for direct marketing, including "
            "profiling for it, we always stop (Art. 21).",
        ),
        line(
            strong("Automated decisions"),
            ": not to be subject to a decision based solely on automated processing that "
            "significantly affects you, and to have a person review it (Art. 22).",
        ),
        line(
            strong("Withdraw consent"),
            ": at any time, as easily as you gave it, without affecting what we did before (Art. "
            "7(3)).",
        ),
    ]


def _complaint(ctx: Context) -> Inline:
    if ctx.policy.has(Jurisdiction.UK_GDPR):
        pieces: list[Piece] = [
            strong("Complain"),
            ": you can complain to the Information Commissioner's Office (ICO), the UK "
            "supervisory authority, at ",
            link("ico.org.uk/make-a-complaint", ICO),
            " or on 0303 123 1113",
        ]
        if ctx.policy.has(Jurisdiction.EU_GDPR):
            pieces.append(
                ", or to the supervisory authority of the EU country where you live or work"
            )
        pieces.append(". We would appreciate the chance to put things right first.")
        return line(*pieces)
    authority = ctx.policy.organisation.supervisory_authority
    text = (
        ": you can complain to the data protection supervisory authority of the EU country "
        "where you live, work or where the problem arose"
    )
    text += f", or to our lead authority, {authority}." if authority else "."
    return line(strong("Complain"), text)


def your_rights(ctx: Context) -> Section:
    policy = ctx.policy
    blocks: list[Block] = []
    if policy.gdpr:
        blocks.append(Para(line("You have these rights over your personal data:")))
        blocks.append(Bullets((*_gdpr_rights(ctx), _complaint(ctx))))
    else:
        blocks.append(
            Para(
                line(
                    "You can review and correct the personal information we hold about you at "
                    "any time, unsubscribe from marketing, and ask us questions about it."
                )
            )
        )
    return Section("your-rights", "Your rights", tuple(blocks))


def using_your_rights(ctx: Context) -> Section:
    rights = ctx.policy.rights
    ways: list[Inline] = [
        line("Use our ", ctx.centre(), ": it takes requests without an account."),
        line("E-mail ", ctx.mail(ctx.rights_email), "."),
        line("Write to us at " + ctx.address(ctx.policy.organisation.postal_address) + "."),
    ]
    if rights.self_service:
        ways.insert(
            0,
            line(
                "Review and correct your details yourself in ",
                link("your account", str(rights.self_service)),
                ".",
            ),
        )
    checks = " or ".join(VERIFICATIONS[v] for v in rights.identity_verification)
    facts: list[tuple[str, Inline]] = [
        ("How we check it is you", line(f"By {checks}; we ask only for what we need to be sure.")),
        (
            "How quickly we answer",
            line(
                f"Within {rights.response_period.describe()} of receiving your request. If a "
                f"request is complex we may take up to {rights.extension.describe()} more, and "
                "we will tell you why within the first period."
            ),
        ),
        ("Cost", line(_fee(ctx))),
    ]
    if rights.staff_review:
        facts.append(
            (
                "Review",
                line("A member of our staff checks every copy of your data before we send it."),
            )
        )
    return Section(
        "using-your-rights",
        "How to use your rights",
        (Para(line("Any of these reaches us:")), Bullets(tuple(ways)), Facts(tuple(facts))),
    )


def _fee(ctx: Context) -> str:
    fee = ctx.policy.rights.fee
    if fee.flat:
        return f"We charge {fee.amount or 'a fee'} for each request."
    cases = []
    if fee.manifestly_unfounded_or_excessive:
        cases.append("requests that are manifestly unfounded or excessive")
    if fee.further_copies:
        cases.append("further copies of data we have already sent you")
    if not cases:
        return "Free."
    text = "Free, except that we may charge a reasonable fee for " + " and for ".join(cases) + "."
    if fee.amount:
        text += " " + fee.amount + ("" if fee.amount.endswith(".") else ".")
    return text


def _california_facts(ctx: Context) -> Facts:
    policy = ctx.policy
    sold = {k: p for k, p in policy.purposes.items() if p.sale}
    shared = {k: p for k, p in policy.purposes.items() if p.sharing}
    sources = sorted({c.source for c in policy.data_categories.values() if c.source})
    collected = ctx.categories(list(policy.data_categories))
    origin = "; ".join(["You, when you use our site and services", *sources]) + "."
    return Facts(
        (
            ("Categories of personal information we collect", collected),
            ("Where it comes from", line(origin)),
            ("Why we collect it", ctx.purpose_titles(list(policy.purposes))),
            ("How long we keep it", line("See “How long we keep your data” above.")),
            _disclosed(ctx, "Sold", sold),
            _disclosed(ctx, "Shared for cross-context behavioural advertising", shared),
        )
    )


def _california_rights(ctx: Context) -> Bullets:
    rights = [
        line(
            strong("Right to know"),
            ": what personal information we collect, use, disclose, sell and share, and a copy "
            "of it.",
        ),
        line(strong("Right to delete"), " the personal information we collected from you."),
        line(strong("Right to correct"), " inaccurate personal information."),
        line(
            strong("Right to opt out of sale and sharing"),
            ": use the ",
            ctx.centre("Do Not Sell or Share My Personal Information", "#do-not-sell"),
            " link, or send Global Privacy Control from your browser.",
        ),
    ]
    if any(c.special for c in ctx.policy.data_categories.values()):
        rights.append(line(strong("Right to limit"), " the use of sensitive personal information."))
    rights.append(
        line(
            strong("No discrimination"), ": we never treat you differently for using these rights."
        )
    )
    return Bullets(tuple(rights))


def california(ctx: Context) -> Section:
    intro = (
        "If you live in California, the California Consumer Privacy Act gives you these rights "
        "and this information."
    )
    timing = (
        "We confirm requests to know, delete or correct within 10 business days and answer "
        "within 45 days (up to 45 more if we tell you why). Opt-outs need no proof of identity "
        "and take effect within 15 business days at most. An authorised agent may make a "
        "request for you."
    )
    return Section(
        "california",
        "Your California privacy rights",
        (
            Para(line(intro)),
            _california_facts(ctx),
            _california_rights(ctx),
            Para(line(timing)),
        ),
    )


def _disclosed(ctx: Context, what: str, purposes: Mapping[str, object]) -> tuple[str, Inline]:
    if not purposes:
        return (
            what,
            line(f"None: we do not {'sell' if what == 'Sold' else 'share'} personal information."),
        )
    categories: list[str] = []
    recipients: list[str] = []
    for key in purposes:
        for r in ctx.recipients_of(key).values():
            if r.role.value != "processor":
                recipients.append(r.name)
                categories += [c for c in r.categories if c not in categories]
    to = listing(list(dict.fromkeys(recipients))) or "third parties"
    return (what, ctx.categories(categories) + line(f", to {to.rstrip('.')}."))
