"""Preparing a demo installation: the example marketplace policy and an owner to sign in with."""

from __future__ import annotations

from sqlalchemy.orm import Session

from keepfaith.audit.actor import Actor
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import list_versions, policy_in_force, publish
from keepfaith.policy.starters import starter_path, starter_text
from keepfaith.runtime import Runtime
from keepfaith.staff.service import create_staff, find_staff, reset_password
from keepfaith.subjects.service import count_subjects, create_subject

DEMO_OWNER = "owner@demo.example.com"

# Fictional people for the tour (example.com addresses never reach anyone).
DEMO_PEOPLE: tuple[dict[str, object], ...] = (
    {
        "user.name": "Jane Doe",
        "user.contact.email": "jane@demo.example.com",
        "user.contact.phone": "+1 415 555 0100",
        "user.account.username": "janeplays",
        "user.content.profile": "Session bassist, fretless and upright; Bay Area.",
    },
    {
        "user.name": "Sam Rivera",
        "user.contact.email": "sam@demo.example.com",
        "user.contact.address": {
            "street": "12 Harbor Way",
            "locality": "Oakland",
            "region": "CA",
            "postal_code": "94607",
            "country": "US",
        },
        "user.financial.payment_reference": "ch_demo_0001",
    },
    {
        "user.name": "Lee Chen",
        "user.contact.email": "lee@demo.example.com",
        "user.preferences.interests": "jazz, studio sessions",
    },
)


def _demo_people(session: Session, runtime: Runtime, policy: Policy) -> None:
    """A few fictional people, so the console's People pages and My Account have someone."""
    if count_subjects(session):
        return
    for data in DEMO_PEOPLE:
        usable = {key: value for key, value in data.items() if key in policy.data_categories}
        create_subject(
            session,
            runtime.keyring,
            policy,
            kind="customer",
            data=usable,
            source="import",
            actor=Actor.system("demo"),
        )


def prepare_demo(runtime: Runtime) -> list[str]:
    """Publish the example policy (first run only) and give the demo owner a fresh one-time
    password. Returns the lines to print."""
    with runtime.db.transaction() as session:
        published_now = not list_versions(session)
        if published_now:
            publish(
                session,
                starter_text("marketplace"),
                source_name=starter_path("marketplace").name,
                published_by="demo",
            )
        policy = policy_in_force(session)
        if policy is not None and published_now:
            _demo_people(session, runtime, policy)
        owner = find_staff(session, DEMO_OWNER)
        if owner is None:
            owner, password = create_staff(
                session, email=DEMO_OWNER, display_name="Demo Owner", role="owner", policy=policy
            )
        else:
            password = reset_password(session, owner)
        has_second_factor = owner.has_second_factor
    base = runtime.settings.base_url
    organisation = policy.organisation.legal_name if policy else "(no policy in force)"
    policy_line = (
        "example marketplace policy, published now" if published_now else "as published before"
    )
    lines = [
        f"keepfaith demo for {organisation}",
        f"  data folder     {runtime.settings.data_dir.resolve()}",
        f"  policy          {policy_line}",
        f"  privacy notice  {base}/privacy",
        f"  your account    {base}/account   (people see and correct their data;",
        f"                  try {DEMO_PEOPLE[0]['user.contact.email']})",
        f"  API reference   {base}/api/docs",
        f"  console         {base}/console",
        f"    sign in as    {DEMO_OWNER}",
        f"    password      {password}   (one-time: you will choose your own)",
    ]
    if not has_second_factor:
        lines.append("    then set up two-factor sign-in with any authenticator app (owners must)")
    if runtime.settings.mail_transport == "outbox":
        lines.append(f"  e-mail          not sent: read it at {base}/console/messages/outbox")
    lines.append("Press Ctrl+C to stop.")
    return lines
