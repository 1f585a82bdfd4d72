"""Who is acting, as the service layer sees it (no HTTP here).

The web layer turns a signed-in `Principal` into an `Actor`; jobs, imports and the subject
themselves have actors too. An actor carries what its role may see, so services can mask and
audit without knowing where the call came from.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum


class ActorKind(StrEnum):
    STAFF = "staff"
    API_KEY = "api_key"
    SUBJECT = "subject"  # the person the data is about, signed in to My Account
    JOB = "job"
    CLI = "cli"  # an operator at the command line (on the server, with the keyring)
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str  # uuid of the staff member / key / subject, job id, or a short name ("import")
    role: str | None = None
    categories: frozenset[str] = field(default_factory=frozenset)
    purposes: frozenset[str] = field(default_factory=frozenset)
    all_categories: bool = False

    @property
    def label(self) -> str:
        """How the actor is named in records: ``staff:<uuid>``, ``job:42``. Never an e-mail."""
        return f"{self.kind.value}:{self.id}"

    def may_see(self, category: str) -> bool:
        return self.all_categories or category in self.categories

    @classmethod
    def system(cls, name: str = "keepfaith") -> Actor:
        return cls(ActorKind.SYSTEM, name, all_categories=True)

    @classmethod
    def cli(cls) -> Actor:
        return cls(ActorKind.CLI, "operator", all_categories=True)

    @classmethod
    def from_label(cls, label: str) -> Actor:
        """The actor named ``staff:<id>``, ``cli:operator``, ...; anything else is the system."""
        kind, _, ident = label.partition(":")
        try:
            return cls(ActorKind(kind), ident or kind)
        except ValueError:
            return cls.system(label)

    @classmethod
    def subject(cls, subject_id: uuid.UUID) -> Actor:
        """The person themselves: they may see everything held about them."""
        return cls(ActorKind.SUBJECT, str(subject_id), all_categories=True)
