"""The catalogue: one description of every model the console shows, built once at start-up.

Each description comes from SQLAlchemy metadata plus the model's ``__console__``
declaration (``console.declare.Options``) for what metadata cannot say: its names,
its columns with their kinds (``console.kinds``), keys, label, which columns are
hidden, toggled in place, bulk-editable, sortable and searchable, its parents and
children with their delete policies, and the columns of its import/export files.
A wrong declaration is refused here (``CatalogueError``), naming the model and the
option. Every engine and view reads the catalogue; nothing else names a model.

Plain SQLAlchemy, no Flask. ``load_models`` reads ``CONSOLE_MODELS``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, DateTime, Table, UniqueConstraint, inspect
from sqlalchemy.orm import Mapper, configure_mappers

from console.config import DEMO_MODELS
from console.declare import OnDelete, Options
from console.kinds import (
    BooleanKind,
    DateKind,
    EmailKind,
    IdKind,
    IntegerKind,
    Kind,
    ReferenceKind,
    TextKind,
    kind_of,
)

# Endpoints of the console's own pages: a model may not take one of these names.
RESERVED_NAMES = frozenset(
    {"admin", "account", "auditlog", "audit", "migrations", "relationships", "static", "login",
     "logout", "console_assets", "auth", "index", "home"}
)
# Column names that look like secrets: hidden unless a declaration says otherwise.
SECRET_NAME = re.compile(r"(^|_)(password|passwd|secret|token|api_?key|salt|hash)(_|$)", re.I)
LABEL_MAX = 255


class CatalogueError(ValueError):
    """A model or its declaration cannot be described; the message names both."""


# -- the relationship graph ----------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    """One foreign key between two described tables, with its delete policy.

    ``collection`` and ``reference`` name the ORM relationships on the parent and
    the child, where the models have them.
    """

    parent: type
    child: type
    fk: Column[Any]
    target: Column[Any]
    policy: OnDelete
    collection: str | None = None
    reference: str | None = None

    @property
    def name(self) -> str:
        """``Child.fk_column``: names the edge in plans, fingerprints and audit entries."""
        return f"{self.child.__name__}.{self.fk.key}"


def mapper_of(cls: type) -> Mapper[Any]:
    """The mapper of a mapped class."""
    mapper: Mapper[Any] = inspect(cls)
    return mapper


def table_of(cls: type) -> Table:
    """The table a mapped class is mapped to."""
    table = mapper_of(cls).local_table
    assert isinstance(table, Table)
    return table


def relationship_graph(classes: Iterable[type]) -> list[Edge]:
    """Every foreign key between the tables of ``classes`` as an edge, in a stable order.

    The one walk of the relationship graph: delete plans, the audit entry of a
    delete, the Relationships page, children and references all read these edges.
    """
    by_table = {table_of(cls): cls for cls in classes}
    edges = []
    for table, child in sorted(by_table.items(), key=lambda item: item[0].name):
        for constraint in sorted(table.foreign_key_constraints, key=lambda c: str(c.name)):
            element = constraint.elements[0]
            parent = by_table.get(element.column.table)
            if parent is None:
                continue
            if len(constraint.elements) != 1:
                raise CatalogueError(
                    f"{child.__name__}: composite foreign key {constraint.name} is not supported"
                )
            policy = OnDelete.of_rule(constraint.ondelete)
            if policy is None:
                raise CatalogueError(
                    f"{child.__name__}.{element.parent.key}: ON DELETE {constraint.ondelete} "
                    "is not supported (use CASCADE, SET NULL, RESTRICT or NO ACTION)"
                )
            edges.append(
                Edge(
                    parent,
                    child,
                    element.parent,
                    element.column,
                    policy,
                    collection=_collection(parent, child, element.parent),
                    reference=_reference(child, element.parent),
                )
            )
    return edges


def _collection(parent: type, child: type, fk: Column[Any]) -> str | None:
    for rel in mapper_of(parent).relationships:
        one_to_many = rel.direction.name == "ONETOMANY" and rel.mapper.class_ is child
        if one_to_many and fk in rel.remote_side:
            return rel.key
    return None


def _reference(child: type, fk: Column[Any]) -> str | None:
    for rel in mapper_of(child).relationships:
        if rel.direction.name == "MANYTOONE" and fk in rel.local_columns:
            return rel.key
    return None


# -- descriptions --------------------------------------------------------------------------


@dataclass
class ColumnInfo:
    """One table column as the console treats it."""

    key: str
    column: Column[Any]
    label: str
    kind: Kind
    nullable: bool
    required: bool
    primary_key: bool = False
    hidden: bool = False
    bookkeeping: bool = False
    uneditable: bool = False
    toggle: bool = False
    bulk: bool = False
    sortable: bool = False
    searchable: bool = False
    # The header of its column in import/export files (None: not in files).
    file_name: str | None = None
    # The parent, when the column is a foreign key.
    reference: Edge | None = None

    @property
    def editable(self) -> bool:
        """True when forms, the grid and bulk edits may set it."""
        return not (self.primary_key or self.bookkeeping or self.hidden or self.uneditable)

    @property
    def is_reference(self) -> bool:
        """True for a foreign key to a described parent."""
        return self.reference is not None


@dataclass
class ModelDescription:
    """Everything the console knows about one model."""

    cls: type
    table: Table
    name: str
    singular: str
    plural: str
    columns: list[ColumnInfo]
    pk: ColumnInfo
    label: ColumnInfo
    natural_key: ColumnInfo
    version: ColumnInfo | None
    options: Options
    own: bool = False
    references: list[Edge] = field(default_factory=list)
    children: list[Edge] = field(default_factory=list)
    inline: list[Edge] = field(default_factory=list)
    due: ColumnInfo | None = None
    created: ColumnInfo | None = None
    changed: ColumnInfo | None = None
    catalogue: Catalogue | None = field(default=None, repr=False, compare=False)

    def __hash__(self) -> int:
        return hash(self.cls)

    @property
    def model_name(self) -> str:
        """The class name, as audit entries record it."""
        return self.cls.__name__

    @property
    def title(self) -> str:
        """The plural with a capital, as menus and headings show it ("To-do lists")."""
        return self.plural[:1].upper() + self.plural[1:]

    @property
    def read_only(self) -> bool:
        """True when nothing may be created, edited or deleted."""
        return self.options.read_only

    def parent_of(self, info: ColumnInfo) -> ModelDescription:
        """The description of the parent a reference column points to."""
        assert info.reference is not None and self.catalogue is not None
        return self.catalogue.describe(info.reference.parent)

    def column(self, key: str) -> ColumnInfo:
        """The column with attribute key ``key`` (KeyError when there is none)."""
        for info in self.columns:
            if info.key == key:
                return info
        raise KeyError(f"{self.model_name} has no column {key!r}")

    def find(self, key: str) -> ColumnInfo | None:
        """The column with attribute key ``key``, or None."""
        return next((c for c in self.columns if c.key == key), None)

    @property
    def visible(self) -> list[ColumnInfo]:
        """Columns people may see (not hidden or secret)."""
        return [c for c in self.columns if not c.hidden]

    @property
    def toggles(self) -> list[ColumnInfo]:
        """Boolean columns toggled in place in the list."""
        return [c for c in self.columns if c.toggle]

    @property
    def bulk_columns(self) -> list[ColumnInfo]:
        """Columns bulk edits may set."""
        return [c for c in self.columns if c.bulk]

    @property
    def sortable(self) -> list[ColumnInfo]:
        """Columns the list sorts by (each served by an index)."""
        return [c for c in self.columns if c.sortable]

    @property
    def searchable(self) -> list[ColumnInfo]:
        """Text columns the search box looks in."""
        return [c for c in self.columns if c.searchable]

    @property
    def file_columns(self) -> list[ColumnInfo]:
        """The columns of import and export files, in file order."""
        return [c for c in self.columns if c.file_name is not None]

    @property
    def checked_columns(self) -> list[ColumnInfo]:
        """What a write compares with the values the user loaded, when there is no version."""
        return [c for c in self.columns if not c.hidden and not c.primary_key]

    @property
    def done(self) -> ColumnInfo | None:
        """The first toggled boolean: the "done" flag of the dashboard's chart."""
        return next(iter(self.toggles), None)


@dataclass
class Catalogue:
    """The descriptions of every managed model (and of the console's own tables)."""

    models: list[ModelDescription]
    own: list[ModelDescription]
    edges: list[Edge]
    # Tables a reflected database has that the console cannot manage: (table, reason).
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_class = {d.cls: d for d in (*self.models, *self.own)}

    def __iter__(self) -> Iterator[ModelDescription]:
        return iter(self.models)

    @property
    def everything(self) -> list[ModelDescription]:
        """Managed models, then the console's own."""
        return [*self.models, *self.own]

    def describe(self, cls: type) -> ModelDescription:
        """The description of a described class (KeyError when it is not one)."""
        return self._by_class[cls]

    def get(self, cls: type) -> ModelDescription | None:
        """The description of ``cls``, or None."""
        return self._by_class.get(cls)

    def by_name(self, word: str) -> ModelDescription:
        """A managed model by what a user types: its name, table, singular or plural."""
        wanted = _word(word)
        for description in self.models:
            spellings = {
                description.name,
                description.table.name,
                description.singular,
                description.plural,
                description.model_name,
            }
            if wanted in {_word(s) for s in spellings}:
                return description
        names = ", ".join(d.name for d in self.models)
        raise KeyError(f"Unknown model {word!r}: choose {names}.")

    def children_of(self, cls: type) -> list[Edge]:
        """Edges from ``cls`` to its children."""
        return [e for e in self.edges if e.parent is cls]


def _word(text: str) -> str:
    return re.sub(r"[\s_\-]", "", text.strip().lower())


# -- building --------------------------------------------------------------------------------


def load_models(spec: str) -> list[type]:
    """The mapped classes of the modules named in ``spec`` (comma-separated), in module order."""
    from console.models import Base as ConsoleBase

    names = [part.strip() for part in (spec or DEMO_MODELS).split(",") if part.strip()]
    classes: list[type] = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise CatalogueError(f"CONSOLE_MODELS: cannot import {name!r}: {exc}") from exc
        found = 0
        for value in vars(module).values():
            if not isinstance(value, type) or value in classes:
                continue
            mapped: Any = inspect(value, raiseerr=False)
            if not isinstance(mapped, Mapper) or mapped.class_ is not value:
                continue
            if issubclass(value, ConsoleBase):
                continue  # the console's own tables are never "managed"
            classes.append(value)
            found += 1
        if not found:
            raise CatalogueError(f"CONSOLE_MODELS: module {name!r} maps no model")
    return classes


def build(classes: Iterable[type], own: Iterable[type] = ()) -> Catalogue:
    """Describe ``classes`` (the managed models) and ``own`` (the console's own tables)."""
    try:
        configure_mappers()
    except Exception as exc:  # an application's mapping error, shown at start-up
        raise CatalogueError(f"The models cannot be mapped: {exc}") from exc
    managed = list(dict.fromkeys(classes))
    own_list = [c for c in dict.fromkeys(own) if c not in managed]
    edges = relationship_graph([*managed, *own_list])
    models = [_describe(cls, edges, own=False) for cls in managed]
    own_models = [_describe(cls, edges, own=True) for cls in own_list]
    seen: dict[str, str] = {}
    for description in models:
        if description.name in RESERVED_NAMES:
            raise CatalogueError(
                f"{source_of(description.cls)} name: {description.name!r} is taken by "
                "a page of the console; choose another name"
            )
        if description.name in seen:
            raise CatalogueError(
                f"{source_of(description.cls)} name: {description.name!r} is also the "
                f"name of {seen[description.name]}; give one of them another name"
            )
        seen[description.name] = description.model_name
    catalogue = Catalogue(models, own_models, edges)
    for description in catalogue.everything:
        description.catalogue = catalogue
        _resolve_references(description, catalogue)
        _LATEST[description.cls] = catalogue
    return catalogue


# The catalogue each class was last described in, for code that has only an object in
# hand (the history's flush events, database error messages). Descriptions depend only
# on a class and its declaration, so any catalogue that describes it gives the same.
_LATEST: dict[type, Catalogue] = {}


def catalogue_of(cls: type) -> Catalogue | None:
    """The catalogue that last described ``cls`` (None when none has)."""
    return _LATEST.get(cls)


def source_of(cls: type) -> str:
    """What messages call a model's declaration: ``Model.__console__``, or where it came
    from (``__console_source__``: a settings file's table, for reflected models)."""
    return getattr(cls, "__console_source__", None) or f"{cls.__name__}.__console__"


def _describe(cls: type, edges: list[Edge], *, own: bool) -> ModelDescription:
    model = cls.__name__
    where = source_of(cls)
    try:
        options = Options.of(getattr(cls, "__console__", None), model, where)
    except (TypeError, ValueError) as exc:
        raise CatalogueError(str(exc)) from None
    mapper: Mapper[Any] = inspect(cls)
    table = mapper.local_table
    if not isinstance(table, Table):
        raise CatalogueError(f"{model}: only models mapped to a table are supported")
    if len(mapper.primary_key) != 1:
        raise CatalogueError(f"{model}: composite primary keys are not supported")

    columns_by_key = _own_columns(mapper)

    def option_columns(option: str, keys: Iterable[str] | None) -> list[str]:
        known = set(columns_by_key)
        chosen = list(keys or ())
        for key in chosen:
            if key not in known:
                raise CatalogueError(
                    f"{where} {option}: no column {key!r} "
                    f"(columns: {', '.join(sorted(known))})"
                )
        return chosen

    hidden = set(option_columns("hidden", options.hidden))
    for key, column in columns_by_key.items():
        secret = column.info.get("secret")
        # ``info["secret"] = False`` says "not a secret", whatever the name looks like.
        if secret or (secret is None and SECRET_NAME.search(key)):
            hidden.add(key)
    version_column = mapper.version_id_col
    emails = (
        set(option_columns("emails", options.emails))
        if options.emails is not None
        else {k for k, c in columns_by_key.items() if _looks_like_email(k, c)}
    )
    by_fk = {e.fk: e for e in edges if e.child is cls}
    pk_column = mapper.primary_key[0]

    infos: list[ColumnInfo] = []
    for key, column in columns_by_key.items():
        is_pk = column is pk_column
        is_version = version_column is not None and column is version_column
        if is_pk or is_version:
            natural = kind_of(column)
            kind: Kind = IdKind(size=natural.size) if isinstance(natural, IntegerKind) else natural
        else:
            kind = kind_of(column, email=key in emails)
        if key in emails and not isinstance(kind, EmailKind):
            raise CatalogueError(f"{where} emails: {key!r} is not a text column")
        edge = by_fk.get(column)
        info = ColumnInfo(
            key=key,
            column=column,
            label="ID" if is_pk and key == "id" else humanise(key),
            kind=kind,
            nullable=bool(column.nullable),
            required=_required(column, is_pk),
            primary_key=is_pk,
            hidden=key in hidden,
            bookkeeping=is_version or _is_timestamp(column),
            reference=edge,
        )
        infos.append(info)
    description = ModelDescription(
        cls=cls,
        table=table,
        name=options.name or model.lower(),
        singular=options.singular or _words(model),
        plural=options.plural or pluralise(options.singular or _words(model)),
        columns=infos,
        pk=next(c for c in infos if c.primary_key),
        label=infos[0],
        natural_key=infos[0],
        version=next((c for c in infos if version_column is not None
                      and c.column is version_column), None),
        options=options,
        own=own,
    )
    if not re.fullmatch(r"[a-z][a-z0-9_]*", description.name):
        raise CatalogueError(
            f"{where} name: {description.name!r} must be lower-case letters, digits "
            "and underscores, starting with a letter"
        )
    description.references = [e for e in edges if e.child is cls]
    description.children = [e for e in edges if e.parent is cls]
    _choose_keys(description, options, table)
    _choose_behaviour(description, options, table)
    return description


def _own_columns(mapper: Mapper[Any]) -> dict[str, Column[Any]]:
    """The mapped table's own columns by attribute key, in table order."""
    columns: dict[str, Column[Any]] = {}
    for column in mapper.local_table.columns:
        if not isinstance(column, Column):
            continue
        try:
            prop = mapper.get_property_by_column(column)
        except Exception:  # noqa: S112 - a column left out of the mapping is not shown
            continue
        columns[prop.key] = column
    return columns


def _looks_like_email(key: str, column: Column[Any]) -> bool:
    return isinstance(kind_of(column), TextKind) and (key == "email" or key.endswith("_email"))


def _required(column: Column[Any], is_pk: bool) -> bool:
    if column.nullable:
        return False
    if is_pk:
        return False
    return column.default is None and column.server_default is None


def _is_timestamp(column: Column[Any]) -> bool:
    """created_at/updated_at-like: a date-time the application or database fills in itself."""
    if not isinstance(column.type, DateTime):
        return False
    return column.onupdate is not None or (
        column.key in ("created_at", "created", "inserted_at", "updated_at", "modified_at")
        and (column.default is not None or column.server_default is not None)
    )


def _unique_alone(table: Table, column: Column[Any]) -> bool:
    """True when ``column`` alone is unique (its own constraint or index, or the key)."""
    if column.primary_key and len(table.primary_key.columns) == 1:
        return True
    if column.unique:
        return True
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and list(constraint.columns) == [column]:
            return True
    return any(
        index.unique and list(index.columns) == [column] for index in table.indexes
    )


def _index_serves(table: Table, column: Column[Any]) -> bool:
    """True when a b-tree index (or a key or unique constraint) of ``table`` starts with it."""
    if column.primary_key:
        return True
    for index in table.indexes:
        if index.info.get("trigram"):
            continue
        first = next(iter(index.expressions), None)
        if first is column:
            return True
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and len(constraint.columns) > 0:
            first = next(iter(constraint.columns))
            if first is column:
                return True
    return bool(column.unique or column.index)


def _choose_keys(description: ModelDescription, options: Options, table: Table) -> None:
    where = source_of(description.cls)
    if options.natural_key is not None:
        info = description.find(options.natural_key)
        if info is None:
            raise CatalogueError(
                f"{where} natural_key: no column {options.natural_key!r}"
            )
        if not _unique_alone(table, info.column):
            raise CatalogueError(
                f"{where} natural_key: {info.key!r} is not unique on its own "
                "(add a unique constraint or choose another column)"
            )
        description.natural_key = info
    else:
        unique_text = [
            c for c in description.columns
            if isinstance(c.kind, TextKind) and not c.hidden and _unique_alone(table, c.column)
        ]
        description.natural_key = unique_text[0] if len(unique_text) == 1 else description.pk
    if options.label is not None:
        info = description.find(options.label)
        if info is None:
            raise CatalogueError(f"{where} label: no column {options.label!r}")
        if info.hidden:
            raise CatalogueError(f"{where} label: {info.key!r} is hidden")
        description.label = info
    elif description.natural_key is not description.pk:
        description.label = description.natural_key
    else:
        text = [c for c in description.columns
                if isinstance(c.kind, TextKind) and not c.hidden and not c.is_reference]
        short = [c for c in text if 0 < (getattr(c.kind, "max_length", 0) or 0) <= LABEL_MAX]
        description.label = (short or text or [description.pk])[0]


def _choose_behaviour(description: ModelDescription, options: Options, table: Table) -> None:
    model = description.model_name
    where = source_of(description.cls)

    def named(option: str, keys: Iterable[str]) -> list[ColumnInfo]:
        chosen = []
        for key in keys:
            info = description.find(key)
            if info is None:
                raise CatalogueError(
                    f"{where} {option}: no column {key!r} (columns: "
                    f"{', '.join(c.key for c in description.columns)})"
                )
            if info.hidden:
                raise CatalogueError(f"{where} {option}: {key!r} is hidden")
            chosen.append(info)
        return chosen

    for info in named("toggles", options.toggles):
        if not isinstance(info.kind, BooleanKind):
            raise CatalogueError(f"{where} toggles: {info.key!r} is not a boolean")
        info.toggle = True

    for info in named("uneditable", options.uneditable):
        info.uneditable = True
    editable = [c for c in description.columns if c.editable]
    if options.bulk_edit is not None:
        for info in named("bulk_edit", options.bulk_edit):
            if not (info.kind.bulk or info.is_reference) or not info.editable:
                raise CatalogueError(
                    f"{where} bulk_edit: {info.key!r} cannot be bulk-edited "
                    "(booleans, choices, dates, numbers and references can)"
                )
            info.bulk = True
    else:
        for info in editable:
            info.bulk = info.kind.bulk or info.is_reference

    if options.sortable is not None:
        for info in named("sortable", options.sortable):
            if not _index_serves(table, info.column):
                raise CatalogueError(
                    f"{where} sortable: {info.key!r} has no index that starts with "
                    "it, so sorting a big table by it would read every row; add an index"
                )
            info.sortable = True
    else:
        # A reference shows its parent's label; sorting it by the parent's id would
        # look random, and no index of this table serves the label.
        for info in description.columns:
            info.sortable = (
                not info.hidden and not info.is_reference and _index_serves(table, info.column)
            )

    if options.searchable is not None:
        for info in named("searchable", options.searchable):
            if not info.kind.text_search:
                raise CatalogueError(f"{where} searchable: {info.key!r} is not text")
            info.searchable = True
    else:
        for info in description.columns:
            info.searchable = (
                info.kind.text_search and not info.hidden and not info.is_reference
            )

    for info in description.columns:
        if info.hidden or (info.bookkeeping and info is not description.version):
            continue
        if isinstance(info.kind, Kind) and type(info.kind) is Kind:
            continue  # a kind the files cannot carry
        if info.is_reference:
            info.file_name = info.key.removesuffix("_id") if info.key.endswith("_id") else info.key
        else:
            # Any primary key the files can carry: a text code may be the only key there is.
            info.file_name = info.key
    names = [c.file_name for c in description.columns if c.file_name]
    if len(names) != len(set(names)):
        raise CatalogueError(f"{model}: two columns would share a file column name: {names}")
    if description.version is not None and description.version.file_name:
        # The version goes last in files (it is what an edited export is checked against).
        description.columns.remove(description.version)
        description.columns.append(description.version)

    if options.inline is not None:
        keys = {e.collection: e for e in description.children if e.collection}
        for key in options.inline:
            if key not in keys:
                raise CatalogueError(
                    f"{where} inline: no one-to-many relationship {key!r} "
                    f"(relationships: {', '.join(sorted(keys)) or 'none'})"
                )
            description.inline.append(keys[key])
    else:
        description.inline = [
            e for e in description.children if e.collection and not e.fk.nullable
        ]

    if options.due is not None:
        due = description.find(options.due)
        if due is None or not isinstance(due.kind, DateKind):
            raise CatalogueError(f"{where} due: {options.due!r} is not a date column")
        description.due = due
    description.created = next(
        (c for c in description.columns
         if isinstance(c.column.type, DateTime) and c.key in ("created_at", "created")),
        None,
    )
    description.changed = next(
        (c for c in description.columns
         if isinstance(c.column.type, DateTime) and c.column.onupdate is not None),
        None,
    )


def _resolve_references(description: ModelDescription, catalogue: Catalogue) -> None:
    """Give each reference column the kind of its parent's natural key."""
    for info in description.columns:
        if info.reference is None:
            continue
        parent = catalogue.get(info.reference.parent)
        if parent is None:
            continue
        key_kind = parent.natural_key.kind
        if isinstance(key_kind, IntegerKind) and not isinstance(key_kind, IdKind):
            key_kind = IdKind(size=key_kind.size)
        info.kind = ReferenceKind(key_kind=key_kind)
        if not info.label or info.label == humanise(info.key):
            info.label = humanise(info.file_name or info.key.removesuffix("_id"))


# -- words ------------------------------------------------------------------------------------


def humanise(name: str) -> str:
    """``due_date`` -> ``Due date``."""
    return name.replace("_", " ").strip().capitalize()


def _words(class_name: str) -> str:
    """``OrderLine`` -> ``order line``; ``HTTPRoute`` -> ``http route``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", class_name)
    return spaced.replace("_", " ").lower()


_IRREGULAR = {"person": "people", "child": "children", "man": "men", "woman": "women",
              "mouse": "mice", "goose": "geese", "foot": "feet", "tooth": "teeth"}


def pluralise(words: str) -> str:
    """The plural of a name's last word, by the common English rules (override: ``plural``)."""
    head, _, last = words.rpartition(" ")
    prefix = f"{head} " if head else ""
    if last in _IRREGULAR:
        return prefix + _IRREGULAR[last]
    if re.search(r"[^aeiou]y$", last):
        return prefix + last[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", last):
        return prefix + last + "es"
    return prefix + last + "s"


__all__ = [
    "Catalogue",
    "CatalogueError",
    "ColumnInfo",
    "Edge",
    "ModelDescription",
    "build",
    "catalogue_of",
    "load_models",
    "relationship_graph",
]
