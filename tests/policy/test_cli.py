"""`keepfaith policy ...` through `keepfaith.cli.main`, as a person would type it."""

from __future__ import annotations

from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from keepfaith.cli import main
from keepfaith.clock import utcnow
from keepfaith.policy.models import PolicyVersion
from keepfaith.runtime import Runtime
from policy.samples import EXAMPLES, SMALL, variant

WIDER = variant(**{"purposes/newsletter/categories": ["user.contact.email", "user.name"]})
REWORDED = variant(**{"purposes/orders/description": "Take and deliver your orders."})


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["policy", *args], env=env, catch_exceptions=False)


@pytest.fixture
def env(runtime: Runtime) -> dict[str, str]:
    settings = runtime.settings
    return {
        "KEEPFAITH_DATABASE_URL": settings.resolved_database_url,
        "KEEPFAITH_KEYRING_PATH": str(settings.resolved_keyring_path),
        "KEEPFAITH_DATA_DIR": str(settings.data_dir),
    }


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def versions_in(runtime: Runtime) -> int:
    with runtime.db.reader() as session:
        return session.scalar(select(func.count()).select_from(PolicyVersion)) or 0


@pytest.mark.parametrize("name", ["marketplace.yaml", "karaoke-shop.yaml"])
def test_it_checks_both_example_policies_clean(name: str) -> None:
    result = run("check", str(EXAMPLES / name))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.startswith(f"{EXAMPLES / name}: OK: ")


def test_check_lists_every_error_with_its_line_and_exits_2(tmp_path: Path) -> None:
    bad = SMALL.replace("period: P0D", "period: six years").replace("country: GB", "country: UK")
    path = write(tmp_path, "policy.yaml", bad)
    result = run("check", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:8: organisation.postal_address.country: 'UK' is not an ISO 3166-1 country "
        "code (did you mean GB?)",
        f"{path}:36: purposes.newsletter.retention.period: 'six years' is not an ISO 8601 "
        "duration (e.g. P6Y)",
        "2 errors; nothing was written.",
    ]


def test_check_prints_warnings_but_succeeds(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", variant(**{"changes": {"notice_period": "P0D"}}))
    result = run("check", str(path))
    assert result.exit_code == 0
    assert result.stderr.startswith(f"{path}:")
    assert "warning: changes.notice_period: material changes would take effect" in result.stderr
    assert result.stdout.endswith("(1 warning)\n")


def test_check_refuses_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("organisation: Caf\u00e9".encode("latin-1"))
    result = run("check", str(path))
    assert result.exit_code == 2
    assert "not UTF-8 text" in result.stderr


def test_render_writes_html_or_markdown(tmp_path: Path) -> None:
    source = EXAMPLES / "karaoke-shop.yaml"
    html = run("render", str(source), "--format", "html", "--effective", "2026-04-01")
    assert html.exit_code == 0, html.output
    assert "<h1>Singalong Sound privacy notice</h1>" in html.stdout
    assert "effective from 1 April 2026" in html.stdout
    today = run("render", str(source), "--format", "md", "--effective", utcnow().date().isoformat())
    assert "Draft" not in today.stdout and "This notice is effective from" in today.stdout
    target = tmp_path / "notice.md"
    md = run(
        "render",
        str(source),
        "--format",
        "md",
        "--output",
        str(target),
        "--base-url",
        "https://privacy.singalong.example.co.uk",
    )
    assert md.exit_code == 0, md.output
    text = target.read_text()
    assert text.startswith("# Singalong Sound privacy notice\n")
    assert "(https://privacy.singalong.example.co.uk/privacy-centre)" in text


def test_render_of_a_bad_file_writes_nothing(tmp_path: Path) -> None:
    path = write(
        tmp_path, "policy.yaml", SMALL.replace("legal_basis: consent", "legal_basis: contract")
    )
    target = tmp_path / "notice.html"
    result = run("render", str(path), "--output", str(target))
    assert result.exit_code == 2
    assert f"{path}:33: purposes.newsletter.legal_basis: marketing cannot rest on" in result.stderr
    assert not target.exists()


def test_diff_classifies_changes_between_files(tmp_path: Path) -> None:
    old = write(tmp_path, "old.yaml", SMALL)
    new = write(tmp_path, "new.yaml", WIDER.replace("Take, deliver", "Take and deliver"))
    result = run("diff", str(old), str(new))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{old} → {new}: 2 changes, 1 material"
    assert lines[2] == "MATERIAL  purposes.newsletter.categories"
    assert lines[3] == "          Purpose “Newsletter” now also uses: Name (user.name)"
    assert lines[4] == "          (more kinds of personal data are used)"
    assert lines[5] == "minor     purposes.orders.description"
    assert lines[-1] == "Material: publishing this needs 30 days of notice (changes.notice_period)."
    same = run("diff", str(old), str(old))
    assert same.stdout == f"No changes between {old} and {old}.\n"


def test_publish_then_list_show_and_diff_versions(
    tmp_path: Path, env: dict[str, str], runtime: Runtime
) -> None:
    first = write(tmp_path, "policy.yaml", SMALL)
    published = run("publish", str(first), env=env)
    assert published.exit_code == 0, published.output
    assert published.stdout.startswith(f"Published version 1 of {first} (sha256 ")
    second = write(tmp_path, "reworded.yaml", REWORDED)
    assert run("publish", str(second), env=env).exit_code == 0
    listing = run("versions", env=env)
    assert listing.exit_code == 0, listing.output
    rows = listing.stdout.splitlines()
    assert rows[0].split() == [
        "version",
        "effective",
        "(UTC)",
        "published",
        "(UTC)",
        "by",
        "material",
        "status",
        "sha256",
    ]
    assert rows[2].split()[0] == "2" and "in force" in rows[2] and " cli " in rows[2]
    assert rows[3].split()[0] == "1" and "superseded" in rows[3]
    shown = run("show", "1", env=env)
    assert shown.stdout == SMALL
    compared = run("diff", "@1", "@2", env=env)
    assert compared.stdout.startswith("version 1 → version 2: 1 change, 0 material")
    assert "No material changes: this may take effect at once." in compared.stdout
    against_file = run("diff", "@2", str(write(tmp_path, "wider.yaml", WIDER)), env=env)
    assert "MATERIAL  purposes.newsletter.categories" in against_file.stdout


def test_publish_refuses_a_material_change_inside_the_notice_period(
    tmp_path: Path, env: dict[str, str], runtime: Runtime
) -> None:
    with time_machine.travel("2026-03-01 12:00Z", tick=False):
        assert run("publish", str(write(tmp_path, "p.yaml", SMALL)), env=env).exit_code == 0
        wider = write(tmp_path, "wider.yaml", WIDER)
        refused = run("publish", str(wider), env=env)
        assert refused.exit_code == 2
        assert refused.stderr == (
            "error: this is a material change, so it needs 30 days of notice "
            "(changes.notice_period): the earliest allowed effective date is 2026-04-01 "
            "(2026-03-31 12:00 UTC)\n"
        )
        assert versions_in(runtime) == 1
        accepted = run("publish", str(wider), "--effective", "2026-04-01", env=env)
        assert accepted.exit_code == 0, accepted.output
        assert "Takes effect 2026-04-01 00:00 UTC." in accepted.stdout
        assert "Material change: /privacy announces it until it takes effect." in accepted.stdout
        listing = run("versions", env=env).stdout
        assert "upcoming" in listing


def test_publish_refuses_the_same_text_twice(
    tmp_path: Path, env: dict[str, str], runtime: Runtime
) -> None:
    path = write(tmp_path, "p.yaml", SMALL)
    run("publish", str(path), env=env)
    again = run("publish", str(path), env=env)
    assert again.exit_code == 2
    assert again.stderr == "error: no changes: this is identical to version 1\n"
    assert versions_in(runtime) == 1


def test_a_bad_policy_is_never_published(
    tmp_path: Path, env: dict[str, str], runtime: Runtime
) -> None:
    path = write(tmp_path, "p.yaml", SMALL.replace("  legal_name: Example Sounds Ltd\n", ""))
    result = run("publish", str(path), env=env)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{path}:2: organisation.legal_name: is required but missing",
        "1 error; nothing was written.",
    ]
    assert versions_in(runtime) == 0


def test_effective_dates_are_read_carefully(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, "p.yaml", SMALL)
    assert "is not a date" in run("publish", str(path), "--effective", "soon", env=env).stderr
    naive = run("publish", str(path), "--effective", "2030-01-01T10:00", env=env)
    assert "has no time zone" in naive.stderr
    today = utcnow().date().isoformat()
    assert run("publish", str(path), "--effective", today, env=env).exit_code == 0


def test_unknown_versions_and_missing_files_are_explained(
    tmp_path: Path, env: dict[str, str]
) -> None:
    assert "there is no published version 7" in run("show", "7", env=env).stderr
    assert "no published version 4" in run("diff", "@4", "@5", env=env).stderr
    assert "written @N" in run("diff", "@x", "@5", env=env).stderr
    assert "no such file" in run("diff", str(tmp_path / "nope.yaml"), "@1", env=env).stderr
    empty = run("versions", env=env)
    assert (
        empty.stdout == "No policy has been published yet (keepfaith policy publish policy.yaml).\n"
    )
