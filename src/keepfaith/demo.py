"""Preparing a demo installation: the example marketplace policy and an owner to sign in with."""

from __future__ import annotations

from keepfaith.policy.service import list_versions, policy_in_force, publish
from keepfaith.policy.starters import starter_path, starter_text
from keepfaith.runtime import Runtime
from keepfaith.staff.service import create_staff, find_staff, reset_password

DEMO_OWNER = "owner@demo.example.com"


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
        f"  your account    {base}/account   (people see and correct their data)",
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
