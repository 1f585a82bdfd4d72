from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from keepfaith.config import Settings
from keepfaith.demo import DEMO_OWNER, DEMO_PEOPLE, prepare_demo
from keepfaith.policy.service import list_versions
from keepfaith.runtime import create_installation, open_runtime
from keepfaith.staff.models import StaffMember
from keepfaith.staff.passwords import verify_password
from keepfaith.subjects.service import count_subjects, find_subject


def _password(lines: list[str]) -> str:
    return next(line for line in lines if line.strip().startswith("password")).split()[1]


def test_the_demo_publishes_the_example_and_hands_out_a_fresh_one_time_password(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "demo", embedded_worker=False)
    create_installation(settings)
    runtime = open_runtime(settings)
    try:
        first = prepare_demo(runtime)
        second = prepare_demo(runtime)
        with runtime.db.reader() as session:
            assert len(list_versions(session)) == 1
            owner = session.scalar(select(StaffMember).where(StaffMember.email == DEMO_OWNER))
        assert owner is not None
        assert owner.role == "owner"
        assert owner.must_change_password
        assert verify_password(owner.password_hash, _password(second))
        assert not verify_password(owner.password_hash, _password(first))
        assert any("GigPros" in line for line in first)
    finally:
        runtime.db.dispose()


def test_the_demo_holds_a_few_fictional_people_once_and_finds_them_by_e_mail(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "demo", embedded_worker=False)
    create_installation(settings)
    runtime = open_runtime(settings)
    try:
        prepare_demo(runtime)
        prepare_demo(runtime)  # a second start adds nobody
        with runtime.db.reader() as session:
            assert count_subjects(session) == len(DEMO_PEOPLE)
            for person in DEMO_PEOPLE:
                email = str(person["user.contact.email"])
                assert email.endswith("@demo.example.com")
                assert find_subject(session, runtime.keyring, email=email) is not None
    finally:
        runtime.db.dispose()
