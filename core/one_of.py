"""``column`` is one of a list bound as one parameter, in a statement that stays the same
whatever the list's length.

SQLAlchemy's expanding ``IN`` renders one placeholder per value at every execution: the
rendering costs time on each call, and the statement's text changes with the list's length,
so the driver prepares it again for each new length. Here the list is a single parameter:
``column = ANY($1::INTEGER[])`` on PostgreSQL, ``column IN (SELECT value FROM json_each(?))`` on
SQLite, compiled once and prepared once.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import ARRAY, Boolean, ColumnElement, String, TypeDecorator, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.sql.visitors import InternalTraversal, _TraverseInternalsType


class ValueList(TypeDecorator[Collection[Any]]):
    """A list of ``item_type`` values as one parameter: an array on PostgreSQL, JSON text on
    SQLite."""

    impl = String
    cache_ok = True

    def __init__(self, item_type: TypeEngine[Any]) -> None:
        super().__init__()
        self.item_type = item_type

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(self.item_type))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: Collection[Any] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return list(value)
        return json.dumps(list(value))


class OneOf(ColumnElement[bool]):
    inherit_cache = True
    type = Boolean()
    _traverse_internals: _TraverseInternalsType = [  # noqa: RUF012 (SQLAlchemy's own form)
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: ColumnElement[Any]) -> None:
        self.column = column
        self.values = values


def one_of(column: Any, name: str, item_type: TypeEngine[Any]) -> OneOf:
    """``column`` is one of the values bound to ``name`` (a list or tuple of ``item_type``)."""
    return OneOf(column, bindparam(name, type_=ValueList(item_type)))


@compiles(OneOf, "postgresql")
def _any_of_array(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} = ANY({values})"


@compiles(OneOf)
def _in_json_list(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} IN (SELECT value FROM json_each({values}))"
