"""Persona staff, so that authorisation tests read as sentences.

alice  owner (two-factor on)          bob    customer_service
carol  billing                        dave   marketing (sees no individual's data)
erin   dpo (two-factor on)            frank  disabled account

Sign-in goes through the real pages: password form, then the authenticator code computed from
the persona's TOTP secret.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pyotp
from fastapi import FastAPI
from sqlalchemy import update
from starlette.testclient import TestClient

from keepfaith.clock import utcnow
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.staff import totp
from keepfaith.staff.models import StaffMember
from keepfaith.staff.service import create_staff, disable_staff

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Persona:
    id: uuid.UUID
    name: str
    email: str
    role: str
    password: str
    totp_secret: str | None

    def code(self) -> str:
        assert self.totp_secret is not None, f"{self.name} has no second factor"
        return pyotp.TOTP(self.totp_secret).now()


class Staffroom:
    """Creates persona accounts in a runtime and signs them in to an app."""

    def __init__(self, runtime: Runtime, app: FastAPI) -> None:
        self.runtime = runtime
        self.app = app

    def add(
        self, name: str, role: str, *, two_factor: bool = False, disabled: bool = False
    ) -> Persona:
        email = f"{name.lower()}@staff.example.com"
        with self.runtime.db.transaction() as session:
            staff, _ = create_staff(
                session,
                email=email,
                display_name=name,
                role=role,
                policy=policy_in_force(session),
                password=PASSWORD,
            )
            secret = None
            if two_factor:
                secret = totp.begin_enrolment(self.runtime.keyring, staff)
                staff.totp_enabled_at = utcnow()
            if disabled:
                disable_staff(session, staff)
            staff_id = staff.id
        return Persona(staff_id, name, email, role, PASSWORD, secret)

    def client(self, persona: Persona | None = None) -> TestClient:
        """A browser-like client, signed in as the persona (or anonymous)."""
        client = TestClient(self.app, base_url="http://testserver")
        if persona is None:
            return client
        response = client.post(
            "/console/sign-in",
            data={"email": persona.email, "password": persona.password, "next": "/console"},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        if persona.totp_secret is not None:
            # Each sign-in of a test uses the current code; forget the last used step so the
            # same persona can sign in twice within 30 seconds (replay refusal has its own test).
            with self.runtime.db.transaction() as session:
                session.execute(
                    update(StaffMember)
                    .where(StaffMember.id == persona.id)
                    .values(totp_last_step=None)
                )
            response = client.post(
                "/console/sign-in/verify", data={"code": persona.code()}, follow_redirects=False
            )
            assert response.status_code == 303, response.text
        return client
