"""Header fields for composing at campaign speed: made once per name, and written exactly as
given where the email package must not refold them.

CPython's `email.headerregistry.HeaderRegistry` builds a new class for every header it parses
(``type(...)`` in ``__getitem__``): half the time of composing a message went there.
`POLICY` is `email.policy.default` with a registry that builds each class once.

`email.policy.default` refolds any header line longer than 78 characters, and a token it cannot
break (a URL in List-Unsubscribe, a DKIM signature's base64) it turns into RFC 2047 encoded
words: ``=?utf-8?q?=3Chttps=3A//...?=``, which no mailbox provider reads as a URL, and which
breaks a DKIM signature. RFC 5322 §2.1.1 only *recommends* 78; the limit is 998.
"""

from __future__ import annotations

from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import Policy, default


class HeaderClasses(HeaderRegistry):
    """The standard registry, with the class it makes for each header name kept."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


POLICY = default.clone(header_factory=HeaderClasses())


class Verbatim(str):
    """A header value that folds to exactly its lines (continuation lines start with a space).
    Reading it back gives the value unfolded, as for any header."""

    name: str
    lines: tuple[str, ...]

    def __new__(cls, name: str, lines: list[str]) -> Verbatim:
        for line in lines:
            if "\r" in line or "\n" in line or len(line) > 900:
                raise ValueError("a header line is one line, at most 900 characters")
        value = super().__new__(cls, "".join(lines))
        value.name = name
        value.lines = tuple(lines)
        return value

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: " + policy.linesep.join(self.lines) + policy.linesep


def add_verbatim(message: EmailMessage, name: str, lines: list[str]) -> None:
    """Add the header ``name`` to ``message``, to be written as ``lines`` (after any others)."""
    # set_raw stores the value as it is; the generator then asks the value to fold itself.
    message.set_raw(name, Verbatim(name, lines))
