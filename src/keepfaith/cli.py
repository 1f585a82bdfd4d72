"""The ``keepfaith`` command. Thin: parse options, call a service, print the result."""

from __future__ import annotations

import os
from pathlib import Path

import click

from keepfaith import __version__
from keepfaith.commandline import data_dir_option, fail, load_settings, opened
from keepfaith.config import Settings
from keepfaith.crypto.keyring import KeyringError, generate_keyring, write_keyring
from keepfaith.db import migrate
from keepfaith.db.backup import BackupError, backup
from keepfaith.db.engine import Database, DatabaseError
from keepfaith.jobs.cli import jobs_group, worker_command
from keepfaith.logs import configure_logging
from keepfaith.policy.cli import policy_group
from keepfaith.policy.starters import STARTERS, starter_text
from keepfaith.runtime import Runtime
from keepfaith.staff.cli import apikeys_group, staff_group


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
    folder = settings.data_dir
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    keyring_path = settings.resolved_keyring_path
    if keyring_path.exists():
        fail(
            f"{keyring_path} already exists: this folder is already initialised. "
            "keepfaith never overwrites a keyring (the data encrypted under it would be lost)."
        )
    ring = generate_keyring()
    with opened_for_init(settings) as runtime_db:
        from keepfaith.runtime import bind_keyring, bound_keyring_id

        existing = bound_keyring_id(runtime_db)
        if existing is not None:
            fail(
                f"the database already belongs to keyring {existing}; restore that keyring file "
                f"to {keyring_path} instead of creating a new one"
            )
        write_keyring(ring, keyring_path)
        bind_keyring(runtime_db, ring)
    policy_path = folder / "policy.yaml"
    if not policy_path.exists():
        policy_path.write_text(starter_text(example))
    click.echo(f"Initialised {folder}")
    click.echo(f"  keyring   {keyring_path} (mode 0600; back it up apart from the database)")
    click.echo(f"  policy    {policy_path} (edit it, then: keepfaith policy publish {policy_path})")
    click.echo(f"  database  {settings.resolved_database_url}")


class opened_for_init:
    """The database alone (there is no keyring yet), migrated."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __enter__(self) -> Database:
        try:
            self.db = Database(
                self.settings.resolved_database_url, synchronous=self.settings.sqlite_synchronous
            )
            migrate.upgrade(self.db)
        except DatabaseError as exc:
            fail(str(exc))
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.dispose()


@main.command("serve")
@data_dir_option
@click.option(
    "--host", default=None, help="Interface to listen on (default: $KEEPFAITH_HOST or 127.0.0.1)."
)
@click.option("--port", type=int, default=None, help="Port (default: $KEEPFAITH_PORT or 8000).")
@click.option(
    "--worker/--no-worker", default=None, help="Run the embedded job worker (default: on)."
)
def serve_command(
    data_dir: Path | None, host: str | None, port: int | None, worker: bool | None
) -> None:
    """Run the web service (API, public pages, console), upgrading the database first."""
    settings = load_settings(data_dir=data_dir, host=host, port=port, embedded_worker=worker)
    configure_logging(settings.log_level)
    with opened(settings) as runtime:
        run_server(runtime)


def run_server(runtime: Runtime) -> None:
    import uvicorn

    from keepfaith.web.app import create_app

    settings = runtime.settings
    config = uvicorn.Config(
        create_app(runtime),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
    )
    uvicorn.Server(config).run()


@main.command("demo")
@data_dir_option
@click.option("--port", type=int, default=None, help="Port (default 8000).")
def demo_command(data_dir: Path | None, port: int | None) -> None:
    """Start a demo: example marketplace policy, an owner account, server on 127.0.0.1:8000."""
    from keepfaith.demo import prepare_demo

    settings = load_settings(
        data_dir=data_dir or Path("keepfaith-data"), port=port, embedded_worker=True
    )
    configure_logging(settings.log_level)
    keyring_path = settings.resolved_keyring_path
    if not keyring_path.exists():
        ring = generate_keyring()
        with opened_for_init(settings) as db:
            from keepfaith.runtime import bind_keyring, bound_keyring_id

            if bound_keyring_id(db) is not None:
                fail(
                    f"{keyring_path} is missing but the demo database needs it; "
                    f"restore it or remove {settings.data_dir} to start over"
                )
            try:
                write_keyring(ring, keyring_path)
            except KeyringError as exc:
                fail(str(exc))
            bind_keyring(db, ring)
    with opened(settings) as runtime:
        lines = prepare_demo(runtime)
        click.echo("")
        for line in lines:
            click.echo(line)
        click.echo("")
        run_server(runtime)


@main.group("db")
def db_group() -> None:
    """Database schema and backups."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (serve, demo and worker also do this on start)."""
    settings = load_settings()
    with opened(settings, upgrade=True) as runtime:
        revision = migrate.current_revision(runtime.db)
        click.echo(f"database {runtime.db.display_url()} is at revision {revision}")


@db_group.command("current")
def db_current() -> None:
    """Show the database's schema revision and whether it is current."""
    settings = load_settings()
    with opened_for_init(settings) as db:
        current, head = migrate.current_revision(db), migrate.head_revision()
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


main.add_command(policy_group)
main.add_command(staff_group)
main.add_command(apikeys_group)
main.add_command(jobs_group)
main.add_command(worker_command)
