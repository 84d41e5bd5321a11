"""Prepared statements for the few writes on a hot path (every chat message takes one).

SQLAlchemy spends about 0.25 ms of Python on each execution of a Core statement here (cache key, execution
context, result set-up, events) against 0.03 ms in the database driver, and a message needs four. A
`Prepared` statement is compiled once per dialect; each execution then sends the compiled SQL straight to the
DBAPI cursor of the caller's connection, inside its transaction, with the values converted by the very type
processors SQLAlchemy would use (UUIDs as blobs and times as text on SQLite, native on PostgreSQL). Driver
errors come out as SQLAlchemy's exceptions, as from `Connection.execute`.

Not for statements whose SQL depends on the values (an IN list that expands, a literal rendered late): those
are refused when compiled."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the bound parameters, in the order a positional driver takes them
    bind: tuple[Processor, ...]
    positional: bool
    result: tuple[Processor, ...]  # one per selected column (empty for a statement that returns nothing)


class Prepared:
    def __init__(self, statement: Executable) -> None:
        self._statement = statement
        self._plans: dict[str, _Plan] = {}
        self._lock = threading.Lock()

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run it once; the rows it returns (none for a write)."""
        plan = self._plan(connection.dialect)
        cursor = connection.connection.cursor()
        try:
            try:
                cursor.execute(plan.sql, self._values(plan, params))
                fetched = cursor.fetchall() if plan.result else []
            except connection.dialect.loaded_dbapi.Error as exc:
                raise self._wrapped(plan, params, exc, connection.dialect) from exc
        finally:
            cursor.close()
        return [tuple(value if convert is None else convert(value) for convert, value in zip(plan.result, row,
                                                                                            strict=True))
                for row in fetched]

    def many(self, connection: Connection, params: Sequence[Mapping[str, Any]]) -> None:
        """Run a write once for each set of values, in one driver call."""
        if not params:
            return
        plan = self._plan(connection.dialect)
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(plan.sql, [self._values(plan, one) for one in params])  # type: ignore[arg-type]
        except connection.dialect.loaded_dbapi.Error as exc:
            raise self._wrapped(plan, params[0], exc, connection.dialect) from exc
        finally:
            cursor.close()

    def sql_for(self, dialect: Dialect, order: tuple[str, ...]) -> str:
        """The compiled SQL for a caller that hands the driver its own converted values as a tuple in `order`
        (a tuple built in place costs less than a mapping turned into one); ValueError when the statement's
        parameters come in another order."""
        plan = self._plan(dialect)
        if not plan.positional or plan.names != order:
            raise ValueError(f"the statement takes {plan.names}{'' if plan.positional else ' by name'}, not {order}")
        return plan.sql

    @staticmethod
    def _values(plan: _Plan, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = [params[name] if convert is None else convert(params[name])
                  for name, convert in zip(plan.names, plan.bind, strict=True)]
        return values if plan.positional else dict(zip(plan.names, values, strict=True))

    @staticmethod
    def _wrapped(plan: _Plan, params: Mapping[str, Any], exc: Exception, dialect: Dialect) -> StatementError:
        return DBAPIError.instance(plan.sql, dict(params), exc, dialect.loaded_dbapi.Error,
                                   dialect=dialect)

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            with self._lock:
                plan = self._plans.get(dialect.name) or self._compile(dialect)
                self._plans[dialect.name] = plan
        return plan

    def _compile(self, dialect: Dialect) -> _Plan:
        compiled = self._statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        assert isinstance(compiled, SQLCompiler)  # noqa: S101 - a SQL statement compiles to SQL
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a prepared statement's SQL must not depend on its values")
        names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
        bind = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
        columns = getattr(self._statement, "selected_columns", ()) if self._statement.is_select else ()
        result = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
        return _Plan(compiled.string, names, bind, compiled.positional, result)
