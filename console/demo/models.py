"""The built-in demo: people, their to-do lists and the to-dos on them.

An application of its own, as a user's would be: its own declarative base and
metadata, its own migrations (``console/demo/migrations``), and a ``__console__``
declaration per model for what metadata cannot say. The console reaches it only
through ``CONSOLE_MODELS`` (this module is the default).
"""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import Boolean, Date, Enum, Index, String, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from console.declare import (
    Link,
    OnDelete,
    Options,
    TimestampMixin,
    VersionedMixin,
    naming_metadata,
    needs_trigrams,
    trigram_index,
)
from console.rules import EMAIL_MAX, normalise_email

NAME_MAX = 120
DESCRIPTION_MAX = 500


class DemoBase(DeclarativeBase):
    """The demo application's declarative base."""

    metadata = naming_metadata()


needs_trigrams(DemoBase.metadata)


class Priority(enum.StrEnum):
    """A to-do's priority."""

    low = "low"
    normal = "normal"
    high = "high"


LIST_OWNER = Link(
    parent="Person",
    child="TodoList",
    parent_table="person",
    fk_column="owner_id",
    policy=OnDelete.RESTRICT,
    collection="lists",
    reference="owner",
    nullable=False,
    description="A person who owns lists cannot be deleted until the lists move or go.",
)
LIST_TODOS = Link(
    parent="TodoList",
    child="Todo",
    parent_table="todo_list",
    fk_column="list_id",
    policy=OnDelete.CASCADE,
    collection="todos",
    reference="todo_list",
    nullable=False,
    description="Deleting a list deletes its to-dos.",
)
TODO_ASSIGNEE = Link(
    parent="Person",
    child="Todo",
    parent_table="person",
    fk_column="assignee_id",
    policy=OnDelete.SET_NULL,
    collection="assigned_todos",
    reference="assignee",
    nullable=True,
    description="Deleting a person leaves their to-dos in place, unassigned.",
)


class Person(TimestampMixin, VersionedMixin, DemoBase):
    """Someone who owns lists and is assigned to-dos."""

    __tablename__ = "person"
    __table_args__ = (
        trigram_index("ix_person_name_trgm", "name"),
        trigram_index("ix_person_email_trgm", "email"),
    )
    __console__ = Options(singular="person", plural="people", natural_key="email")

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), index=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)

    lists: Mapped[list[TodoList]] = LIST_OWNER.parent_side(order_by="TodoList.id")
    assigned_todos: Mapped[list[Todo]] = TODO_ASSIGNEE.parent_side(order_by="Todo.id")

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        return normalise_email(value)

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class TodoList(TimestampMixin, VersionedMixin, DemoBase):
    """A named list of to-dos owned by a person."""

    __tablename__ = "todo_list"
    # Indexes for big tables (migration d0001): trigram search on PostgreSQL.
    __table_args__ = (trigram_index("ix_todo_list_name_trgm", "name"),)
    __console__ = Options(singular="to-do list", plural="to-do lists", natural_key="name")

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    owner_id: Mapped[int] = LIST_OWNER.column()

    owner: Mapped[Person] = LIST_OWNER.child_side()
    todos: Mapped[list[Todo]] = LIST_TODOS.parent_side(order_by="Todo.id")

    def __str__(self) -> str:
        return self.name


class Todo(TimestampMixin, VersionedMixin, DemoBase):
    """One thing to do, on exactly one list, optionally assigned to a person."""

    __tablename__ = "todo"
    # One (column, id) index per sortable column, so a sorted page (and its keyset
    # cursor, which tie-breaks on id) is an index range scan at any depth. They also
    # serve every lookup by their leading column (filters, foreign keys, ON DELETE),
    # so those columns have no single-column index of their own.
    __table_args__ = (
        Index("ix_todo_description_id", "description", "id"),
        Index("ix_todo_completed_id", "completed", "id"),
        Index("ix_todo_due_date_id", "due_date", "id"),
        Index("ix_todo_priority_id", "priority", "id"),
        Index("ix_todo_list_id_id", "list_id", "id"),
        Index("ix_todo_assignee_id_id", "assignee_id", "id"),
        # The dashboard's per-day chart and overdue panel.
        Index("ix_todo_created_at", "created_at"),
        Index("ix_todo_completed_updated_at", "completed", "updated_at"),
        Index("ix_todo_completed_due_date", "completed", "due_date"),
        trigram_index("ix_todo_description_trgm", "description"),
    )
    __console__ = Options(
        singular="to-do",
        plural="to-dos",
        label="description",
        toggles=("completed",),
        due="due_date",
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX))
    completed: Mapped[bool] = mapped_column(
        Boolean(create_constraint=True, name="completed_bool"),
        default=False,
        server_default=false(),
    )
    due_date: Mapped[date | None] = mapped_column(Date)
    priority: Mapped[Priority] = mapped_column(
        Enum(
            Priority,
            name="priority",
            native_enum=False,
            create_constraint=True,
            length=10,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
        default=Priority.normal,
        server_default=Priority.normal.value,
    )
    list_id: Mapped[int] = LIST_TODOS.column(index=False)
    assignee_id: Mapped[int | None] = TODO_ASSIGNEE.column(index=False)

    todo_list: Mapped[TodoList] = LIST_TODOS.child_side()
    assignee: Mapped[Person | None] = TODO_ASSIGNEE.child_side()

    def __str__(self) -> str:
        return self.description


LINKS = (LIST_OWNER, LIST_TODOS, TODO_ASSIGNEE)

__all__ = ["LINKS", "DemoBase", "Person", "Priority", "Todo", "TodoList"]
