from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from keepfaith.config import Settings
from keepfaith.demo import DEMO_OWNER, prepare_demo
from keepfaith.policy.service import list_versions
from keepfaith.runtime import create_installation, open_runtime
from keepfaith.staff.models import StaffMember
from keepfaith.staff.passwords import verify_password


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
