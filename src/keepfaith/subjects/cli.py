"""``keepfaith subjects import`` and ``export``: the vault in and out of files.

Whoever runs these operates the server: they act as the CLI actor (``cli:operator``), who may
see every category, and must say why (``--reason``), which the audit trail keeps.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import click

from keepfaith.audit.actor import Actor
from keepfaith.commandline import fail, load_settings, opened
from keepfaith.policy.schema import Policy
from keepfaith.policy.service import policy_in_force
from keepfaith.runtime import Runtime
from keepfaith.subjects.errors import PurposeRefused
from keepfaith.subjects.export import ExportFormat, count_exportable, export_subjects
from keepfaith.subjects.importer import (
    BATCH,
    MAX_WORKERS,
    Importer,
    ImportReport,
    OnExisting,
    workers_for,
)
from keepfaith.subjects.importfile import (
    ImportFileError,
    ImportFormat,
    RowProblem,
    count_rows,
    format_of,
)
from keepfaith.subjects.models import SubjectKind
from keepfaith.terminal import progress

SHOWN_PROBLEMS = 20
EXIT_ROWS_FAILED = 1


@click.group("subjects")
def subjects_group() -> None:
    """Data subjects: import from and export to files."""


def _policy(runtime: Runtime) -> Policy:
    with runtime.db.reader() as session:
        policy = policy_in_force(session)
    if policy is None:
        fail("no policy is in force: publish one first (keepfaith policy publish policy.yaml)")
    return policy


@subjects_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reason", required=True, help="Why these people are imported (audited).")
@click.option(
    "--format", "fmt", type=click.Choice([f.value for f in ImportFormat]),
    help="csv or jsonl (default: from the file's extension).",
)  # fmt: skip
@click.option(
    "--on-existing",
    type=click.Choice([o.value for o in OnExisting]),
    default=OnExisting.SKIP.value,
    show_default=True,
    help="What to do with a row whose e-mail address (or phone) is already held.",
)
@click.option(
    "--kind",
    type=click.Choice([k.value for k in SubjectKind]),
    default=SubjectKind.CUSTOMER.value,
    show_default=True,
    help="Kind of person, for rows without a kind column.",
)
@click.option(
    "--errors", "errors_path", type=click.Path(dir_okay=False, path_type=Path),
    help="Write the rows that failed to this CSV file (row, field, message).",
)  # fmt: skip
@click.option(
    "--batch-size", type=click.IntRange(1, 10_000), default=BATCH, show_default=True,
    help="Rows written per transaction.",
)  # fmt: skip
@click.option(
    "--workers", type=click.IntRange(0, MAX_WORKERS),
    help="Processes checking and encrypting rows while batches are written "
    "(default: one per CPU for a file of more than two batches; 0: none).",
)  # fmt: skip
def subjects_import(
    file: Path,
    reason: str,
    fmt: str | None,
    on_existing: str,
    kind: str,
    errors_path: Path | None,
    batch_size: int,
    workers: int | None,
) -> None:
    """Import people from FILE: CSV with a header of category keys, or JSON lines.

    Each value is checked against the policy in force; a row that fails is reported with its
    number and field, and the others are imported. People already held (same e-mail address)
    are never duplicated, so running the same file again changes nothing. Exit status 1 if
    any row failed.
    """
    settings = load_settings()
    with opened(settings) as runtime:
        policy = _policy(runtime)
        try:
            chosen = format_of(file, fmt)
            total = count_rows(file, chosen)
            importer = Importer(
                runtime.db,
                runtime.keyring,
                policy,
                Actor.cli(),
                reason,
                on_existing=OnExisting(on_existing),
                kind=SubjectKind(kind),
                batch_size=batch_size,
                workers=workers_for(total, batch_size) if workers is None else workers,
            )
            with progress(total, "importing") as bar:
                report = importer.run_file(file, chosen, bar.update)
        except ImportFileError as exc:
            fail(f"{exc}; nothing was imported")
    _summarise(report)
    if errors_path is not None:
        with _private_file(errors_path) as out:
            _write_problems(out, report.problems)
        click.echo(f"rows that failed are listed in {errors_path}")
    if report.problems:
        sys.exit(EXIT_ROWS_FAILED)


def _summarise(report: ImportReport) -> None:
    click.echo(
        f"{report.rows} rows: {report.created} created, {report.updated} updated, "
        f"{report.unchanged + report.skipped} already held"
        f"{' (unchanged)' if report.unchanged and not report.skipped else ''}, "
        f"{len(report.problems)} failed"
    )
    for problem in report.problems[:SHOWN_PROBLEMS]:
        click.echo(f"row {problem.number}: {problem.field}: {problem.message}", err=True)
    hidden = len(report.problems) - SHOWN_PROBLEMS
    if hidden > 0:
        click.echo(f"... and {hidden} more (--errors FILE lists them all)", err=True)


def _write_problems(out: TextIO, problems: list[RowProblem]) -> None:
    writer = csv.writer(out)
    writer.writerow(["row", "field", "message"])
    writer.writerows((p.number, p.field, p.message) for p in problems)


@contextmanager
def _private_file(path: Path) -> Iterator[TextIO]:
    """A new file only its owner may read (it may hold personal data); removed if writing it
    fails half-way. An existing file is never overwritten."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{path} already exists; choose another name or remove it first")
    except OSError as exc:
        fail(f"cannot create {path}: {exc.strerror}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
    except BaseException:
        path.unlink(missing_ok=True)
        raise


@subjects_group.command("export")
@click.option("--purpose", required=True, help="The policy purpose this export serves.")
@click.option("--reason", required=True, help="Why the data is exported (audited).")
@click.option(
    "--format", "fmt", type=click.Choice([f.value for f in ExportFormat]),
    help="jsonl (lossless; what import reads back) or csv (default: from --output, else jsonl).",
)  # fmt: skip
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (created mode 0600, never overwritten); default: standard output.",
)  # fmt: skip
def subjects_export(purpose: str, reason: str, fmt: str | None, output: Path | None) -> None:
    """Export every person's data, decrypted, for a stated purpose.

    Each person's audit trail records the export, its purpose and reason. Erased people have
    nothing left to export.
    """
    chosen = ExportFormat(fmt) if fmt else _format_for(output)
    settings = load_settings()
    with opened(settings) as runtime:
        policy = _policy(runtime)
        with runtime.db.reader() as session:
            total = count_exportable(session)
        try:
            with _output(output) as out, progress(total, "exporting") as bar:
                count = export_subjects(
                    runtime.db, runtime.keyring, policy, out, fmt=chosen, purpose=purpose,
                    reason=reason, actor=Actor.cli(), progress=bar.update,
                )  # fmt: skip
        except PurposeRefused as exc:
            fail(f"--purpose: {exc}")
    click.echo(f"exported {count} people for {purpose}", err=True)


def _format_for(output: Path | None) -> ExportFormat:
    if output is not None and output.suffix.lower() == ".csv":
        return ExportFormat.CSV
    return ExportFormat.JSONL


@contextmanager
def _output(output: Path | None) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    with _private_file(output) as out:
        yield out
