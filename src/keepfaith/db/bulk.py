"""Many-row inserts without per-value overhead, for the bulk paths (imports, audit batches).

SQLAlchemy's executemany runs every value of every row through its type machinery; in a
batch most values repeat (the same time, actor, source and enum in every row; each person's
id in five tables), so here each distinct value is converted once, by the column type's own
bind processor, and the rows go to the driver's ``executemany`` as they are. The SQL, the
conversions and so the stored bytes are SQLAlchemy's; only the repetition is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    memo: dict[tuple[type, Any], Any] | None = None,
) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the session's transaction.
    ``memo``, shared by the calls for one batch, converts a value that recurs across tables
    (a person's id) once for all of them."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    keys = list(rows[0])
    compiled = table.insert().compile(dialect=dialect, column_keys=keys)
    memo = {} if memo is None else memo
    columns = [_convert([row[key] for row in rows], table, key, dialect, memo) for key in keys]
    if dialect.name == "postgresql":
        _copy(connection, table, keys, columns)
        return
    params: list[Any]
    if compiled.positional:
        columns = [columns[keys.index(name)] for name in compiled.positiontup or ()]
        params = list(zip(*columns, strict=True))
    else:
        params = [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]
    connection.exec_driver_sql(str(compiled), params)


def _copy(connection: Connection, table: Table, keys: list[str], columns: list[list[Any]]) -> None:
    """PostgreSQL: COPY, the server's bulk-load path (psycopg's executemany sends one
    statement per row)."""
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(table.c[key].name) for key in keys)
    raw: Any = connection.connection.dbapi_connection  # a psycopg connection
    statement = f"COPY {quote(table.name)} ({names}) FROM STDIN"
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in zip(*columns, strict=True):
                copy.write_row(row)
    except dbapi_error as exc:  # raised as SQLAlchemy raises it everywhere else
        raise DBAPIError.instance(statement, None, exc, dbapi_error) from exc


def _convert(
    values: list[Any], table: Table, key: str, dialect: Dialect, memo: dict[tuple[type, Any], Any]
) -> list[Any]:
    """One column's values as the driver takes them; each distinct value converted once."""
    impl = table.c[key].type.dialect_impl(dialect)
    process = impl.bind_processor(dialect)
    if process is None:
        return values
    if isinstance(values[0], bytes):  # ciphertexts, digests: each one different
        return [None if v is None else process(v) for v in values]
    if all(v is None or v.__hash__ is not None for v in values):
        kind = type(impl)
        for v in set(values):
            if v is not None and (kind, v) not in memo:
                memo[kind, v] = process(v)
        return [None if v is None else memo[kind, v] for v in values]
    distinct = {id(v): v for v in values if v is not None}  # lists: often one shared object
    by_id = {key: process(v) for key, v in distinct.items()}
    return [None if v is None else by_id[id(v)] for v in values]
