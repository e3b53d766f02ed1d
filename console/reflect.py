"""``CONSOLE_MODELS=reflect``: the managed models are made from the database itself.

At start-up the database is reflected (tables, views, keys, foreign keys with their
``ON DELETE`` rules) into classes on a ``DeclarativeBase`` of their own, one per
table with a single-column primary key; tables without one (or with a composite
one, or a foreign key the console cannot follow) are skipped with the reason. Views
become read-only models. The console's own tables and every Alembic version table
are left out. Nothing here writes to the database.

What reflection cannot know (natural key, label, names, hidden columns) is inferred
here and can be overridden per table in one TOML settings file (``CONSOLE_SETTINGS``),
whose tables take the keys of ``console.declare.Options``. ``settings_text`` prints
what the catalogue uses for every table as such a file (``console describe``).
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, relationship

from console import own_schema
from console.catalogue import (
    RESERVED_NAMES,
    SECRET_NAME,
    Catalogue,
    CatalogueError,
    ModelDescription,
    catalogue_of,
    pluralise,
)
from console.declare import RELATIONSHIP_OPTIONS, OnDelete, Options
from console.kinds import TextKind, kind_of

log = logging.getLogger(__name__)

PREFIX = "reflect"
LABEL_MAX = 255
# Attribute names a declarative class keeps for itself: such a column gets a trailing "_".
_TAKEN_ATTRIBUTES = frozenset({"metadata", "registry", "query", "query_class"})


def is_reflect(spec: Any) -> bool:
    """True when CONSOLE_MODELS ``spec`` asks for reflection (``reflect`` or ``reflect:...``)."""
    if not isinstance(spec, str):
        return False
    word = spec.strip()
    return word == PREFIX or word.startswith(PREFIX + ":")


@dataclass
class Reflection:
    """What reflecting a database gave: the classes, and the tables left out with why."""

    classes: list[type]
    skipped: list[tuple[str, str]] = field(default_factory=list)


# -- settings -------------------------------------------------------------------------------


def load_settings(path: str | Path | None) -> tuple[str, dict[str, dict[str, Any]]]:
    """The settings file at ``path`` as (its name for messages, {table: options})."""
    if not path:
        return "", {}
    where = str(path)
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"CONSOLE_SETTINGS: cannot read {where}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"CONSOLE_SETTINGS: {where} is not valid TOML: {exc}") from exc
    tables: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        if not isinstance(value, dict):
            raise CatalogueError(
                f"{where}: {key!r} must be a table ([{key}]) of one model's options"
            )
        tables[key] = value
    return where, tables


def _quoted(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace('"', '\\"') + '"'


# -- reflection -----------------------------------------------------------------------------


def _excluded(name: str, dialect: str, own_apart: bool = False) -> bool:
    """Whether table ``name`` is the console's or a version table, not the user's data.

    On PostgreSQL the console's tables are in a schema of their own (never reflected),
    and on SQLite in a file of their own (``own_apart``, console.own_file), so a user's
    ``account`` table is the user's; else they sit beside the user's.
    """
    from console.models import Base as ConsoleBase

    if name.endswith("alembic_version"):
        return True
    own = {table.name for table in ConsoleBase.metadata.tables.values()}
    return dialect != "postgresql" and not own_apart and name in own


def _selection(engine: sa.Engine, spec: str) -> tuple[list[str | None], set[str] | None]:
    """(schemas to reflect, table keys asked for or None for all) from ``reflect:...``."""
    words = [w.strip() for w in spec.partition(":")[2].split(",") if w.strip()]
    if not words:
        return [None], None
    inspector = sa.inspect(engine)
    default = inspector.default_schema_name
    schemas = set(inspector.get_schema_names()) if engine.dialect.name == "postgresql" else set()
    chosen: list[str | None] = []
    tables: set[str] = set()
    own = own_schema.schema_for(engine.dialect.name, own_schema.configured())
    for word in words:
        if own is not None and (word == own or word.startswith(f"{own}.")):
            raise CatalogueError(
                f"CONSOLE_MODELS={spec}: schema {own} holds the console's own tables "
                "(CONSOLE_SCHEMA); it cannot be managed as data"
            )
        if word in schemas:
            chosen.append(None if word == default else word)
        else:
            schema, _, name = word.rpartition(".")
            if schema and schema != default:
                chosen.append(schema)
                tables.add(f"{schema}.{name}")
            else:
                chosen.append(None)
                tables.add(name)
    only_schemas = all(w in schemas for w in words)
    return list(dict.fromkeys(chosen)), (None if only_schemas else tables)


def _identifier(key: str) -> str:
    word = re.sub(r"[^0-9A-Za-z]+", "_", key).strip("_").lower() or "table"
    return word if re.match(r"[a-z]", word) else f"t_{word}"


def _camel(identifier: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in identifier.split("_") if part)


def _unique(name: str, taken: set[str]) -> str:
    chosen, n = name, 1
    while chosen in taken:
        n += 1
        chosen = f"{name}_{n}" if n > 2 else f"{name}_rel"
    taken.add(chosen)
    return chosen


def _attribute(column_name: str) -> str:
    word = re.sub(r"\W", "_", column_name)
    if not re.match(r"[A-Za-z_]", word):
        word = f"c_{word}"
    if word in _TAKEN_ATTRIBUTES or word.startswith("_"):
        word = f"{word}_"
    return word


def reflect(
    url: str | sa.URL,
    spec: str = PREFIX,
    settings: str | Path | None = None,
    own_apart: bool = False,
) -> Reflection:
    """Reflect the database at ``url`` into mapped classes (see the module's docstring).

    ``own_apart``: the console's tables are not in this SQLite file (console.own_file).
    """
    where, overrides = load_settings(settings)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        schemas, wanted = _selection(engine, spec)
        metadata = sa.MetaData()
        views: set[str] = set()
        chosen: list[str] = []
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            for schema in schemas:
                dialect = conn.dialect.name
                names = [n for n in inspector.get_table_names(schema=schema)
                         if not _excluded(n, dialect, own_apart)]
                view_names = [n for n in inspector.get_view_names(schema=schema)
                              if not _excluded(n, dialect, own_apart)]
                prefix = f"{schema}." if schema else ""
                if wanted is not None:
                    names = [n for n in names if prefix + n in wanted]
                    view_names = [n for n in view_names if prefix + n in wanted]
                metadata.reflect(conn, schema=schema, only=[*names, *view_names], views=True)
                if conn.dialect.name == "sqlite":
                    _sqlite_rules(conn, metadata, names)
                views |= {prefix + n for n in view_names}
                selected = {prefix + n for n in (*names, *view_names)}
                chosen += sorted(selected)
                if wanted is not None:
                    wanted -= selected
            if wanted:
                raise CatalogueError(
                    f"CONSOLE_MODELS={spec}: no table or schema {', '.join(sorted(wanted))}"
                )
    finally:
        engine.dispose()
    # Tables the selected ones refer to are reflected too, but only the selected are managed.
    return _map(metadata, chosen, views, where, overrides)


def _sqlite_quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_delete_rules(conn: sa.Connection, table: str) -> dict[tuple[str, str], str]:
    """SQLite's own ON DELETE rules of ``table``'s foreign keys: {(column, referred table):
    rule}. SQLAlchemy's inspector misses a rule written inline in a column's definition
    (``parent_id INTEGER REFERENCES parent (id) ON DELETE CASCADE``); PRAGMA has them all."""
    rows = conn.exec_driver_sql(f"PRAGMA foreign_key_list({_sqlite_quoted(table)})").all()
    return {(str(row[3]), str(row[2])): str(row[6]).upper() for row in rows}


def _sqlite_rules(conn: sa.Connection, metadata: sa.MetaData, names: Iterable[str]) -> None:
    """What SQLAlchemy's SQLite reflection misses when written inline in a column's definition
    (``REFERENCES t(id) ON DELETE CASCADE``, ``email TEXT UNIQUE``), read from SQLite's
    PRAGMAs. Only this reflection's metadata changes."""
    for name in names:
        table = metadata.tables.get(name)
        if table is None:
            continue
        quoted = _sqlite_quoted(name)
        rules = sqlite_delete_rules(conn, name)
        for fk in table.foreign_key_constraints:
            if fk.ondelete is None and len(fk.elements) == 1:
                element = fk.elements[0]
                rule = rules.get((element.parent.name, element.column.table.name))
                if rule and rule != "NO ACTION":
                    fk.ondelete = element.ondelete = rule
        for row in conn.exec_driver_sql(f"PRAGMA index_list({quoted})").all():
            index_name, unique, origin = row[1], row[2], row[3]
            if not unique or origin != "u":
                continue
            index_quoted = '"' + str(index_name).replace('"', '""') + '"'
            columns = [r[2] for r in conn.exec_driver_sql(f"PRAGMA index_info({index_quoted})")]
            if len(columns) == 1 and columns[0] in table.c:
                column = table.c[columns[0]]
                known = any(
                    isinstance(c, sa.UniqueConstraint) and list(c.columns) == [column]
                    for c in table.constraints
                )
                if not known:
                    table.append_constraint(sa.UniqueConstraint(column))


def _map(
    metadata: sa.MetaData,
    keys: Iterable[str],
    views: set[str],
    where: str,
    overrides: dict[str, dict[str, Any]],
) -> Reflection:
    skipped: list[tuple[str, str]] = []
    candidates: dict[str, sa.Table] = {}
    for key in keys:
        table = metadata.tables[key]
        if table.name.endswith("alembic_version"):  # reflect() left out the others
            continue
        if key in views:
            if not len(table.c):
                skipped.append((key, "a view without columns"))
                continue
            # In this reflection's metadata only: the view's rows are told apart by it.
            table.append_constraint(sa.PrimaryKeyConstraint(_view_key(table)))
            candidates[key] = table
            continue
        pk_columns = list(table.primary_key.columns)
        if not pk_columns:
            skipped.append((key, "no primary key"))
        elif len(pk_columns) > 1:
            listed = ", ".join(c.name for c in pk_columns)
            skipped.append((key, f"composite primary key ({listed})"))
        else:
            candidates[key] = table
    # Foreign keys the console cannot follow skip the child table (until none is left).
    changed = True
    while changed:
        changed = False
        for key, table in list(candidates.items()):
            for fk in table.foreign_key_constraints:
                parent = fk.elements[0].column.table if fk.elements else None
                if parent is None or parent.key not in candidates:
                    continue
                reason = None
                if len(fk.elements) != 1:
                    reason = f"composite foreign key ({', '.join(fk.column_keys)})"
                elif OnDelete.of_rule(fk.ondelete) is None:
                    reason = f"ON DELETE {fk.ondelete} on {fk.column_keys[0]} is not supported"
                if reason:
                    skipped.append((key, reason))
                    del candidates[key]
                    changed = True
                    break
    unknown = sorted(set(overrides) - set(candidates))
    if unknown:
        reasons = dict(skipped)
        first = unknown[0]
        why = f"it is skipped: {reasons[first]}" if first in reasons else (
            f"no such table (tables: {', '.join(sorted(candidates))})")
        raise CatalogueError(f"{where} [{first}]: {why}")

    class ReflectedBase(DeclarativeBase):
        """The base of this reflection's classes (a registry of their own)."""

        metadata = sa.MetaData()

    names: set[str] = set()
    class_names: set[str] = set()
    classes: dict[str, type] = {}
    attributes: dict[str, set[str]] = {}
    for key, table in sorted(candidates.items()):
        ident = _identifier(key)
        name = _unique(ident + "_table" if ident in RESERVED_NAMES else ident, names)
        class_name = _unique(_camel(name), class_names)
        raw = dict(overrides.get(key, {}))
        source = f"{where} [{key}]" if where else f"[{key}]"
        try:
            Options.of(raw, class_name, source)  # unknown keys, named by table and option
        except (TypeError, ValueError) as exc:
            raise CatalogueError(str(exc)) from None
        inferred = infer(table, name, is_view=key in views)
        if key in views and raw.get("read_only") is False:
            raise CatalogueError(f"{source} read_only: {key!r} is a view, it stays read-only")
        options = {**inferred, **raw}
        body: dict[str, Any] = {
            "__table__": table,
            "__console__": options,
            "__console_source__": source,
            "__str__": _row_label,
        }
        taken: set[str] = set()
        for column in table.columns:
            column.info.setdefault("secret", False)  # hidden is decided by the options
            attribute = _attribute(column.name)
            if attribute != column.key:
                body[attribute] = table.c[column.key]
            taken.add(attribute)
        attributes[key] = taken
        classes[key] = type(class_name, (ReflectedBase,), body)
    _relate(candidates, classes, attributes)
    models = [classes[key] for key in sorted(classes)]
    for key, reason in skipped:
        log.warning("Reflection: table %s is not managed: %s", key, reason)
    return Reflection(models, sorted(skipped))


def _row_label(self: Any) -> str:
    """A reflected row as people see it: its label column's value (else its key)."""
    cls = type(self)
    found = catalogue_of(cls)
    description = found.get(cls) if found is not None else None
    if description is None:
        return f"{cls.__name__} {sa.inspect(self).identity}"
    value = getattr(self, description.label.key, None)
    if value is None:
        value = getattr(self, description.pk.key, None)
    return str(value)


def _relate(
    tables: dict[str, sa.Table], classes: dict[str, type], taken: dict[str, set[str]]
) -> None:
    """Many-to-one and one-to-many relationships from the foreign keys, with back_populates."""
    edges: list[tuple[str, str, sa.ForeignKeyConstraint]] = []
    for key, table in sorted(tables.items()):
        for fk in sorted(table.foreign_key_constraints, key=lambda c: (c.column_keys, str(c.name))):
            referred = fk.elements[0].column.table
            if referred.key not in classes or key not in classes:
                continue
            edges.append((key, referred.key, fk))
    per_pair: dict[tuple[str, str], int] = {}
    for child, parent, _fk in edges:
        per_pair[(child, parent)] = per_pair.get((child, parent), 0) + 1
    for child, parent, fk in edges:
        column = fk.elements[0].parent
        attribute = _attribute(column.name)
        base = attribute[:-3] if attribute.endswith("_id") and len(attribute) > 3 else attribute
        reference = _unique(base, taken[child])
        plural = "_".join(pluralise(_identifier(tables[child].name).replace("_", " ")).split())
        wanted = plural if per_pair[(child, parent)] == 1 and child != parent else (
            f"{plural}_by_{reference}" if child != parent else "children")
        collection = _unique(wanted, taken[parent])
        policy = OnDelete.of_rule(fk.ondelete)
        assert policy is not None
        child_cls, parent_cls = classes[child], classes[parent]
        remote: dict[str, Any] = (
            {"remote_side": [fk.elements[0].column]} if child == parent else {}
        )
        setattr(child_cls, reference, relationship(
            parent_cls, foreign_keys=[column], back_populates=collection, **remote))
        setattr(parent_cls, collection, relationship(
            child_cls, foreign_keys=[column], back_populates=reference, lazy="select",
            **RELATIONSHIP_OPTIONS[policy]))


# -- inference --------------------------------------------------------------------------------


def _view_key(table: sa.Table) -> sa.Column[Any]:
    """What identifies a view's rows: its ``id`` column, else its first."""
    found = table.c.get("id")
    return found if found is not None else next(iter(table.c))


def _unique_alone(table: sa.Table, column: sa.Column[Any]) -> bool:
    if column.unique:
        return True
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint) and list(constraint.columns) == [column]:
            return True
    return any(index.unique and list(index.columns) == [column] for index in table.indexes)


def _text(column: sa.Column[Any]) -> TextKind | None:
    try:
        kind = kind_of(column)
    except Exception:  # a type the console has no kind for is not text
        return None
    return kind if isinstance(kind, TextKind) else None


def infer(table: sa.Table, name: str, *, is_view: bool = False) -> dict[str, Any]:
    """The options reflection infers for ``table`` (``name``: its endpoint)."""
    hidden = [_attribute(c.name) for c in table.columns if SECRET_NAME.search(c.name)]
    pk = next(iter(table.primary_key.columns), None)
    if is_view:
        pk = _view_key(table)
    fks = {element.parent for fk in table.foreign_key_constraints for element in fk.elements}
    shown = [c for c in table.columns if _attribute(c.name) not in hidden]
    unique = [c for c in shown if c is not pk and _unique_alone(table, c)]
    unique.sort(key=lambda c: _text(c) is None)  # text first, then table order
    natural = unique[0] if unique else pk
    assert natural is not None
    short_text = [
        c for c in shown
        if c not in fks and (text := _text(c)) is not None
        and 0 < (text.max_length or 0) <= LABEL_MAX
        and (not c.nullable or _unique_alone(table, c))
    ]
    label = short_text[0] if short_text else natural
    words = name.replace("_", " ")
    # A table named in the plural already ("orders", "customer_orders") keeps its name.
    plural = words if re.search(r"[^s]s$", words) else pluralise(words)
    options: dict[str, Any] = {
        "name": name,
        "singular": words,
        "plural": plural,
        "natural_key": _attribute(natural.name),
        "label": _attribute(label.name),
        "hidden": hidden,
    }
    if is_view:
        options["read_only"] = True
    return options


# -- the settings file, printed ------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def effective_options(description: ModelDescription) -> dict[str, Any]:
    """The options that give ``description`` as it is: what ``console describe`` prints."""
    defaults = Options()
    options: dict[str, Any] = {}
    for item in fields(Options):
        value = getattr(description.options, item.name)
        if value != getattr(defaults, item.name):
            options[item.name] = list(value) if isinstance(value, tuple) else value
    options.update(
        name=description.name,
        singular=description.singular,
        plural=description.plural,
        natural_key=description.natural_key.key,
        label=description.label.key,
        hidden=[c.key for c in description.columns if c.hidden],
        read_only=description.read_only,
    )
    order = [f.name for f in fields(Options)]
    return {k: options[k] for k in order if k in options}


def settings_text(catalogue: Catalogue) -> str:
    """Every managed table's options as a settings file, the skipped tables as comments."""
    lines = [
        "# Console settings (CONSOLE_SETTINGS): one table per database table, with the keys",
        "# of console.declare.Options. Printed by `console describe` from what the console",
        "# uses now (inferred, or set by the settings file in use); edit and keep what you need.",
    ]
    for description in sorted(catalogue.models, key=lambda d: d.table.key):
        lines += ["", f"[{_quoted(description.table.key)}]"]
        for key, value in effective_options(description).items():
            lines.append(f"{key} = {_toml_value(value)}")
    if catalogue.skipped:
        lines += ["", "# Not managed (the reason):"]
        lines += [f"# {table}: {reason}" for table, reason in catalogue.skipped]
    return "\n".join(lines) + "\n"


__all__ = ["Reflection", "effective_options", "infer", "is_reflect", "reflect", "settings_text"]
