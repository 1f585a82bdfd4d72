"""``keepfaith policy ...``: check, render, compare, publish and list policy versions.

Problems are printed one per line as ``file:line: field: message`` on stderr and the command
exits with status 2 without writing anything; warnings are printed too but exit 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import NoReturn

import click

from keepfaith.clock import utcnow
from keepfaith.commandline import EXIT_USAGE, fail, load_settings, opened
from keepfaith.policy.diff import Change, diff
from keepfaith.policy.issues import Issue, PolicyError
from keepfaith.policy.loader import check, parse
from keepfaith.policy.render import render_policy
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import (
    PublishRefused,
    get_version,
    list_versions,
    publish,
    version_in_force,
)
from keepfaith.terminal import print_table

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group("policy")
def policy_group() -> None:
    """Check, render, compare and publish policy.yaml."""


def read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8")
    except OSError as exc:
        fail(f"{path}: cannot read it: {exc.strerror}")


def show_issues(issues: Iterable[Issue]) -> None:
    for issue in issues:
        click.echo(str(issue), err=True)


def exit_with(issues: list[Issue]) -> NoReturn:
    show_issues(issues)
    errors = sum(1 for i in issues if i.is_error)
    click.echo(f"{errors} error{'s' if errors != 1 else ''}; nothing was written.", err=True)
    raise SystemExit(EXIT_USAGE)


def load_file(path: Path) -> tuple[str, Policy]:
    """The file's text and policy (warnings shown), or exit 2 listing every problem."""
    text = read_text(path)
    result = check(text, str(path))
    if result.policy is None:
        exit_with(result.issues)
    show_issues(result.warnings)
    return text, result.policy


def parse_when(value: str | None) -> datetime | None:
    """``2026-04-01`` (midnight UTC; today means now, i.e. None) or an ISO 8601 time with its
    offset."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return None if day == utcnow().date() else datetime.combine(day, time(), UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--effective: {value!r} is not a date (2026-04-01) or a time with its offset")
    if moment.tzinfo is None:
        fail(f"--effective: {value!r} has no time zone; add one (e.g. +00:00) or give a date")
    return moment.astimezone(UTC)


@policy_group.command("check")
@click.argument("file", type=FILE)
def check_command(file: Path) -> None:
    """Check FILE: every problem is reported with its line; exit status 2 if any is an error."""
    text = read_text(file)
    result = check(text, str(file))
    if result.policy is None:
        exit_with(result.issues)
    show_issues(result.issues)
    p = result.policy
    warnings = len(result.warnings)
    click.echo(
        f"{file}: OK: {len(p.purposes)} purposes, {len(p.data_categories)} data categories, "
        f"{len(p.recipients)} recipients, {len(p.cookies)} cookies"
        + (f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else "")
    )


@policy_group.command("render")
@click.argument("file", type=FILE)
@click.option(
    "--format", "fmt", type=click.Choice(["html", "md"]), default="html", show_default=True
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of to standard output.",
)
@click.option("--effective", default=None, help="Effective date to print (default: a draft).")
@click.option(
    "--base-url",
    envvar="KEEPFAITH_BASE_URL",
    default="",
    help="Where links to the privacy centre point (default: $KEEPFAITH_BASE_URL).",
)
def render_command(
    file: Path, fmt: str, output: Path | None, effective: str | None, base_url: str
) -> None:
    """Render the privacy notice for FILE as HTML or Markdown."""
    _, policy = load_file(file)
    when = parse_when(effective)
    if effective is not None and when is None:  # today
        when = utcnow()
    text = render_policy(policy, fmt, effective_at=when, base_url=base_url)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)


def _side(ref: str) -> tuple[str, Policy]:
    if ref.startswith("@"):
        try:
            number = int(ref[1:])
        except ValueError:
            fail(f"{ref!r}: a published version is written @N, e.g. @3")
        with opened(load_settings()) as runtime, runtime.db.reader() as session:
            version = get_version(session, number)
            if version is None:
                fail(f"there is no published version {number} (see: keepfaith policy versions)")
            return f"version {number}", parse(version.text, f"@{number}")
    path = Path(ref)
    if not path.is_file():
        fail(f"{ref}: no such file (a published version is written @N, e.g. @3)")
    try:
        return ref, parse(read_text(path), ref)
    except PolicyError as exc:
        exit_with(exc.issues)


def show_changes(changes: list[Change]) -> None:
    for change in changes:
        label = "MATERIAL" if change.material else "minor"
        click.echo(f"{label:<9} {change.path}")
        click.echo(f"          {change.summary}")
        click.echo(f"          ({change.reason})")


@policy_group.command("diff")
@click.argument("old")
@click.argument("new")
def diff_command(old: str, new: str) -> None:
    """Compare two policies (files, or published versions as @N), classifying each change."""
    old_name, old_policy = _side(old)
    new_name, new_policy = _side(new)
    changes = diff(old_policy, new_policy)
    if not changes:
        click.echo(f"No changes between {old_name} and {new_name}.")
        return
    material = sum(1 for c in changes if c.material)
    noun = "change" if len(changes) == 1 else "changes"
    click.echo(f"{old_name} → {new_name}: {len(changes)} {noun}, {material} material\n")
    show_changes(changes)
    if material:
        period = old_policy.changes.notice_period.describe()
        click.echo(f"\nMaterial: publishing this needs {period} of notice (changes.notice_period).")
    else:
        click.echo("\nNo material changes: this may take effect at once.")


@policy_group.command("publish")
@click.argument("file", type=FILE)
@click.option(
    "--effective",
    default=None,
    help="When it takes effect: a date (2026-04-01, midnight UTC) or an ISO time. Default: now.",
)
def publish_command(file: Path, effective: str | None) -> None:
    """Publish FILE as the next immutable policy version."""
    text, _ = load_file(file)
    when = parse_when(effective)
    with opened(load_settings()) as runtime:
        try:
            with runtime.db.transaction() as session:
                version = publish(
                    session, text, source_name=str(file), published_by="cli", effective_at=when
                )
                changes = version.change_list()
                number, sha, at, is_material = (
                    version.number,
                    version.sha256,
                    version.effective_at,
                    version.material,
                )
        except PolicyError as exc:
            exit_with(exc.issues)
        except PublishRefused as exc:
            fail(str(exc))
    click.echo(f"Published version {number} of {file} (sha256 {sha[:16]}…)")
    click.echo(f"Takes effect {at:%Y-%m-%d %H:%M} UTC.")
    if changes:
        click.echo("")
        show_changes(changes)
    if is_material:
        click.echo("\nMaterial change: /privacy announces it until it takes effect.")


@policy_group.command("versions")
def versions_command() -> None:
    """List the published versions, newest first."""
    with opened(load_settings()) as runtime, runtime.db.reader() as session:
        versions = list_versions(session)
        now = utcnow()
        current = version_in_force(session, now)
        rows = [
            (
                v.number,
                f"{v.effective_at:%Y-%m-%d %H:%M}",
                f"{v.published_at:%Y-%m-%d %H:%M}",
                v.published_by,
                "yes" if v.material else "no",
                "in force"
                if current and v.id == current.id
                else "upcoming"
                if v.effective_at > now
                else "superseded",
                v.sha256[:12],
            )
            for v in versions
        ]
    print_table(
        ("version", "effective (UTC)", "published (UTC)", "by", "material", "status", "sha256"),
        rows,
        empty="No policy has been published yet (keepfaith policy publish policy.yaml).",
    )


@policy_group.command("show")
@click.argument("number", type=int)
def show_command(number: int) -> None:
    """Print the exact text of published version NUMBER."""
    with opened(load_settings()) as runtime, runtime.db.reader() as session:
        version = get_version(session, number)
        if version is None:
            fail(f"there is no published version {number} (see: keepfaith policy versions)")
        text = version.text
    click.echo(text, nl=False)
