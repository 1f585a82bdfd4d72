"""Consent receipts: the ISO/IEC TS 27560 fields (as the W3C DPVCG guide lists them, mandatory
ones here), a Kantara v1.1 serialisation of the live consents, the readable page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from consent.conftest import Ledger
from keepfaith.audit.actor import Actor
from keepfaith.audit.models import AuditEvent
from keepfaith.consent.ledger import history
from keepfaith.consent.receipt_page import receipt_html
from keepfaith.consent.receipts import consent_receipt
from keepfaith.consent.service import Evidence

MANDATORY = {
    "receipt": ["schema_version", "receipt_id", "pii_principal_id", "parties", "records"],
    "record": ["record_id", "processing", "event"],
    "processing": [
        "privacy_notice",
        "language",
        "purposes",
        "lawful_basis",
        "pii_information",
        "pii_controllers",
        "storage_locations",
        "retention_period",
        "jurisdiction",
        "recipient_third_parties",
        "withdrawal_method",
    ],
    "purpose": ["purpose"],
    "pii": ["pii_type"],
    "party": ["party_id", "party_address", "party_name", "party_contact", "party_type"],
    "event": ["event_time", "validity_duration", "entity_id", "event_type", "event_state"],
    "kantara": [
        "version",
        "jurisdiction",
        "consentTimestamp",
        "collectionMethod",
        "consentReceiptID",
        "language",
        "piiPrincipalId",
        "piiControllers",
        "policyUrl",
        "services",
        "sensitive",
        "spiCat",
    ],
    "controller": ["piiController", "onBehalf", "contact", "address", "email", "phone"],
    "service": ["service", "purposes"],
    "kantara_purpose": [
        "purpose",
        "purposeCategory",
        "consentType",
        "piiCategory",
        "primaryPurpose",
        "termination",
        "thirdPartyDisclosure",
    ],
}


def shape_problems(receipt: dict[str, Any]) -> list[str]:
    problems: list[str] = []

    def need(where: str, node: dict[str, Any], kind: str) -> None:
        problems.extend(f"{where}.{f}" for f in MANDATORY[kind] if f not in node)
        problems.extend(
            f"{where}.{f} is empty"
            for f in MANDATORY[kind]
            if f in node and node[f] in ("", None) and kind != "controller"
        )

    need("receipt", receipt, "receipt")
    for i, party in enumerate(receipt["parties"]):
        need(f"parties[{i}]", party, "party")
    for i, record in enumerate(receipt["records"]):
        need(f"records[{i}]", record, "record")
        need(f"records[{i}].processing", record["processing"], "processing")
        need(f"records[{i}].event", record["event"], "event")
        for j, purpose in enumerate(record["processing"]["purposes"]):
            need(f"records[{i}].purposes[{j}]", purpose, "purpose")
        for j, pii in enumerate(record["processing"]["pii_information"]):
            need(f"records[{i}].pii_information[{j}]", pii, "pii")
    kantara = receipt["kantara"]
    need("kantara", kantara, "kantara")
    for i, controller in enumerate(kantara["piiControllers"]):
        need(f"kantara.piiControllers[{i}]", controller, "controller")
    for i, service in enumerate(kantara["services"]):
        need(f"kantara.services[{i}]", service, "service")
        for j, purpose in enumerate(service["purposes"]):
            need(f"kantara.services[{i}].purposes[{j}]", purpose, "kantara_purpose")
    return problems


def test_a_receipt_has_every_mandatory_field_and_matches_the_ledger(ledger: Ledger) -> None:
    jane = ledger.person()
    ledger.record(jane, "newsletter", "given", evidence=Evidence(form_id="signup-v3"))
    ledger.record(jane, "promotions", "given")
    ledger.record(jane, "promotions", "withdrawn")
    ledger.record(jane, "personalised_offers", "given")
    with ledger.db.transaction() as session:
        receipt = consent_receipt(
            session, ledger.policy, jane, actor=Actor.subject(jane), base_url="https://p.example"
        )
        events = history(session, jane)
    assert shape_problems(receipt) == []
    assert receipt["dct:conformsTo"] == "https://w3id.org/dpv/schema/dpv-27560"
    records = {r["record_id"].split(":")[1]: r for r in receipt["records"]}
    assert sorted(records) == ["newsletter", "personalised_offers", "promotions"]
    newsletter = records["newsletter"]
    assert newsletter["event"]["event_state"] == "https://w3id.org/dpv#ConsentGiven"
    assert newsletter["processing"]["lawful_basis"] == "https://w3id.org/dpv#Consent"
    assert (
        newsletter["processing"]["purposes"][0]["purpose"] == "https://w3id.org/dpv#DirectMarketing"
    )
    assert newsletter["processing"]["collection_method"] == "signup-v3"
    assert newsletter["event"]["text_sha256"] == ledger.shown("newsletter")["text_sha256"]
    assert records["promotions"]["event"]["event_state"] == "https://w3id.org/dpv#ConsentWithdrawn"
    assert receipt["ledger"] == {
        "stream": f"subject:{jane}",
        "seq": 4,
        "head_hash": events[-1].hash.hex(),
    }
    assert [h["hash"] for h in receipt["history"]] == [e.hash.hex() for e in events]
    kantara = receipt["kantara"]
    assert kantara["version"] == "KI-CR-v1.1.0"
    assert kantara["consentTimestamp"] == int(events[-1].at.timestamp())
    live = [p["purpose"] for p in kantara["services"][0]["purposes"]]
    assert live == [
        "The GigPros Newsletter",
        "Personalised offers from us and our business partners",
    ]


def test_the_receipt_id_is_the_ledger_state(ledger: Ledger) -> None:
    jane = ledger.person()
    ledger.record(jane, "newsletter", "given")

    def receipt_id() -> str:
        with ledger.db.transaction() as session:
            made = consent_receipt(session, ledger.policy, jane, actor=Actor.subject(jane))
            return str(made["receipt_id"])

    first = receipt_id()
    assert receipt_id() == first  # the same ledger state, the same receipt
    ledger.record(jane, "newsletter", "withdrawn")
    assert receipt_id() != first


def test_the_readable_receipt(ledger: Ledger) -> None:
    jane = ledger.person()
    ledger.record(jane, "newsletter", "given")
    ledger.record(jane, "newsletter", "withdrawn", source="email_link", channel="email")
    with ledger.db.transaction() as session:
        receipt = consent_receipt(session, ledger.policy, jane, actor=Actor.subject(jane))
    html = str(receipt_html(receipt))
    assert "<table>" in html and "The GigPros Newsletter" in html
    assert "You withdrew or refused" in html
    assert "a link in an e-mail" in html
    assert receipt["ledger"]["head_hash"] in html


def test_the_receipt_over_the_api_is_audited(
    client: TestClient, ledger: Ledger, api_key: Callable[[str], dict[str, str]]
) -> None:
    jane = ledger.person()
    ledger.record(jane, "newsletter", "given")
    key = api_key("customer_service")
    response = client.get(f"/api/v1/subjects/{jane}/consent-receipt", headers=key)
    assert response.status_code == 200, response.text
    assert shape_problems(response.json()) == []
    page = client.get(f"/api/v1/subjects/{jane}/consent-receipt?format=html", headers=key)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Your consent receipt" in page.text
    with ledger.db.reader() as session:
        issued = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "consent.receipt_issued")
        ).all()
    assert [a.subject_id for a in issued] == [jane, jane]
