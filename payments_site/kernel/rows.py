"""One-row INSERTs for per-card hot paths, with the statement compiled once.

``Model.objects.create`` rebuilds the INSERT on every call (query, compiler, SQL text, one
preparation per field), which costs several times the database's own work for a small row. A
path that writes a row per card (the vault ingest) compiles it once per model and database
instead; every value still goes through its field's ``pre_save`` and ``get_db_prep_save``,
exactly as ``save()`` would, and database errors (``IntegrityError`` first) are raised alike.

A model that is not a plain table (inheritance, proxies, database defaults, generated or
placeholder-changing fields), a value that is an expression, and a model with save-signal
receivers are saved by ``save()``, so a receiver connected later is never bypassed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BinaryField, Field, Model, signals
from django.db.models.fields import AutoFieldMixin


@dataclass(frozen=True)
class _Insert:
    sql: str
    fields: tuple[Field[Any, Any], ...]
    returning: Field[Any, Any] | None  # the auto primary key the database assigns
    returning_column: str = ""


# Binary fields bind through this hook (``_binary %s`` on MySQL, ``%s`` elsewhere).
_BINARY_PLACEHOLDER = vars(BinaryField)["get_placeholder"]


_compiled: dict[tuple[type[Model], str, bool], _Insert | None] = {}


def row_insert(obj: Model, *, using: str | None = None) -> None:
    """Insert ``obj`` as ``obj.save(force_insert=True)`` would, and mark it saved."""
    model = type(obj)
    alias = using or router.db_for_write(model, instance=obj)
    opts = model._meta
    pk_unset = getattr(obj, opts.pk.attname) is None
    key = (model, alias, pk_unset)
    try:
        insert = _compiled[key]
    except KeyError:
        insert = _compiled[key] = _compile(model, alias, pk_unset=pk_unset)
    if (
        insert is None
        or signals.pre_save.has_listeners(model)
        or signals.post_save.has_listeners(model)
    ):
        obj.save(force_insert=True, using=alias)
        return
    values = [f.pre_save(obj, True) for f in insert.fields]
    if any(hasattr(v, "resolve_expression") for v in values):
        obj.save(force_insert=True, using=alias)  # an expression is compiled into the SQL
        return
    connection = connections[alias]
    params = [f.get_db_prep_save(v, connection) for f, v in zip(insert.fields, values, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(insert.sql, params)
        if insert.returning is not None:
            if connection.features.can_return_columns_from_insert:
                value = cursor.fetchone()[0]
            else:
                value = connection.ops.last_insert_id(
                    cursor, opts.db_table, insert.returning_column
                )
            setattr(obj, insert.returning.attname, value)
    obj._state.adding = False
    obj._state.db = alias


def _plain_placeholder(field: Field[Any, Any], connection: BaseDatabaseWrapper) -> bool:
    """Whether the field's value binds as a plain ``%s`` on this database, whatever it is."""
    placeholder = getattr(type(field), "get_placeholder", None)
    if placeholder is None:
        return True
    ops: Any = connection.ops  # the stubs give binary_placeholder_sql another signature
    return placeholder is _BINARY_PLACEHOLDER and all(
        ops.binary_placeholder_sql(v) == "%s" for v in (None, b"")
    )


def _compile(model: type[Model], alias: str, *, pk_unset: bool) -> _Insert | None:
    """The INSERT for ``model`` on ``alias``, or None when only ``save()`` does it right."""
    opts = model._meta
    if opts.parents or opts.proxy or not opts.managed:
        return None
    connection = connections[alias]
    fields: list[Field[Any, Any]] = []
    for field in opts.local_concrete_fields:
        if field.generated or field.has_db_default() or not _plain_placeholder(field, connection):
            return None
        if pk_unset and field is opts.auto_field:
            continue
        fields.append(field)
    if pk_unset and not isinstance(opts.pk, AutoFieldMixin):
        return None
    returning = opts.pk if pk_unset else None
    qn = connection.ops.quote_name
    table = qn(opts.db_table)
    # Names from the model's options, quoted by the backend; every value is a bound parameter.
    columns = ", ".join(qn(_column(f)) for f in fields)
    sql = (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    returning_column = _column(returning) if returning is not None else ""
    if returning is not None and connection.features.can_return_columns_from_insert:
        sql += f" RETURNING {table}.{qn(returning_column)}"
    return _Insert(
        sql=sql, fields=tuple(fields), returning=returning, returning_column=returning_column
    )


def _column(field: Field[Any, Any]) -> str:
    return cast(str, field.column)  # a concrete field always has its column
