"""Insert a handful of rows at once: one statement on PostgreSQL, executemany elsewhere.

Submitting a survey stores two dozen answer rows. The DBAPI's executemany sends them as
two dozen INSERT statements (psycopg pipelines them, but PostgreSQL still plans, executes
and answers each one), and that per-statement work was the largest part of a submission's
cost there. On PostgreSQL the rows therefore travel as one array per column and one
statement inserts them all:

    INSERT INTO t (a, b) SELECT * FROM unnest(:a::type[], :b::type[])

The statement depends only on the table and the column names, so it is built once and
SQLAlchemy's compiled cache serves every later call; a multi-row VALUES clause would have a
different statement (and as many parameters as cells) for every row count. SQLite runs
executemany in-process, where a statement costs little, so it keeps that. Either way the
rows get their ids in the order given (a multi-choice answer is read back in id order).

SQLAlchemy has no construct for this: its "insertmanyvalues" batching renders VALUES lists
and is used only for INSERT ... RETURNING on psycopg, which we do not need.

Writes that belong with the rows (the answers a page replaces, the post's idempotency
record) can ride along as data-modifying WITH clauses of the same statement: a statement
of its own cost the web worker about 60 us and the database about as much again, a tenth
of a submission's work for those two.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sqlalchemy import Connection, Executable, Table, bindparam, column, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY


def _array(column_name: str) -> str:
    return f"{column_name}_array"


@lru_cache(maxsize=64)
def _unnest_insert(table: Table, columns: tuple[str, ...], along: tuple = ()):
    # The arrays are not named after the columns: SQLAlchemy compiles every INSERT of the
    # statement, those along it included, with a column for each parameter named like one.
    arrays = [bindparam(_array(name), type_=ARRAY(table.c[name].type)) for name in columns]
    rows = (func.unnest(*arrays)
            .table_valued(*(column(name, table.c[name].type) for name in columns))
            .render_derived(name="new_rows"))
    statement = insert(table).from_select(list(columns), select(*rows.c))
    # Unreferenced data-modifying WITH clauses: PostgreSQL runs each exactly once.
    return statement.add_cte(*(other.cte(f"along_{i}") for i, other in enumerate(along)))


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict], *,
                columns: Sequence[str] | None = None,
                along: Sequence[tuple[Executable, dict]] = ()) -> None:
    """Insert `rows` (dicts with the same keys, in the order `columns` gives when given)
    into `table` in one statement where the engine benefits, else with executemany.

    `along` holds other writes that belong with these rows, each a statement built once
    and its parameters (not named "<column>_array"): on PostgreSQL they go in the same
    statement as data-modifying WITH clauses, which all see the data as it was before the
    statement (a DELETE there never meets the rows inserted); elsewhere they run first,
    one by one. Without rows, only they run."""
    columns = tuple(columns) if columns is not None else tuple(rows[0]) if rows else ()
    if any(tuple(row) != columns for row in rows):
        raise ValueError("every row must have the same columns, in the same order")
    if connection.dialect.name != "postgresql" or not columns:
        for statement, parameters in along:
            connection.execute(statement, parameters)
        if rows:
            connection.execute(insert(table), list(rows))
        return
    parameters = {_array(name): [row[name] for row in rows] for name in columns}
    for _, more in along:
        if parameters.keys() & more.keys():
            raise ValueError("the parameters of `along` must be named apart from the arrays")
        parameters.update(more)
    connection.execute(_unnest_insert(table, columns, tuple(s for s, _ in along)), parameters)
