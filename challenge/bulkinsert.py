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
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sqlalchemy import Connection, Table, bindparam, column, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY


@lru_cache(maxsize=64)
def _unnest_insert(table: Table, columns: tuple[str, ...]):
    arrays = [bindparam(name, type_=ARRAY(table.c[name].type)) for name in columns]
    rows = (func.unnest(*arrays)
            .table_valued(*(column(name, table.c[name].type) for name in columns))
            .render_derived(name="new_rows"))
    return insert(table).from_select(list(columns), select(*rows.c))


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` in one statement where the
    engine benefits, else with executemany. Does nothing for no rows."""
    if not rows:
        return
    columns = tuple(rows[0])
    if any(tuple(row) != columns for row in rows):
        raise ValueError("every row must have the same columns, in the same order")
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), list(rows))
        return
    connection.execute(_unnest_insert(table, columns),
                       {name: [row[name] for row in rows] for name in columns})
