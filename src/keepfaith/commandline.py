"""Pieces every command shares: settings from options and environment, opening the installation,
and errors that tell a person what went wrong and what to do (exit status 2)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from keepfaith.config import Settings, SettingsError
from keepfaith.crypto.keyring import KeyringError
from keepfaith.db.engine import DatabaseError
from keepfaith.runtime import Runtime, SchemaOutdated, open_runtime

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = 2


def fail(message: str, *, status: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def data_dir_option(func: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Data folder (default: $KEEPFAITH_DATA_DIR or ./keepfaith-data).",
    )(func)


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except SettingsError as exc:
        fail(str(exc))


@contextmanager
def opened(settings: Settings, *, upgrade: bool = True) -> Iterator[Runtime]:
    """The installation, opened and checked; any setup problem exits with a clear message."""
    try:
        runtime = open_runtime(settings, upgrade=upgrade)
    except (KeyringError, DatabaseError, SchemaOutdated) as exc:
        fail(str(exc))
    except Exception as exc:  # e.g. the database server is down
        reason = f"{exc.__class__.__name__}: {_first_line(exc)}"
        fail(f"cannot open the database {_safe_url(settings)}: {reason}")
    try:
        yield runtime
    finally:
        runtime.db.dispose()


def _safe_url(settings: Settings) -> str:
    from sqlalchemy import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
