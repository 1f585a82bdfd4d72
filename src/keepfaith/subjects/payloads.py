"""What ``/api/v1/subjects`` accepts and answers, as documented in the OpenAPI document."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from keepfaith.subjects.models import DataSource, SubjectKind, SubjectStatus
from keepfaith.subjects.records import SubjectSummary, SubjectView


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SubjectKind = Field(description="What the person is to the business.")
    data: dict[str, Any] = Field(
        description="Values by data category key of the policy in force, e.g. "
        '`{"user.contact.email": "jane@example.com"}`. Addresses are objects with street, '
        "locality, region, postal_code and country.",
    )
    source: DataSource = Field(DataSource.API, description="Where the values came from.")
    purposes: dict[str, list[str]] | None = Field(
        None,
        description="Per category, the purposes it was collected for (default: every purpose "
        "of the policy that uses the category).",
    )


class CreatedOut(BaseModel):
    id: uuid.UUID
    version: int = Field(description="Starts at 1; every change adds one (see If-Match).")


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: dict[str, Any] = Field(
        description="Values to correct or add, by category; `null` deletes a category."
    )
    reason: str = Field(
        max_length=300,
        description="Why the data changes (e.g. 'customer called to correct their address'). "
        "Kept with each change; do not put personal data in it.",
    )
    expected_version: int | None = Field(
        None, description="The version you read: the change is refused (409) if it moved on."
    )
    source: DataSource = Field(DataSource.API, description="Where the new values came from.")


class LookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(None, max_length=320, description="An e-mail address.")
    phone: str | None = Field(
        None,
        max_length=64,
        description="A phone number; without a country code, the "
        "organisation's country is assumed.",
    )
    reason: str = Field(max_length=300, description="Why you are looking the person up.")


class FoundOut(BaseModel):
    id: uuid.UUID


class DatumOut(BaseModel):
    title: str = Field(description="The category's title in the policy.")
    value: Any = Field(description="The value; null when masked.")
    masked: bool = Field(description="Held, but the caller's role may not see it.")
    source: DataSource
    purposes: list[str] = Field(description="Purposes this value serves.")
    collected_at: datetime
    confirmed_at: datetime | None
    updated_at: datetime


class SummaryOut(BaseModel):
    id: uuid.UUID
    kind: SubjectKind
    status: SubjectStatus
    version: int
    created_at: datetime
    updated_at: datetime


class SubjectOut(SummaryOut):
    data: dict[str, DatumOut] = Field(description="Data categories held, by key.")


class PageOut(BaseModel):
    items: list[SummaryOut]
    total: int = Field(description="How many people match the filters.")
    limit: int
    offset: int
    next_offset: int | None = Field(
        description="Pass as offset for the next page; null at the end."
    )


def summary_out(row: SubjectSummary) -> SummaryOut:
    return SummaryOut(
        id=row.id,
        kind=row.kind,
        status=row.status,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def subject_out(view: SubjectView) -> SubjectOut:
    return SubjectOut(
        **summary_out(view).model_dump(),
        data={
            key: DatumOut(
                title=d.title,
                value=d.value,
                masked=d.masked,
                source=d.source,
                purposes=list(d.purposes),
                collected_at=d.collected_at,
                confirmed_at=d.confirmed_at,
                updated_at=d.updated_at,
            )
            for key, d in view.data.items()
        },
    )
