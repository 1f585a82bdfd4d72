"""The `subject.created` records of an import are hashed from a template per batch: each must
hash exactly as the audit chain hashes it, or `keepfaith audit verify` would call it altered."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from keepfaith.audit.models import AuditEvent
from keepfaith.chain import link_hash
from keepfaith.clock import utcnow
from keepfaith.subjects.bulk import COLUMNS
from keepfaith.subjects.bulkaudit import CreatedRecords
from keepfaith.subjects.models import DataSource, SubjectKind

KINDS = [
    (("user.contact.email", "user.name"), SubjectKind.CUSTOMER, DataSource.IMPORT),
    (("user.contact.email",), SubjectKind.CUSTOMER, DataSource.IMPORT),
    (("user.contact.email", "user.name"), SubjectKind.MEMBER, DataSource.FORM),
]


@pytest.mark.parametrize(
    "actor",
    [
        "cli:operator",
        f"staff:{uuid.UUID(int=0)}",  # holds the template's placeholder: every record in full
    ],
)
def test_every_record_hashes_as_the_chain_hashes_it(actor: str) -> None:
    records = CreatedRecords(COLUMNS["audit_event"], actor=actor, reason="from the old CRM")
    for _batch in range(2):
        records.new_batch(utcnow(), lambda column, value: value)
        for _person in range(3):
            for categories, kind, source in KINDS:
                subject_id = uuid.uuid4()
                row = dict(
                    zip(
                        COLUMNS["audit_event"],
                        records.row(subject_id, subject_id, (categories, kind, source)),
                        strict=True,
                    )
                )
                assert row["hash"] == expected_hash(row)
                assert (row["stream"], row["seq"], row["prev_hash"]) == (
                    f"subject:{subject_id}",
                    1,
                    None,
                )
                assert row["details"] == {"kind": kind.value, "source": source.value}
                assert row["reason"] == "from the old CRM"


def expected_hash(row: dict[str, Any]) -> bytes:
    fields = {key: value for key, value in row.items() if key != "hash"}
    return link_hash(None, AuditEvent(**fields).chained_fields())
