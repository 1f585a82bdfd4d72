"""The ``keepfaith`` command. Thin: parse options, call a service, print the result."""

from __future__ import annotations

import os
from pathlib import Path

import click

from keepfaith import __version__
from keepfaith.audit.cli import audit_group
from keepfaith.commandline import data_dir_option, fail, load_settings, opened
from keepfaith.consent.cli import ledger_group
from keepfaith.crypto.keyring import KeyringError
from keepfaith.db import revision
from keepfaith.db.backup import BackupError, backup
from keepfaith.db.engine import Database, DatabaseError
from keepfaith.jobs.cli import jobs_group, worker_command
from keepfaith.keys.cli import keys_group
from keepfaith.logs import configure_logging
from keepfaith.mail.cli import mail_group
from keepfaith.policy.cli import policy_group
from keepfaith.policy.starters import STARTERS, starter_text
from keepfaith.runtime import create_installation
from keepfaith.staff.cli import apikeys_group, staff_group
from keepfaith.subjects.cli import subjects_group
from keepfaith.suppression.cli import suppression_group


@click.group(
    context_settings={
        "help_option_names": ["-h", "--help"],
        "max_content_width": 110,
        "terminal_width": 110,
    }
)
@click.version_option(__version__, prog_name="keepfaith")
def main() -> None:
    """keepfaith: the privacy engine that keeps the promises your privacy policy makes.

    Settings come from KEEPFAITH_* environment variables (see docs/configuration.md).
    """


@main.command("init")
@data_dir_option
@click.option(
    "--example",
    type=click.Choice(sorted(STARTERS)),
    default="marketplace",
    show_default=True,
    help="Which example policy to start policy.yaml from.",
)
def init_command(data_dir: Path | None, example: str) -> None:
    """Create a data folder with a new keyring, a starter policy.yaml and the database."""
    settings = load_settings(data_dir=data_dir)
    try:
        create_installation(settings, starter_policy=starter_text(example))
    except (KeyringError, DatabaseError) as exc:
        fail(str(exc))
    folder = settings.data_dir
    keyring_path = settings.resolved_keyring_path
    policy_path = folder / "policy.yaml"
    click.echo(f"Initialised {folder}")
    click.echo(f"  keyring   {keyring_path} (mode 0600; back it up apart from the database)")
    click.echo(f"  policy    {policy_path} (edit it, then: keepfaith policy publish {policy_path})")
    click.echo(f"  database  {settings.resolved_database_url}")


@main.command("serve")
@data_dir_option
@click.option(
    "--host", default=None, help="Interface to listen on (default: $KEEPFAITH_HOST or 127.0.0.1)."
)
@click.option("--port", type=int, default=None, help="Port (default: $KEEPFAITH_PORT or 8000).")
@click.option(
    "--worker/--no-worker", default=None, help="Run the embedded job worker (default: on)."
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Web processes sharing the port (PostgreSQL, or SQLite on one machine); each runs its "
    "own embedded job worker unless --no-worker.",
)
def serve_command(
    data_dir: Path | None, host: str | None, port: int | None, worker: bool | None, processes: int
) -> None:
    """Run the web service (API, public pages, console), upgrading the database first."""
    settings = load_settings(data_dir=data_dir, host=host, port=port, embedded_worker=worker)
    configure_logging(settings.log_level)
    from keepfaith.web.server import run_server  # uvicorn: only for the commands that serve

    with opened(settings) as runtime:
        run_server(runtime, processes)


@main.command("demo")
@data_dir_option
@click.option("--port", type=int, default=None, help="Port (default 8000).")
def demo_command(data_dir: Path | None, port: int | None) -> None:
    """Start a demo: example marketplace policy, an owner account, server on 127.0.0.1:8000."""
    from keepfaith.demo import prepare_demo

    overrides: dict[str, object] = {"port": port, "embedded_worker": True}
    if port is not None and "KEEPFAITH_BASE_URL" not in os.environ:
        overrides["base_url"] = f"http://127.0.0.1:{port}"
    settings = load_settings(data_dir=data_dir, **overrides)
    configure_logging(settings.log_level)
    if not settings.resolved_keyring_path.exists():
        try:
            create_installation(settings, starter_policy=starter_text("marketplace"))
        except (KeyringError, DatabaseError) as exc:
            fail(f"{exc} (or remove {settings.data_dir} to start the demo afresh)")
    with opened(settings) as runtime:
        lines = prepare_demo(runtime)
        click.echo("")
        for line in lines:
            click.echo(line)
        click.echo("")
        from keepfaith.web.server import run_server

        run_server(runtime)


@main.group("db")
def db_group() -> None:
    """Database schema and backups."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (serve, demo and worker also do this on start)."""
    settings = load_settings()
    with opened(settings, upgrade=True) as runtime:
        current = revision.current_revision(runtime.db)
        click.echo(f"database {runtime.db.display_url()} is at revision {current}")


@db_group.command("current")
def db_current() -> None:
    """Show the database's schema revision and whether it is current."""
    settings = load_settings()
    try:
        db = Database(settings.resolved_database_url)
    except DatabaseError as exc:
        fail(str(exc))
    try:
        current, head = revision.current_revision(db), revision.head_revision()
    finally:
        db.dispose()
    click.echo(
        f"current {current}\nhead    {head}\n{'up to date' if current == head else 'needs upgrade'}"
    )


@db_group.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(path: Path) -> None:
    """Write a consistent backup of the database to PATH while the service keeps running."""
    settings = load_settings()
    with opened(settings) as runtime:
        try:
            written = backup(runtime.db, path)
        except BackupError as exc:
            fail(str(exc))
    click.echo(f"backup written to {written}")
    click.echo("The keyring is not in the backup: keep a copy of it separately.")


main.add_command(audit_group)
main.add_command(policy_group)
main.add_command(staff_group)
main.add_command(apikeys_group)
main.add_command(jobs_group)
main.add_command(mail_group)
main.add_command(ledger_group)
main.add_command(worker_command)
main.add_command(keys_group)
main.add_command(subjects_group)
main.add_command(suppression_group)
