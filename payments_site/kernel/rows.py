"""Hot-path rows with their statements compiled once: INSERTs, UPDATEs, reads.

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

import secrets
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast
from weakref import WeakKeyDictionary

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    AutoField,
    BigAutoField,
    BigIntegerField,
    BinaryField,
    BooleanField,
    CharField,
    Field,
    ForeignKey,
    IntegerField,
    Model,
    PositiveBigIntegerField,
    PositiveIntegerField,
    PositiveSmallIntegerField,
    QuerySet,
    SmallIntegerField,
    TextField,
    signals,
)
from django.db.models.fields import AutoFieldMixin
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators
from django.db.models.sql.compiler import SQLCompiler


@dataclass(frozen=True)
class _Insert:
    sql: str
    fields: tuple[Field[Any, Any], ...]
    plain: tuple[frozenset[type], ...]  # per field: values of these exact types bind unchanged
    returning: Field[Any, Any] | None  # the auto primary key the database assigns
    returning_column: str = ""


# Field classes (exactly these, not subclasses) whose ``get_db_prep_save`` hands a value of
# one exact Python type back unchanged when the backend adapts nothing: text and booleans
# everywhere, integers where the backend binds them as they are (SQLite; psycopg wraps them),
# a foreign key as its target does; and None, for a field that binds None as NULL. Probed on
# each database when a statement is compiled; every other value takes the field's own chain,
# as ``save()`` does.
_PLAIN_CANDIDATES: dict[type[Field[Any, Any]], tuple[type, object]] = {
    CharField: (str, "x"),
    TextField: (str, "x"),
    BooleanField: (bool, True),
    AutoField: (int, 7),
    BigAutoField: (int, 7),
    IntegerField: (int, 7),
    BigIntegerField: (int, 7),
    SmallIntegerField: (int, 7),
    PositiveIntegerField: (int, 7),
    PositiveBigIntegerField: (int, 7),
    PositiveSmallIntegerField: (int, 7),
}
_NONE = type(None)


def _passes(field: Field[Any, Any], probe: object, connection: BaseDatabaseWrapper) -> bool:
    saved = field.get_db_prep_save(probe, connection)
    return saved is probe and field.get_db_prep_value(probe, connection) is probe


def _plain_types(field: Field[Any, Any], connection: BaseDatabaseWrapper) -> frozenset[type]:
    """The exact Python types whose values ``field`` binds unchanged on ``connection``."""
    target = field.target_field if type(field) is ForeignKey else field
    candidate = _PLAIN_CANDIDATES.get(type(target))
    kinds = set()
    if candidate is not None and _passes(field, candidate[1], connection):
        kinds.add(candidate[0])
    known = type(field) is ForeignKey or type(field) in _PLAIN_CANDIDATES
    if known and _passes(field, None, connection):
        kinds.add(_NONE)
    return frozenset(kinds)


def _bind_saved(
    fields: tuple[Field[Any, Any], ...],
    plain: tuple[frozenset[type], ...],
    values: list[Any] | tuple[Any, ...],
    connection: BaseDatabaseWrapper,
) -> list[Any]:
    return [
        v if type(v) in kinds else f.get_db_prep_save(v, connection)
        for f, kinds, v in zip(fields, plain, values, strict=True)
    ]


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
    params = _bind_saved(insert.fields, insert.plain, values, connection)
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
        sql=sql,
        fields=tuple(fields),
        plain=tuple(_plain_types(f, connection) for f in fields),
        returning=returning,
        returning_column=returning_column,
    )


def _column(field: Field[Any, Any]) -> str:
    return cast(str, field.column)  # a concrete field always has its column


# --- UPDATE of a few fields, matched on a few columns ------------------------------------------


@dataclass(frozen=True)
class _Update:
    sql: str
    values: tuple[Field[Any, Any], ...]
    where: tuple[Field[Any, Any], ...]
    plain_values: tuple[frozenset[type], ...]
    plain_where: tuple[frozenset[type], ...]


_updates: dict[tuple[type[Model], str, tuple[str, ...], tuple[str, ...]], _Update | None] = {}


def row_update(
    model: type[Model],
    *,
    where: dict[str, Any],
    values: dict[str, Any],
    using: str | None = None,
) -> int:
    """``model.objects.filter(**where).update(**values)`` for exact matches on concrete
    fields, with the statement compiled once per model, database and field names; returns the
    rows changed. Values bind through their field's ``get_db_prep_save`` and matches through
    ``get_db_prep_value``, as the ORM does; anything else (an expression, a lookup, a None
    match, a field whose placeholder is not ``%s``) goes through the ORM."""
    alias = using or router.db_for_write(model)
    key = (model, alias, tuple(where), tuple(values))
    try:
        update = _updates[key]
    except KeyError:
        update = _updates[key] = _compile_update(model, alias, tuple(where), tuple(values))
    if (
        update is None
        or any(v is None for v in where.values())  # the ORM makes those IS NULL
        or any(hasattr(v, "resolve_expression") for v in (*where.values(), *values.values()))
    ):
        return model._default_manager.using(alias).filter(**where).update(**values)
    connection = connections[alias]
    params = _bind_saved(update.values, update.plain_values, tuple(values.values()), connection)
    params += [
        v if type(v) in kinds else f.get_db_prep_value(v, connection, prepared=False)
        for f, kinds, v in zip(update.where, update.plain_where, where.values(), strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(update.sql, params)
        return cast(int, cursor.rowcount)


def _compile_update(
    model: type[Model], alias: str, where: tuple[str, ...], values: tuple[str, ...]
) -> _Update | None:
    opts = model._meta
    if opts.parents or opts.proxy or not opts.managed or not where or not values:
        return None
    connection = connections[alias]
    fields: dict[str, Field[Any, Any]] = {}
    for name in (*where, *values):
        try:
            field = opts.pk if name == "pk" else opts.get_field(name)
        except Exception:  # FieldDoesNotExist, or a lookup such as "a__in"
            return None
        if not isinstance(field, Field) or not field.concrete or field.many_to_many:
            return None
        if field.generated or not _plain_placeholder(field, connection):
            return None
        fields[name] = field
    qn = connection.ops.quote_name
    assignments = ", ".join(f"{qn(_column(fields[n]))} = %s" for n in values)
    matches = " AND ".join(f"{qn(_column(fields[n]))} = %s" for n in where)
    # Names from the model's options, quoted by the backend; every value is a bound parameter.
    sql = f"UPDATE {qn(opts.db_table)} SET {assignments} WHERE {matches}"  # noqa: S608
    return _Update(
        sql=sql,
        values=tuple(fields[n] for n in values),
        where=tuple(fields[n] for n in where),
        plain_values=tuple(_plain_types(fields[n], connection) for n in values),
        plain_where=tuple(_plain_types(fields[n], connection) for n in where),
    )


# --- SELECTs compiled once --------------------------------------------------------------------


M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class _Param:
    name: str


@dataclass(frozen=True)
class _Select:
    sql: str
    params: tuple[Any, ...]  # constants, and _Param where a caller's value goes
    compiler: SQLCompiler
    converters: dict[int, Any]
    model: type[Model] | None  # None: rows are values_list tuples
    model_slice: tuple[int, int] = (0, 0)
    init_list: tuple[str, ...] = ()
    populators: tuple[Any, ...] = ()


class PreparedQuery(Generic[M]):
    """A hot read compiled once per database connection, then run with new string values.

    ``build(*variant, **params)`` returns the queryset (models, with ``select_related``, or a
    ``values_list``); ``one`` answers what ``.get()`` would for a lookup that matches at most
    one row (None for none), ``all`` its rows. Building a queryset and its SQL costs several
    times what the database takes for such a read. Each ``params`` value must reach the SQL
    as one bound parameter, unchanged (an exact match): that is checked when compiling, and a
    query where it does not hold — or that prefetches or annotates — goes through the ORM every
    time. ``variant``: hashable non-string inputs that change the SQL (a mode), one compile
    each."""

    def __init__(self, model: type[M], build: Callable[..., QuerySet[M, Any]]) -> None:
        self._model = model
        self._build = build
        self._compiled: WeakKeyDictionary[BaseDatabaseWrapper, dict[Hashable, _Select | None]]
        self._compiled = WeakKeyDictionary()

    def one(self, *variant: Hashable, **params: str) -> Any:
        rows = self._run(variant, params, one=True)
        return rows[0] if rows else None

    def all(self, *variant: Hashable, **params: str) -> list[Any]:
        return self._run(variant, params, one=False)

    def _run(
        self, variant: tuple[Hashable, ...], params: dict[str, str], *, one: bool
    ) -> list[Any]:
        alias = router.db_for_read(self._model)
        connection = connections[alias]
        per_connection = self._compiled.setdefault(connection, {})
        key = (variant, tuple(sorted(params)))
        if key not in per_connection:
            per_connection[key] = _compile_select(self._build, variant, params, alias)
        select = per_connection[key]
        if select is None:
            queryset = self._build(*variant, **params)
            return list(queryset[:1] if one else queryset)
        args = [params[p.name] if isinstance(p, _Param) else p for p in select.params]
        with connection.cursor() as cursor:
            cursor.execute(select.sql, args)
            fetched = [cursor.fetchone()] if one else cursor.fetchall()
        rows = [row for row in fetched if row is not None]
        if select.converters:
            rows = list(select.compiler.apply_converters(rows, select.converters))
        if select.model is None:
            return [tuple(row) for row in rows]
        start, end = select.model_slice
        objects = []
        for row in rows:
            obj = select.model.from_db(alias, select.init_list, row[start:end])
            for populator in select.populators:
                populator.populate(row, obj)
            objects.append(obj)
        return objects


def _compile_select(
    build: Callable[..., QuerySet[Any]],
    variant: tuple[Hashable, ...],
    params: dict[str, str],
    alias: str,
) -> _Select | None:
    sentinels = {name: f"\x00{name}:{secrets.token_hex(8)}\x00" for name in params}
    queryset = build(*variant, **sentinels)
    query = queryset.query
    if (
        queryset._prefetch_related_lookups  # type: ignore[attr-defined]
        or queryset._known_related_objects  # type: ignore[attr-defined]
        or query.annotation_select
        or query.extra_select
        or query.combinator
    ):
        return None
    iterable = queryset._iterable_class
    values_list = iterable is ValuesListIterable
    if not values_list and iterable is not ModelIterable:
        return None
    if values_list and list(queryset._fields) != list(query.values_select):  # type: ignore[attr-defined]
        return None  # the ORM would reorder the columns
    compiler = query.get_compiler(using=alias)
    sql, raw = compiler.as_sql()
    mapped: list[Any] = []
    for value in raw:
        name = next((n for n, s in sentinels.items() if value == s), None)
        if name is not None:
            mapped.append(_Param(name))
        elif isinstance(value, str) and "\x00" in value:
            return None  # a parameter transformed on its way (LIKE, a function): not exact
        else:
            mapped.append(value)
    if {p.name for p in mapped if isinstance(p, _Param)} != set(params):
        return None
    fields = [s[0] for s in compiler.select[: compiler.col_count]]
    converters = compiler.get_converters(fields)
    if values_list:
        return _Select(sql, tuple(mapped), compiler, converters, model=None)
    klass_info = compiler.klass_info
    if klass_info is None or compiler.annotation_col_map:
        return None
    select_fields = klass_info["select_fields"]
    start, end = select_fields[0], select_fields[-1] + 1
    return _Select(
        sql,
        tuple(mapped),
        compiler,
        converters,
        model=klass_info["model"],
        model_slice=(start, end),
        init_list=tuple(f[0].target.attname for f in compiler.select[start:end]),
        populators=tuple(get_related_populators(klass_info, compiler.select, alias)),  # type: ignore[call-arg]
    )
