"""The planner and executor without HTTP: selections, cycles, query counts, link declarations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from console import own_schema
from console.cascade import (
    PlanError,
    execute_delete,
    plan_delete,
    relationship_report,
)
from console.catalogue import relationship_graph
from console.declare import Link, OnDelete
from console.demo.models import Person, Todo, TodoList
from console.models import Account, AuditEntry, create_own_tables
from tests.conftest import count, create_pg_database, drop_pg_database, require_pg

DEMO_EDGES = relationship_graph([Person, TodoList, Todo, Account, AuditEntry])


def test_a_filtered_query_can_be_planned_and_deleted(db, sample):
    work = TodoList(name="Gardening", owner_id=sample["ann"])
    db.session.add(work)
    db.session.add(TodoList(name="Work", owner_id=sample["ann"]))
    db.session.flush()
    db.session.add(Todo(description="Mow", list_id=work.id))
    db.session.commit()
    selection = sa.select(TodoList.id).where(TodoList.name.like("G%"))

    plan = plan_delete(db.session, TodoList, selection, edges=DEMO_EDGES)

    assert plan.selected_count == 2
    assert {e.model: e.count for e in plan.deleted} == {TodoList: 2, Todo: 3}
    outcome = execute_delete(db.session, TodoList, selection, plan.fingerprint, edges=DEMO_EDGES)
    assert outcome.done
    assert (count(TodoList), count(Todo)) == (1, 0)
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "delete")).one()
    assert entry.changes == {"summary": {"deleted": {"TodoList": 2, "Todo": 3}, "set_null": {}}}


def test_examples_are_capped_and_counted_by_aggregates(db, sample):
    db.session.execute(
        Todo.__table__.insert(),
        [{"description": f"T{i}", "list_id": sample["groceries"]} for i in range(500)],
    )
    db.session.commit()
    statements: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", remember)
    try:
        plan = plan_delete(db.session, TodoList, [sample["groceries"]], edges=DEMO_EDGES)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", remember)
    db.session.rollback()

    todos = next(e for e in plan.deleted if e.model is Todo)
    assert todos.count == 502
    assert len(todos.examples) == 10
    # A handful of statements whatever the number of children (none per child row).
    assert len(statements) < 20


def test_bad_ids_are_a_plan_error(db):
    with pytest.raises(PlanError):
        plan_delete(db.session, Person, ["not-a-number"], edges=DEMO_EDGES)
    with pytest.raises(PlanError):
        plan_delete(db.session, Person, [], edges=DEMO_EDGES)


def test_unchanged_plan_has_the_same_fingerprint(db, sample):
    first = plan_delete(db.session, Person, [sample["bob"]], edges=DEMO_EDGES)
    second = plan_delete(db.session, Person, [sample["bob"]], edges=DEMO_EDGES)
    assert first.fingerprint == second.fingerprint
    db.session.execute(sa.update(Todo).values(assignee_id=sample["bob"]))
    db.session.commit()
    again = plan_delete(db.session, Person, [sample["bob"]], edges=DEMO_EDGES)
    assert again.fingerprint != first.fingerprint


# -- cycles in the model graph ----------------------------------------------------------------


class CycleBase(DeclarativeBase):
    """A model graph of the test's own, with cascades that come back to where they started."""


class Node(CycleBase):
    """A tree node: deleting it deletes its children, theirs, and so on."""

    __tablename__ = "node"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(20))
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("node.id", ondelete="CASCADE"), index=True
    )
    tag_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("tag.id", ondelete="CASCADE", use_alter=True), index=True
    )

    def __str__(self) -> str:
        return self.name


class Tag(CycleBase):
    """Belongs to a node and may be pointed at by nodes: a two-table cascade cycle."""

    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(sa.ForeignKey("node.id", ondelete="CASCADE"), index=True)

    def __str__(self) -> str:
        return f"tag {self.id}"


class Note(CycleBase):
    """Two SET NULL references to nodes from one table: the executor must count, not measure."""

    __tablename__ = "note"
    id: Mapped[int] = mapped_column(primary_key=True)
    about_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("node.id", ondelete="SET NULL"), index=True
    )
    by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("node.id", ondelete="SET NULL"), index=True
    )

    def __str__(self) -> str:
        return f"note {self.id}"


CYCLE_EDGES = relationship_graph([Node, Tag, Note])


@pytest.fixture(params=["sqlite", "postgresql"])
def cycle_session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    """A session on a database of the test's own holding the Node/Tag schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cycle.sqlite3'}"
    else:
        require_pg()
        url = create_pg_database("console_cycle")
    engine = own_schema.on_engine(sa.create_engine(url))
    # A fresh copy each time: creating the use_alter FK on PostgreSQL marks the shared
    # constraint so that a later SQLite CREATE TABLE would leave it out.
    schema = sa.MetaData()
    for table in CycleBase.metadata.sorted_tables:
        table.to_metadata(schema)
    schema.create_all(engine)
    # The executor records its audit entry in the same database.
    create_own_tables(engine, tables=[Account.__table__, AuditEntry.__table__])
    with Session(engine) as session:
        yield session
    engine.dispose()
    if request.param == "postgresql":
        drop_pg_database(url)


def test_cascade_cycles_end_and_match_the_database(cycle_session):
    session = cycle_session
    root = Node(id=1, name="root")
    session.add(root)
    session.flush()
    # Four levels below the root, and a node outside the tree.
    ids = 1
    level = [1]
    for _depth in range(4):
        next_level = []
        for parent in level:
            for _ in range(2):
                ids += 1
                session.add(Node(id=ids, name=f"n{ids}", parent_id=parent))
                next_level.append(ids)
        level = next_level
    session.add(Node(id=100, name="outside"))
    session.flush()
    # A tag on a leaf, and a node that hangs off that tag: Node -> Tag -> Node.
    session.add(Tag(id=1, node_id=level[0]))
    session.flush()
    session.add(Node(id=101, name="tagged", tag_id=1))
    # Data that loops: 102 and 103 are each other's parent.
    session.add_all([Node(id=102, name="a"), Node(id=103, name="b", parent_id=102)])
    session.flush()
    session.execute(sa.update(Node).where(Node.id == 102).values(parent_id=103))
    session.commit()

    plan = plan_delete(session, Node, [1], edges=CYCLE_EDGES, check_database=False)
    counts = {e.model: e.count for e in plan.deleted}
    assert counts == {Node: 1 + 2 + 4 + 8 + 16 + 1, Tag: 1}

    outcome = execute_delete(session, Node, [1], plan.fingerprint, edges=CYCLE_EDGES)
    assert outcome.done, outcome.reason
    remaining = set(session.scalars(sa.select(Node.id)))
    assert remaining == {100, 102, 103}
    assert session.scalar(sa.select(sa.func.count()).select_from(Tag)) == 0

    looped = plan_delete(session, Node, [102], edges=CYCLE_EDGES, check_database=False)
    assert {e.model: e.count for e in looped.deleted} == {Node: 2, Tag: 0}


def test_two_set_null_edges_into_one_table(cycle_session):
    session = cycle_session
    session.add_all([Node(id=1, name="one"), Node(id=2, name="two")])
    session.flush()
    session.add_all(
        [
            Note(id=1, about_id=1, by_id=1),
            Note(id=2, about_id=1, by_id=2),
            Note(id=3, about_id=2, by_id=1),
        ]
    )
    session.commit()

    plan = plan_delete(session, Node, [1], edges=CYCLE_EDGES)
    assert {e.edge.name: e.count for e in plan.nulled} == {"Note.about_id": 2, "Note.by_id": 2}
    outcome = execute_delete(session, Node, [1], plan.fingerprint, edges=CYCLE_EDGES)

    assert outcome.done, outcome.reason
    assert session.scalar(sa.select(sa.func.count()).select_from(Note)) == 3
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Note)
            .where(sa.or_(Note.about_id == 1, Note.by_id == 1))
        )
        == 0
    )


# -- the one declaration ----------------------------------------------------------------------


def test_a_link_refuses_options_that_would_contradict_its_policy():
    link = Link(
        parent="Person",
        child="Todo",
        parent_table="person",
        fk_column="x_id",
        policy=OnDelete.CASCADE,
        collection="xs",
        reference="x",
        nullable=True,
    )
    with pytest.raises(TypeError, match="come from the policy"):
        link.parent_side(cascade="save-update")


class OwnBase(DeclarativeBase):
    """Models of the test's own, one of whose relationships strays from its link."""


OWN_LINK = Link(
    parent="Owner",
    child="Item",
    parent_table="owner",
    fk_column="owner_id",
    policy=OnDelete.CASCADE,
    collection="items",
    reference="owner",
    nullable=False,
)


class Owner(OwnBase):
    """Its collection is built by hand, not from OWN_LINK, and so misses the cascade."""

    __tablename__ = "owner"
    id: Mapped[int] = mapped_column(primary_key=True)
    items: Mapped[list[Item]] = sa.orm.relationship(back_populates="owner")


class Item(OwnBase):
    """Child of Owner."""

    __tablename__ = "item"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = OWN_LINK.column()
    owner: Mapped[Owner] = OWN_LINK.child_side()


def test_relationships_report_an_orm_side_that_strays_from_its_link(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'own.sqlite3'}")
    OwnBase.metadata.create_all(engine)
    with engine.connect() as conn:
        rows = relationship_report(conn, relationship_graph([Owner, Item]))
    engine.dispose()
    (row,) = rows
    assert row.database == "CASCADE"
    assert not row.database_problem
    assert row.problem == (
        "The ORM relationship Owner.items sets the children's foreign key to NULL itself when "
        "a parent is deleted through the ORM, which the CASCADE policy does not."
    )


def test_relationships_built_from_a_link_agree_with_the_policy(db):
    rows = relationship_report(db.session.connection(), DEMO_EDGES)
    db.session.rollback()
    assert [r.problem for r in rows] == [None] * len(rows)


@pytest.mark.postgres_only
def test_without_row_counters_the_executor_counts_beforehand(db, sample, monkeypatch):
    plan = plan_delete(db.session, TodoList, [sample["groceries"]], edges=DEMO_EDGES)
    db.session.rollback()
    # As on a server with track_counts off: every counter stays at zero.
    monkeypatch.setattr(
        "console.cascade._counters", lambda _session, tables: {t.name: (0, 0) for t in tables}
    )

    outcome = execute_delete(
        db.session, TodoList, [sample["groceries"]], plan.fingerprint, edges=DEMO_EDGES
    )

    assert outcome.done, outcome.reason
    assert (count(TodoList), count(Todo)) == (0, 0)
