"""Who receives personal data, transfers abroad, disclosures and a sale of the business
(Art. 13(1)(e)-(f); Cal. Bus. & Prof. Code §22575(b)(1); Cal. Civ. Code 1798.110)."""

from __future__ import annotations

from keepfaith.policy.labels import BASES, MECHANISMS, ROLES
from keepfaith.policy.notice.blocks import Block, Bullets, Para, Row, Section, Table, line, strong
from keepfaith.policy.notice.context import Context
from keepfaith.policy.schema import TransferMechanism


def who_we_share_with(ctx: Context) -> Section:
    policy = ctx.policy
    if not policy.recipients:
        return Section(
            "sharing",
            "Who we share it with",
            (
                Para(
                    line("We do not share your personal data with anyone outside our organisation.")
                ),
            ),
        )
    rows = [
        Row(
            (
                line(strong(r.name)),
                line(ROLES[r.role]),
                line(r.description),
                line(ctx.country(r.country)),
                ctx.categories(r.categories),
                ctx.purpose_titles(r.purposes),
            ),
            id=f"recipient-{key}",
        )
        for key, r in policy.recipients.items()
    ]
    blocks: list[Block] = [
        Para(
            line(
                "We share personal data only with the organisations below, only the data listed, "
                "and only for the purposes listed. Service providers may use it only on our "
                "instructions, under contract."
            )
        ),
        Table(
            "Who receives personal data",
            ("Recipient", "Role", "What they do", "Country", "Data", "For"),
            tuple(rows),
        ),
    ]
    if not any(p.sale for p in policy.purposes.values()):
        blocks.append(Para(line("We do not sell your personal data.")))
    return Section("sharing", "Who we share it with", tuple(blocks))


def transfers(ctx: Context) -> Section:
    abroad = {k: r for k, r in ctx.policy.recipients.items() if ctx.abroad(r)}
    title = "Transfers outside the UK and the EEA"
    if not abroad:
        return Section(
            "transfers",
            title,
            (Para(line("We do not transfer your personal data outside the UK and the EEA.")),),
        )
    items = []
    for r in abroad.values():
        text = (
            f"{r.name} in {ctx.country(r.country)}: protected by {MECHANISMS[r.transfer_mechanism]}"
        )
        if r.transfer_mechanism is TransferMechanism.EXPLICIT_CONSENT:
            text += ", asked for each transfer after telling you its risks (Art. 49(1)(a))"
        items.append(line(text + "."))
    return Section(
        "transfers",
        title,
        (
            Para(
                line(
                    "Some recipients are in countries whose laws may protect personal data less "
                    "than UK or EU law. Each transfer is protected as follows:"
                )
            ),
            Bullets(tuple(items)),
            Para(
                line(
                    "You can ask us for a copy of these safeguards at ",
                    ctx.mail(ctx.rights_email),
                    ".",
                )
            ),
        ),
    )


def disclosures(ctx: Context) -> Section:
    policy = ctx.policy
    title = "When we may have to disclose your data"
    if not policy.disclosures:
        return Section(
            "disclosures",
            title,
            (
                Para(
                    line(
                        "We disclose personal data only as this notice describes, and when the "
                        "law requires it."
                    )
                ),
            ),
        )
    items = []
    for d in policy.disclosures.values():
        text = f"{d.description} (Basis: {BASES[d.legal_basis]}"
        text += f": {d.legitimate_interest})" if d.legitimate_interest else ")"
        items.append(line(strong(d.title), ": ", text))
    return Section(
        "disclosures",
        title,
        (
            Para(
                line(
                    "Apart from the recipients above, we disclose personal data only in these "
                    "cases:"
                )
            ),
            Bullets(tuple(items)),
            Para(
                line("We record every such disclosure, and tell you about it when the law allows.")
            ),
        ),
    )


def sale_of_business(ctx: Context) -> Section:
    text = ctx.policy.changes.ownership_change or (
        "This notice does not allow your personal data to pass to a buyer of our business. If "
        "that ever changes, we will publish a new notice first, with the notice period described "
        "under “Changes to this notice”."
    )
    return Section("sale-of-business", "If our business is sold", (Para(line(text)),))
