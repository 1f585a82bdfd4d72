"""The consent receipt as a page a person can read (the preference centre shows it; the API
gives it with ``?format=html``). Same data as the JSON receipt, in words."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup

from keepfaith.web.templates import make_environment

STATUS_WORDS = {
    "given": "You agreed",
    "requested": "Waiting for you to confirm",
    "withdrawn": "You withdrew or refused",
    "objected": "You objected",
    "gpc": "Opted out by your browser's Global Privacy Control",
    "expired": "Expired",
    "soft_opt_in": "Offers for customers: you did not refuse (you can at any time)",
}
ACTION_WORDS = {
    "given": "agreed",
    "renewed": "agreed again",
    "requested": "asked to sign up (confirmation pending)",
    "withdrawn": "withdrew or refused",
    "objected": "objected",
    "gpc-signal": "browser sent Global Privacy Control",
    "expired": "expired",
    "soft-opt-in": "bought from us and did not refuse offers",
}
SOURCE_WORDS = {
    "web_form": "a form on the website",
    "email_link": "a link in an e-mail",
    "one_click": "the unsubscribe button of your mailbox",
    "mailto": "an e-mail you sent to our unsubscribe address",
    "api": "the shop's systems",
    "import": "an import of earlier records",
    "gpc": "your browser's Global Privacy Control setting",
    "staff": "our staff, at your request",
    "system": "automatically",
}

_env = make_environment()


def _when(text: str) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return f"{moment:%d %B %Y, %H:%M} UTC"


def receipt_html(receipt: dict[str, Any]) -> Markup:
    """The receipt as an HTML fragment (a ``<section>``), to place inside a page."""
    template = _env.get_template("consent/_receipt.html")
    titles = {}
    for record in receipt["records"]:
        purpose = record["processing"]["purposes"][0]
        titles[purpose["purpose_id"]] = purpose.get("title") or purpose["purpose_id"]
    html = template.render(
        receipt=receipt,
        controller=receipt["parties"][0],
        titles=titles,
        status_words=STATUS_WORDS,
        action_words=ACTION_WORDS,
        source_words=SOURCE_WORDS,
        when=_when,
    )
    return Markup(html)  # noqa: S704 - rendered by an autoescaping environment
