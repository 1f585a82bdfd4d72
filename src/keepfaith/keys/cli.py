"""``keepfaith keys ...``: master key status, rotation and retirement."""

from __future__ import annotations

import click

from keepfaith.audit.actor import Actor
from keepfaith.commandline import fail, load_settings, opened
from keepfaith.crypto.keyring import KeyringError, current
from keepfaith.keys.rotation import (
    BATCH,
    begin_rotation,
    changing_keyring,
    finish_rotation,
    key_status,
    not_under,
    retire_key,
)
from keepfaith.terminal import print_table, progress

BACKUP_ADVICE = (
    "Back up the keyring file now, apart from the database: without it the data is lost."
)


@click.group("keys")
def keys_group() -> None:
    """Master keys: status, rotation, retirement."""


@keys_group.command("status")
def keys_status() -> None:
    """List master keys and how many data keys and secrets each protects."""
    settings = load_settings()
    with opened(settings) as runtime, runtime.db.reader() as session:
        uses = key_status(session, current(runtime.keyring))
    print_table(
        ("master key", "state", "created", "data keys", "sealed values"),
        (
            (
                use.id,
                "active"
                if use.active
                else ("MISSING from the keyring" if not use.in_keyring else "old"),
                f"{use.created_at:%Y-%m-%d %H:%M} UTC" if use.created_at else "",
                use.data_keys,
                use.sealed_secrets,
            )
            for use in uses
        ),
    )
    old = [u.id for u in uses if not u.active and u.in_keyring]
    if any(u.in_use for u in uses if not u.active):
        click.echo("Data is still under older keys: `keepfaith keys rotate` re-wraps it.")
    elif old:
        for key_id in old:
            click.echo(f"Nothing uses master key {key_id}: `keepfaith keys retire {key_id}`.")


@keys_group.command("rotate")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=BATCH,
    show_default=True,
    help="Data keys re-wrapped per transaction.",
)
def keys_rotate(batch_size: int) -> None:
    """Add a new master key and re-wrap every data key with it (values are not re-encrypted).

    Resumable: if a rotation was interrupted, running this again finishes it instead of
    adding another key. Running servers take up the new key by themselves.
    """
    settings = load_settings()
    path = settings.resolved_keyring_path
    actor = Actor.cli()
    with opened(settings) as runtime:
        db = runtime.db
        try:
            with changing_keyring(db, path, runtime.keyring) as ring:
                ring, rotation = begin_rotation(db, path, ring, actor=actor)
                if rotation.added:
                    click.echo(f"added master key {rotation.master_key}, now active")
                else:
                    click.echo(f"finishing the rotation to master key {rotation.master_key}")
                with db.reader() as session:
                    total = not_under(session, ring.active_id)
                with progress(total, "re-wrapping data keys") as bar:
                    finish_rotation(
                        db, ring, rotation, actor=actor, batch=batch_size, progress=bar.update
                    )
        except KeyringError as exc:
            fail(str(exc))
    click.echo(
        f"master key {rotation.master_key}: {rotation.rewrapped} data keys re-wrapped, "
        f"{rotation.resealed} sealed values sealed again"
    )
    click.echo(BACKUP_ADVICE)
    click.echo("Once the new keyring is backed up, `keepfaith keys retire` removes the old key.")


@keys_group.command("retire")
@click.argument("version", type=int)
def keys_retire(version: int) -> None:
    """Remove master key VERSION from the keyring (refused while anything still uses it).

    Database backups taken while VERSION was in use cannot be read after this, unless a copy
    of the old keyring file is kept with them.
    """
    settings = load_settings()
    path = settings.resolved_keyring_path
    with opened(settings) as runtime:
        try:
            with changing_keyring(runtime.db, path, runtime.keyring) as ring:
                retire_key(runtime.db, path, ring, version, actor=Actor.cli())
        except KeyringError as exc:
            fail(str(exc))
    click.echo(f"master key {version} retired: removed from {path}")
    click.echo(BACKUP_ADVICE)
