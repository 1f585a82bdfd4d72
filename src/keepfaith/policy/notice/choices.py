"""Retention, messages, cookies, analytics and browser signals (Art. 13(2)(a); PECR regs 6 and
22; CAN-SPAM; Cal. Bus. & Prof. Code §22575(b)(5)-(7); 11 CCR §7025)."""

from __future__ import annotations

from keepfaith.policy.labels import ANALYTICS_MODES, CHANNELS, COOKIE_CATEGORIES, COOKIE_CHOICES
from keepfaith.policy.notice.blocks import (
    Block,
    Bullets,
    Inline,
    Para,
    Row,
    Section,
    Table,
    code,
    line,
    strong,
)
from keepfaith.policy.notice.context import Context
from keepfaith.policy.schema import (
    AnalyticsMode,
    Channel,
    CommunicationKind,
    CookieCategory,
    CookieChoice,
    Jurisdiction,
)


def retention(ctx: Context) -> Section:
    rows = tuple(
        Row(
            (
                ctx.purpose_titles([key]),
                line(ctx.retention(p.retention)),
                line(p.retention.reason or "As long as the purpose needs it, and no longer."),
            )
        )
        for key, p in ctx.policy.purposes.items()
    )
    return Section(
        "retention",
        "How long we keep your data",
        (
            Para(
                line(
                    "We keep personal data only as long as each purpose needs it. Then it is "
                    "deleted or made unreadable, including in backups (we destroy the key it is "
                    "encrypted with)."
                )
            ),
            Table("How long we keep personal data", ("Purpose", "How long", "Why"), rows),
        ),
    )


def messages(ctx: Context) -> Section:
    policy = ctx.policy
    mandatory = [c for c in policy.communications.values() if c.kind is CommunicationKind.MANDATORY]
    marketing = [c for c in policy.communications.values() if c.kind is CommunicationKind.MARKETING]
    blocks: list[Block] = []
    if mandatory:
        blocks.append(
            Para(
                line(
                    strong("Service messages."),
                    " These are part of the service, so you cannot opt out of them while you use "
                    "it. They never contain marketing.",
                )
            )
        )
        blocks.append(
            Bullets(tuple(_message(ctx, c.title, c.description, c.channels) for c in mandatory))
        )
    if marketing:
        blocks.append(
            Para(
                line(
                    strong("Marketing messages."),
                    " We send these only as described above, and you can stop them at any time.",
                )
            )
        )
        blocks.append(
            Bullets(tuple(_message(ctx, c.title, c.description, c.channels) for c in marketing))
        )
        blocks.append(Para(_unsubscribe(ctx)))
    if not blocks:
        blocks.append(Para(line("We do not send you messages other than replies to yours.")))
    return Section("messages", "Messages we send you", tuple(blocks))


def _message(ctx: Context, title: str, description: str, channels: list[Channel]) -> Inline:
    by = ", ".join(CHANNELS[c] for c in channels)
    return line(strong(title), f" ({by}): {description}")


def _unsubscribe(ctx: Context) -> Inline:
    text = (
        "To unsubscribe, use the link at the bottom of any marketing e-mail (your mail program "
        "may also offer a one-click “Unsubscribe” button), or change your choices in our "
    )
    end = " It is free and takes effect at once"
    if ctx.policy.has(Jurisdiction.CAN_SPAM):
        end += ", and always within 10 business days"
    return line(text, ctx.centre(), ".", end + ".")


def cookies(ctx: Context) -> Section:
    policy = ctx.policy
    title = "Cookies and similar technologies"
    if not policy.cookies:
        return Section(
            "cookies", title, (Para(line("We do not use cookies or similar technologies.")),)
        )
    rows = tuple(
        Row(
            (
                line(code(c.name)),
                line(c.provider + (" (third party)" if c.third_party else "")),
                line(COOKIE_CATEGORIES[c.category]),
                line(c.purpose),
                line(c.lifetime.describe() if c.lifetime else "Until you close your browser"),
                line(COOKIE_CHOICES[c.effective_choice]),
            ),
            id=f"cookie-{index}",
        )
        for index, c in enumerate(policy.cookies)
    )
    asked = any(c.effective_choice is not CookieChoice.NONE for c in policy.cookies)
    blocks: list[Block] = [
        Para(
            line(
                "Cookies are small files a website stores in your browser. These are all the "
                "cookies our site uses. Strictly necessary ones are needed for the site to work; "
                "we ask before setting any cookie that needs your agreement, and you can change "
                "your choices at any time in our ",
                ctx.centre(anchor="#cookies"),
                ".",
            )
        ),
        Table(
            "Cookies we use",
            ("Cookie", "Set by", "Type", "What it does", "Lasts", "Your choice"),
            rows,
        ),
    ]
    if not asked:
        blocks.append(Para(line("None of these cookies needs your agreement.")))
    return Section("cookies", title, tuple(blocks))


def analytics(ctx: Context) -> Section:
    settings = ctx.policy.analytics
    blocks: list[Block] = [Para(line(ANALYTICS_MODES[settings.mode]))]
    if settings.description:
        blocks.append(Para(line(settings.description)))
    if settings.mode is not AnalyticsMode.NONE:
        blocks.append(
            Para(
                line(
                    f"Raw measurements are kept for at most {settings.raw_retention.describe()}; "
                    "after that only totals remain, and totals never describe an individual."
                )
            )
        )
    return Section("analytics", "Measuring visits to our site", tuple(blocks))


def signals(ctx: Context) -> Section:
    trackers = [
        c
        for c in ctx.policy.cookies
        if c.third_party and c.category in (CookieCategory.ADVERTISING, CookieCategory.ANALYTICS)
    ]
    gpc = line(
        "We honour the ",
        strong("Global Privacy Control"),
        " (GPC) signal. If your browser sends it (the ",
        code("Sec-GPC: 1"),
        " header), we treat it as your request to opt out of the sale and sharing of your "
        "personal information and of targeted advertising, for that browser and for any account "
        "you are signed in to. You do not need to do anything else.",
    )
    dnt = line(
        "Browsers can also send an older “Do Not Track” signal. There is no agreed standard for "
        "what it means, so our site does not respond to it differently; Global Privacy Control "
        "does the same job and we always honour it."
    )
    if trackers:
        providers = sorted({c.provider for c in trackers})
        how = (
            "only if you agree"
            if all(c.effective_choice is CookieChoice.OPT_IN for c in trackers)
            else "unless you opt out or your browser sends Global Privacy Control"
        )
        tracking = line(
            f"Other companies ({', '.join(providers)}) can collect information about your "
            f"activity on our site over time and across other websites through the third-party "
            f"cookies listed above, {how}."
        )
    else:
        tracking = line(
            "No other company can collect information about your activity on our site over time "
            "and across other websites."
        )
    return Section(
        "signals",
        "Do Not Track, Global Privacy Control and tracking by others",
        (Para(gpc), Para(dnt), Para(tracking)),
    )
