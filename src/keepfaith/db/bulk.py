"""Many-row inserts without per-value overhead, for the bulk paths (imports, audit batches).

SQLAlchemy's executemany runs every value of every row through its type machinery; in a
batch most values repeat (the same time, actor, source and enum in every row; each person's
id in five tables), so here each distinct value is converted once, by the column type's own
bind processor, and the rows go to the driver's ``executemany`` as they are. The SQL, the
conversions and so the stored bytes are SQLAlchemy's; only the repetition is saved.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect, Table, bindparam, func
from sqlalchemy.dialects.postgresql import ARRAY
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
    keys = [column.key for column in table.c if column.key in rows[0]]
    memo = {} if memo is None else memo
    columns = [_convert([row[key] for row in rows], table, key, dialect, memo) for key in keys]
    insert_converted(session, table, keys, list(zip(*columns, strict=True)))


def bind_processors(table: Table, dialect: Dialect) -> dict[str, Callable[[Any], Any] | None]:
    """Each column's conversion to what the driver takes (None: taken as it is): for callers
    that build driver rows themselves, away from a connection (`insert_converted`)."""
    return {
        column.key: column.type.dialect_impl(dialect).bind_processor(dialect) for column in table.c
    }


def insert_converted(
    session: Session, table: Table, keys: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``rows``, tuples of values already converted for the driver (`bind_processors`)
    in the order of ``keys``, which must follow the table's column order."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _copy(connection, table, keys, rows)
        return
    connection.exec_driver_sql(_insert_sql(table, tuple(keys), connection.dialect), rows)


@functools.lru_cache(maxsize=64)
def _insert_sql(table: Table, keys: tuple[str, ...], dialect: Dialect) -> str:
    """The positional INSERT for ``keys``, compiled once (a batch of people inserts into six
    tables; compiling each time took as long as inserting a hundred rows)."""
    compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
    if tuple(compiled.positiontup or ()) != keys:
        raise ValueError(f"{table.name}: give the columns in the table's order, all of them")
    return str(compiled)


def _copy(
    connection: Connection, table: Table, keys: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """PostgreSQL: COPY, the server's bulk-load path (psycopg's executemany sends one
    statement per row)."""
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(table.c[key].name) for key in keys)
    raw: Any = connection.connection.dbapi_connection  # a psycopg connection
    statement = f"COPY {quote(table.name)} ({names}) FROM STDIN"
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
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


def wanted_values(session: Session, column: Any, values: Sequence[Any]) -> tuple[Any, Any]:
    """A FROM clause of ``values`` and the condition joining ``column`` to it: a batch's worth
    of lookups by key.

    On PostgreSQL the values are one array parameter, unnested and joined. An IN list of a
    thousand parameters, or ``= ANY`` of an array, gets a generic plan once psycopg prepares
    the statement (its fifth run) that reads every entry of the index (seconds a batch); the
    join stays a lookup per value. SQLite plans ``IN`` as lookups anyway.
    """
    if session.get_bind().dialect.name != "postgresql":
        return None, column.in_(list(values))
    wanted = (
        func.unnest(bindparam(None, list(values), type_=ARRAY(column.type)))
        .table_valued("value")
        .render_derived(name="wanted")
    )
    return wanted, column == wanted.c.value
