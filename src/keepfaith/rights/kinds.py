"""The kinds of rights request, and the laws behind them (UK/EU GDPR Arts. 15–21)."""

from __future__ import annotations

from enum import StrEnum


class RequestKind(StrEnum):
    ACCESS = "access"  # Art. 15: a copy of the data and the facts about its use
    PORTABILITY = "portability"  # Art. 20: the data in a machine-readable form
    RECTIFICATION = "rectification"  # Art. 16
    ERASURE = "erasure"  # Art. 17
    RESTRICTION = "restriction"  # Art. 18
    OBJECTION = "objection"  # Art. 21


TITLES: dict[RequestKind, str] = {
    RequestKind.ACCESS: "See a copy of your data",
    RequestKind.PORTABILITY: "Take your data elsewhere",
    RequestKind.RECTIFICATION: "Correct your data",
    RequestKind.ERASURE: "Delete your data",
    RequestKind.RESTRICTION: "Restrict how your data is used",
    RequestKind.OBJECTION: "Object to how your data is used",
}
