"""Delete impact: plan what deleting rows will do, then do exactly that or nothing.

Plain SQLAlchemy, no Flask: the views and any CLI command are thin callers.

The model graph is the catalogue's (``console.catalogue.relationship_graph``: every
foreign key between described tables), so relationships with ORM attributes and
plain foreign keys such as ``audit_entry.account_id`` are both followed. The policy
of each edge is the ``ON DELETE`` rule the models declare; the rule present in the
connected database is reflected and compared (``relationship_report``), and a
delete is refused while they disagree, because the database would then do
something else than the preview said.

Row sets are SQL predicates (``pk IN (SELECT ...)``), so a preview runs a few
aggregate queries whatever the number of rows; only cascade cycles (a table that
cascades into itself, directly or through others) are expanded level by level,
which stops when a level adds no new row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Select,
    delete,
    false,
    func,
    inspect,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint

from console.audit import record
from console.catalogue import Edge, mapper_of, table_of
from console.declare import RELATIONSHIP_OPTIONS, OnDelete
from console.extensions import rowcount
from console.history import json_value, snapshot

EXAMPLES = 10
UNCOUNTED = -1
_CHUNK = 500


class PlanError(ValueError):
    """The rows to delete were given in a form that cannot be planned (e.g. a bad id)."""


# -- the model graph ---------------------------------------------------------------------
# ``console.catalogue.relationship_graph`` walks it; every function here takes its edges.


# -- plans -----------------------------------------------------------------------------


@dataclass
class Example:
    """One row shown as an example of an effect."""

    model: type
    id: Any
    label: str


@dataclass
class Effect:
    """Rows of one model affected one way: deleted, set to NULL through an edge, or blocking."""

    kind: str  # "delete", "set_null" or "block"
    model: type
    count: int
    examples: list[Example]
    edge: Edge | None = None


@dataclass
class Plan:
    """What deleting the selected rows of ``model`` would do, as of the moment it was made."""

    model: type
    requested: list[Any] | None
    selected_count: int
    selected: list[Example]
    missing: list[Any]
    deleted: list[Effect]
    nulled: list[Effect]
    blocking: list[Effect]
    drift: list[str]
    fingerprint: str = ""
    _root: Any = field(default=None, repr=False)
    _selection_digest: tuple[int, int, int] = (0, 0, 0)

    @property
    def blocked(self) -> bool:
        """True when RESTRICT rows exist: the delete cannot go ahead."""
        return any(e.count for e in self.blocking)

    @property
    def cascaded(self) -> list[Effect]:
        """Rows deleted besides the selection itself, per model (non-zero only)."""
        out = []
        for effect in self.deleted:
            extra = effect.count - (self.selected_count if effect.model is self.model else 0)
            if extra > 0:
                out.append(
                    Effect(
                        "delete",
                        effect.model,
                        extra,
                        [x for x in effect.examples if effect.model is not self.model
                         or x.id not in {s.id for s in self.selected}],
                    )
                )
        return out

    def summary(self) -> dict[str, Any]:
        """Counts per model and edge, JSON-safe, for audit entries."""
        data: dict[str, Any] = {
            "deleted": {e.model.__name__: e.count for e in self.deleted if e.count},
            "set_null": {e.edge.name: e.count for e in self.nulled if e.count and e.edge},
        }
        if self.requested is not None:
            data["ids"] = [json_value(i) for i in self.requested[:1000]]
            if len(self.requested) > 1000:
                data["ids_truncated"] = len(self.requested)
        return data


def _pk(model: type) -> Column[Any]:
    keys = mapper_of(model).primary_key
    if len(keys) != 1:
        raise PlanError(f"{model.__name__}: composite primary keys are not supported")
    key = keys[0]
    assert isinstance(key, Column)
    return key


def _version(model: type) -> Column[Any] | None:
    return inspect(model).version_id_col


def _root_predicate(model: type, selection: Any) -> tuple[ColumnElement[bool], list[Any] | None]:
    pk = _pk(model)
    if isinstance(selection, Select):
        return pk.in_(selection.scalar_subquery()), None
    values = [selection] if isinstance(selection, int | str) else list(selection)
    try:
        python_type = pk.type.python_type
        ids = list(dict.fromkeys(python_type(v) for v in values))
    except (TypeError, ValueError) as exc:
        raise PlanError(f"Not a valid {model.__name__} id: {exc}") from None
    if not ids:
        raise PlanError("No rows were selected.")
    return pk.in_(ids), ids


def _examples(session: Session, model: type, where: ColumnElement[bool]) -> list[Example]:
    pk = _pk(model)
    rows: Iterable[Any] = session.scalars(select(model).where(where).order_by(pk).limit(EXAMPLES))
    return [Example(model, getattr(row, pk.key), str(row)) for row in rows]


def _count(session: Session, model: type, where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(where)) or 0)


def _components(nodes: list[type], edges: list[Edge]) -> list[list[type]]:
    """Strongly connected components of the cascade graph, parents before children (Tarjan)."""
    index: dict[type, int] = {}
    low: dict[type, int] = {}
    stack: list[type] = []
    on_stack: set[type] = set()
    out: list[list[type]] = []

    def visit(node: type) -> None:
        # Recursion depth is bounded by the number of models, not of rows.
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in edges:
            if edge.parent is not node:
                continue
            if edge.child not in index:
                visit(edge.child)
                low[node] = min(low[node], low[edge.child])
            elif edge.child in on_stack:
                low[node] = min(low[node], index[edge.child])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member is node:
                    break
            out.append(component)

    for node in nodes:
        if node not in index:
            visit(node)
    out.reverse()
    return out


def _source(edge: Edge, parent_where: ColumnElement[bool]) -> ColumnElement[bool]:
    return edge.fk.in_(select(edge.target).where(parent_where).scalar_subquery())


def _expand_cycle(
    session: Session,
    members: list[type],
    seeds: dict[type, ColumnElement[bool]],
    internal: list[Edge],
) -> dict[type, ColumnElement[bool]]:
    """Rows of a cascade cycle, level by level; stops when a level adds nothing new."""
    found: dict[type, set[Any]] = {m: set() for m in members}
    fresh: dict[type, set[Any]] = {}
    for model in members:
        where = seeds.get(model)
        rows = set(session.scalars(select(_pk(model)).where(where))) if where is not None else set()
        found[model] |= rows
        fresh[model] = rows
    # Each pass adds at least one row that was not there, so it ends within the row count.
    while any(fresh.values()):
        new: dict[type, set[Any]] = {m: set() for m in members}
        for edge in internal:
            targets = fresh[edge.parent]
            if edge.target is not _pk(edge.parent) and targets:
                targets = set(
                    session.scalars(select(edge.target).where(_pk(edge.parent).in_(targets)))
                )
            for chunk in _chunks(sorted(targets)):
                keys = set(session.scalars(select(_pk(edge.child)).where(edge.fk.in_(chunk))))
                new[edge.child] |= keys - found[edge.child]
        for model in members:
            found[model] |= new[model]
        fresh = new
    return {m: (_pk(m).in_(sorted(found[m])) if found[m] else false()) for m in members}


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def begin_for_write(session: Session) -> None:
    """On SQLite, take the write lock now, so nobody writes between the plan and the delete.

    SQLite has no FOR UPDATE, and the driver would begin the transaction only at the
    DELETE, after the plan was counted.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.driver_connection
    if raw is not None and not raw.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def plan_delete(
    session: Session,
    model: type,
    selection: Any,
    *,
    edges: Sequence[Edge],
    lock: bool = False,
    check_database: bool = True,
    examples: bool = True,
    count_effects: bool = True,
) -> Plan:
    """Plan deleting ``selection`` (an id, a list of ids or a Select of ids) of ``model``.

    With ``lock`` the selected rows are locked (FOR UPDATE, where the database has
    it) first, so that nobody can add children to them before the delete runs.
    Without ``examples`` only counts are made (what the executor needs to compare).
    """
    root, requested = _root_predicate(model, selection)
    pk = _pk(model)
    if lock:
        begin_for_write(session)
        session.execute(select(pk).where(root).with_for_update()).all()
    version_col = _version(model)
    selected_count, digest, versions = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(pk), 0),
            func.coalesce(func.sum(version_col), 0) if version_col is not None else literal(0),
        )
        .select_from(model)
        .where(root)
    ).one()
    selected = _examples(session, model, root) if examples and selected_count else []
    missing: list[Any] = []
    if requested is not None and selected_count < len(requested):
        present = set(session.scalars(select(pk).where(root)))
        missing = [i for i in requested if i not in present]

    # Which models the cascade reaches, then their row sets in dependency order.
    cascade = [e for e in edges if e.policy is OnDelete.CASCADE]
    reached = [model]
    for current in reached:
        for edge in cascade:
            if edge.parent is current and edge.child not in reached:
                reached.append(edge.child)
    inner = [e for e in cascade if e.parent in reached and e.child in reached]
    where: dict[type, ColumnElement[bool]] = {}
    for members in _components(reached, inner):
        seeds: dict[type, ColumnElement[bool]] = {}
        for member in members:
            sources = [root] if member is model else []
            sources += [
                _source(e, where[e.parent])
                for e in inner
                if e.child is member and e.parent not in members
            ]
            if sources:
                seeds[member] = or_(*sources)
        internal = [e for e in inner if e.parent in members and e.child in members]
        if internal:
            where.update(_expand_cycle(session, members, seeds, internal))
        else:
            where.update(seeds)

    # Without count_effects, deleted and nulled counts stay UNCOUNTED: the executor takes
    # them from the database's own row counters after the DELETE instead.
    deleted = []
    for target in reached:
        if where[target] is root:
            deleted.append(Effect("delete", target, int(selected_count), selected))
            continue
        count = _count(session, target, where[target]) if count_effects else UNCOUNTED
        shown = _examples(session, target, where[target]) if examples and count > 0 else []
        deleted.append(Effect("delete", target, count, shown))

    nulled: list[Effect] = []
    blocking: list[Effect] = []
    for edge in edges:
        if edge.parent not in where or edge.policy is OnDelete.CASCADE:
            continue
        condition = _source(edge, where[edge.parent])
        if edge.policy is OnDelete.SET_NULL and edge.child in where:
            # Rows deleted anyway are not also counted as set to NULL.
            child_pk = _pk(edge.child)
            condition = condition & child_pk.not_in(
                select(child_pk).where(where[edge.child]).scalar_subquery()
            )
        measured_later = edge.policy is OnDelete.SET_NULL and not count_effects
        count = UNCOUNTED if measured_later else _count(session, edge.child, condition)
        shown = _examples(session, edge.child, condition) if examples and count > 0 else []
        effect = Effect(
            "set_null" if edge.policy is OnDelete.SET_NULL else "block",
            edge.child, count, shown, edge,
        )
        (nulled if edge.policy is OnDelete.SET_NULL else blocking).append(effect)

    drift: list[str] = []
    if check_database:
        involved = {table_of(e.child).name for e in edges if e.parent in where}
        drift = [
            row.problem
            for row in relationship_report(session.connection(), edges, tables=involved)
            if row.problem and row.database_problem
        ]

    plan = Plan(
        model, requested, int(selected_count), selected, missing, deleted, nulled, blocking, drift,
        _root=root,
    )
    plan._selection_digest = (int(selected_count), int(digest), int(versions))
    plan.fingerprint = _fingerprint(plan)
    return plan


def _fingerprint(plan: Plan) -> str:
    """Every effect's count plus the selection's id sum and versions.

    A new child, a new blocking row, a row gone or a selected row edited since the
    preview all give another fingerprint.
    """
    data = {
        "model": plan.model.__name__,
        "selected": list(plan._selection_digest),
        "effects": [
            [e.kind, e.model.__name__, e.edge.name if e.edge else "", e.count]
            for e in (*plan.deleted, *plan.nulled, *plan.blocking)
        ],
        "drift": plan.drift,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


# -- execution ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a confirmed delete came to: done, or refused with the current plan and why."""

    done: bool
    plan: Plan
    reason: str | None = None
    message: str | None = None


def _counters(session: Session, tables: list[Any]) -> dict[str, tuple[int, int]] | None:
    """Rows deleted and updated so far in this transaction, per table (PostgreSQL only)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    preparer = session.get_bind().dialect.identifier_preparer
    names = [preparer.format_table(t) for t in tables]
    rows = session.execute(
        text(
            "SELECT t.name, coalesce(s.n_tup_del, 0), coalesce(s.n_tup_upd, 0) "
            "FROM unnest(CAST(:names AS text[])) AS t(name) "
            "LEFT JOIN pg_stat_xact_user_tables AS s ON s.relid = to_regclass(t.name)"
        ),
        {"names": names},
    ).all()
    by_name = {name: (int(deleted), int(updated)) for name, deleted, updated in rows}
    return {t.name: by_name[n] for t, n in zip(tables, names, strict=True)}


def _measurable(plan: Plan) -> list[Any] | None:
    """The tables whose counters tell each effect apart, or None when two effects share one."""
    tables = [table_of(e.model) for e in (*plan.deleted, *plan.nulled)]
    return tables if len({t.name for t in tables}) == len(tables) else None


def execute_delete(
    session: Session,
    model: type,
    selection: Any,
    fingerprint: str,
    *,
    edges: Sequence[Edge],
    account: Any = None,
    check: Callable[[Session], str | None] | None = None,
    measure: bool = True,
) -> Outcome:
    """Delete ``selection`` in one transaction, if the plan still has ``fingerprint``.

    The plan is made again inside the transaction, with the selected rows locked:
    when it differs from the one the user confirmed (or the delete is blocked, or
    models and database disagree) nothing is deleted and the new plan is returned.
    Otherwise one DELETE of the selected rows runs and the database's own ON DELETE
    rules do the rest. On PostgreSQL the rows deleted and set to NULL are then read
    from the transaction's own row counters (what really happened, at no cost)
    rather than counted beforehand; anywhere else they are counted before the
    DELETE. Either way a difference rolls everything back. ``check`` runs after the
    DELETE and may refuse (its message), which also rolls back.
    """

    def refuse(reason: str, message: str | None = None) -> Outcome:
        session.rollback()
        shown = plan_delete(session, model, selection, edges=edges)
        session.rollback()
        return Outcome(False, shown, reason, message)

    try:
        plan = plan_delete(
            session, model, selection, edges=edges, lock=True, examples=False,
            count_effects=not measure or session.get_bind().dialect.name != "postgresql",
        )
        tables = _measurable(plan)
        if tables is None and any(e.count == UNCOUNTED for e in (*plan.deleted, *plan.nulled)):
            plan = plan_delete(session, model, selection, edges=edges, examples=False)
        if plan.drift:
            return refuse("drift")
        if plan.blocked:
            return refuse("blocked")
        if plan.selected_count == 0:
            return refuse("missing")
        measured = any(e.count == UNCOUNTED for e in (*plan.deleted, *plan.nulled))
        if not measured and plan.fingerprint != fingerprint:
            return refuse("changed")
        single = plan.selected_count == 1 and plan.requested is not None
        before, object_id = None, None
        if single:
            row: Any = session.scalars(select(model).where(plan._root)).one()
            before = snapshot(row)
            object_id = getattr(row, _pk(model).key)
        baseline = _counters(session, tables) if measured and tables else None
        result = session.execute(
            delete(model).where(plan._root), execution_options={"synchronize_session": False}
        )
        if rowcount(result) != plan.selected_count:
            return refuse("changed")
        if baseline is not None and tables:
            after = _counters(session, tables) or {}
            root_table = table_of(model).name
            if after[root_table][0] - baseline[root_table][0] < plan.selected_count:
                # Counters off on this server (track_counts): count beforehand instead.
                session.rollback()
                return execute_delete(
                    session, model, selection, fingerprint, edges=edges, account=account,
                    check=check, measure=False,
                )
            for effect in plan.deleted:
                name = table_of(effect.model).name
                effect.count = after[name][0] - baseline[name][0]
            for effect in plan.nulled:
                name = table_of(effect.model).name
                effect.count = after[name][1] - baseline[name][1]
            plan.fingerprint = _fingerprint(plan)
            if plan.fingerprint != fingerprint:
                return refuse("changed")
        message = check(session) if check else None
        if message:
            return refuse("refused", message)
        summary = plan.summary()
        changes: dict[str, Any]
        if single:
            changes = {"before": before, "after": {}}
            if plan.cascaded or any(e.count for e in plan.nulled):
                changes["summary"] = summary
        else:
            changes = {"summary": summary}
        record(session, "delete", account=account, model=model.__name__,
               object_id=object_id, changes=changes)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    session.expire_all()
    return Outcome(True, plan)


# -- models versus database --------------------------------------------------------------


@dataclass
class RelationshipRow:
    """One relationship as the models declare it and as the database has it."""

    edge: Edge
    declared: str
    database: str | None
    orm: dict[str, Any]
    problem: str | None = None
    database_problem: bool = False
    advice: str | None = None
    # The one statement a DBA can run to fix the database's ON DELETE rule, where there is one.
    sql: str | None = None


def _rule_text(rule: str | None) -> str:
    return (rule or "NO ACTION").upper()


def _orm_options(edge: Edge) -> dict[str, Any]:
    """The parent-side relationship's options, or {} when the edge has none in the ORM."""
    mapper = mapper_of(edge.parent)
    for rel in mapper.relationships:
        if rel.mapper.class_ is edge.child and edge.fk in rel.remote_side:
            return {
                "attribute": f"{edge.parent.__name__}.{rel.key}",
                "cascade": ", ".join(sorted(rel.cascade)),
                "lazy": rel.lazy,
                "passive_deletes": rel.passive_deletes,
                "collection_class": getattr(rel.collection_class, "__name__", None)
                or str(rel.collection_class),
                "back_populates": rel.back_populates,
                "_cascade_set": set(rel.cascade),
            }
    return {}


def _orm_disagreement(edge: Edge, orm: dict[str, Any]) -> tuple[str | None, str | None]:
    """What deleting a parent through the ORM would do to the children, if not the policy.

    The console deletes with one DELETE and lets the database apply the rule; code
    that deletes through the ORM (``session.delete``) gets what the relationship's
    options say instead, which must not contradict it.
    """
    deletes = "delete" in orm["_cascade_set"]
    passive = orm["passive_deletes"]
    if deletes and edge.policy is not OnDelete.CASCADE:
        does = "deletes the children itself"
    elif not deletes and passive is False and edge.policy is not OnDelete.SET_NULL:
        does = "sets the children's foreign key to NULL itself"
    else:
        return None, None
    expected = RELATIONSHIP_OPTIONS[edge.policy]
    problem = (
        f"The ORM relationship {orm['attribute']} {does} when a parent is deleted through "
        f"the ORM, which the {edge.policy.label} policy does not."
    )
    advice = (
        f"Give it cascade={expected['cascade']!r}, passive_deletes="
        f"{expected['passive_deletes']!r} (console.declare.Link builds both sides from one "
        "declaration)."
    )
    return problem, advice


def rule_advice(
    connection: Connection,
    edge: Edge,
    reflected: dict[str, Any],
    database_rule: str,
    pending: str | None = None,
) -> tuple[str, str | None]:
    """What to do about a foreign key whose ON DELETE rule differs from the models'.

    Only this one foreign key changes: generating a migration from the models on a
    database that differs in other ways too could propose other, destructive changes.
    ``pending``: the sentence naming a pending migration that makes the change, if any.
    On PostgreSQL (and other dialects that alter constraints) the exact statement a DBA
    can run; SQLite cannot alter a constraint, so the table is rebuilt by a migration.
    Returns the advice and that statement (None where there is none to run).
    """
    constraint = next(iter(edge.fk.foreign_keys)).constraint
    if constraint is None:  # a ForeignKey always belongs to a constraint once on a table
        return f"Change the ON DELETE rule of {edge.fk} to match the models.", None
    table = constraint.table
    columns = ", ".join(column.name for column in constraint.columns)
    declared = _rule_text(constraint.ondelete)
    change = (
        f"Change the ON DELETE rule of {table.name} ({columns}) -> {edge.target.table.name} "
        f"from {database_rule} to {declared}, and only that."
    )
    if pending:
        return f"{change} {pending}", None
    dialect = connection.dialect
    if dialect.name == "sqlite":
        return (
            f"{change} SQLite cannot alter a foreign key: table {table.name} must be rebuilt, "
            "which a migration does. Generate one with `console db migrate` (for the demo's "
            "tables: `console db migrate -d console/demo/migrations`) and review its output "
            "before applying it: keep only the change of this foreign key (on a database that "
            "differs from the models in other ways it proposes those changes too), then run "
            "`console db upgrade`.",
            None,
        )
    preparer = dialect.identifier_preparer
    # The console's own tables carry a stand-in schema: named as this connection places them.
    mapping = connection.get_execution_options().get("schema_translate_map") or {}
    # AddConstraint marks the constraint as created apart, so that a later create_all of
    # the models' metadata would leave it out of CREATE TABLE: the mark is undone.
    create_rule = getattr(constraint, "_create_rule", None)
    try:
        add = str(AddConstraint(constraint).compile(
            dialect=dialect, schema_translate_map=mapping, render_schema_translate=True))
    finally:
        constraint._create_rule = create_rule
    real = _real_schema(connection, table)
    where = f"{preparer.quote_schema(real)}." if real else ""
    prefix = f"ALTER TABLE {where}{preparer.quote(table.name)} "
    name = reflected.get("name")
    if name and add.startswith(prefix):
        sql = f"{prefix}DROP CONSTRAINT {preparer.quote(name)}, {add[len(prefix):]};"
    else:
        sql = f"{add};"
    return (
        f"{change} A DBA can run this one statement (it checks every row of {table.name} "
        "while it holds a lock on the table), then reload this page:",
        sql,
    )


def _real_schema(connection: Connection, table: Any) -> str | None:
    """The schema ``table`` is in on ``connection`` (after its schema translation)."""
    mapping = connection.get_execution_options().get("schema_translate_map") or {}
    return mapping.get(table.schema, table.schema)


def _foreign_keys(
    connection: Connection, inspector: Any, table: str, schema: str | None = None
) -> list[Any]:
    """The inspector's foreign keys of ``table``; on SQLite with the ON DELETE rules it
    misses (written inline in a column's definition) from SQLite itself."""
    found = inspector.get_foreign_keys(table, schema=schema)
    if connection.dialect.name != "sqlite" or schema is not None:
        return list(found)
    from console.reflect import sqlite_delete_rules

    rules = sqlite_delete_rules(connection, table)
    for fk in found:
        options = fk.setdefault("options", {})
        if not options.get("ondelete") and len(fk["constrained_columns"]) == 1:
            rule = rules.get((fk["constrained_columns"][0], fk["referred_table"]))
            if rule and rule != "NO ACTION":
                options["ondelete"] = rule
    return list(found)


def relationship_report(
    connection: Connection,
    edges: Sequence[Edge],
    *,
    tables: set[str] | None = None,
    pending_fix: Callable[[Edge, str], str | None] | None = None,
) -> list[RelationshipRow]:
    """Each relationship's declared policy, the database's ON DELETE rule and the ORM options.

    ``pending_fix(edge, rule)``: a sentence naming a pending migration that gives the
    edge's foreign key ON DELETE ``rule``, or None; the advice then points to it.
    """
    inspector = inspect(connection)
    existing: dict[str | None, set[str]] = {}
    reflected: dict[tuple[str | None, str], list[Any]] = {}
    rows = []
    for edge in edges:
        child = table_of(edge.child)
        table = child.name
        if tables is not None and table not in tables:
            continue
        where = _real_schema(connection, child)
        if where not in existing:
            existing[where] = set(inspector.get_table_names(schema=where))
        declared_rule = _rule_text(next(iter(edge.fk.foreign_keys)).ondelete)
        row = RelationshipRow(edge, declared_rule, None, _orm_options(edge))
        if table not in existing[where]:
            row.problem = f"Table {table} does not exist in the database."
            row.database_problem = True
            row.advice = "Run the pending migrations (console db upgrade)."
            rows.append(row)
            continue
        if (where, table) not in reflected:
            reflected[where, table] = _foreign_keys(connection, inspector, table, where)
        match = next(
            (
                fk
                for fk in reflected[where, table]
                if fk["constrained_columns"] == [edge.fk.name]
                and fk["referred_table"] == edge.target.table.name
            ),
            None,
        )
        if match is None:
            row.problem = f"The database has no foreign key on {table}.{edge.fk.name}."
            row.database_problem = True
            row.advice = "Run the pending migrations (console db upgrade)."
        else:
            row.database = _rule_text((match.get("options") or {}).get("ondelete"))
            if OnDelete.of_rule(row.database) is not edge.policy:
                row.problem = (
                    f"The models declare ON DELETE {declared_rule} but the database has "
                    f"ON DELETE {row.database}: a delete would not do what its preview says."
                )
                row.database_problem = True
                fix = pending_fix(edge, declared_rule) if pending_fix else None
                row.advice, row.sql = rule_advice(connection, edge, match, row.database, fix)
        orm = row.orm
        if orm and row.problem is None:
            row.problem, row.advice = _orm_disagreement(edge, orm)
        row.orm.pop("_cascade_set", None)
        rows.append(row)
    return rows
