"""To-do lists (parents) and their to-dos (children)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Enum, Index, String, false, func, select
from sqlalchemy.orm import Mapped, column_property, mapped_column

from console.models.base import Base, TimestampMixin, VersionedMixin
from console.models.indexes import trigram_index
from console.models.people import Person
from console.models.policies import LIST_OWNER, LIST_TODOS, TODO_ASSIGNEE
from console.rules import DESCRIPTION_MAX, NAME_MAX, Priority


class TodoList(TimestampMixin, VersionedMixin, Base):
    """A named list of to-dos owned by a person."""

    __tablename__ = "todo_list"
    # Indexes for big tables (migration 0002): see console.models.indexes.
    __table_args__ = (trigram_index("ix_todo_list_name_trgm", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True, info={"natural_key": True})
    owner_id: Mapped[int] = LIST_OWNER.column()

    owner: Mapped[Person] = LIST_OWNER.child_side()
    todos: Mapped[list[Todo]] = LIST_TODOS.parent_side(order_by="Todo.id")

    def __str__(self) -> str:
        return self.name


class Todo(TimestampMixin, VersionedMixin, Base):
    """One thing to do, on exactly one list, optionally assigned to a person."""

    __tablename__ = "todo"
    # One (column, id) index per sortable column, so a sorted page (and its keyset
    # cursor, which tie-breaks on id) is an index range scan at any depth. They also
    # serve every lookup by their leading column (filters, foreign keys, ON DELETE),
    # so those columns have no single-column index of their own (migration 0003).
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

    id: Mapped[int] = mapped_column(primary_key=True)
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX))
    completed: Mapped[bool] = mapped_column(
        Boolean(create_constraint=True, name="completed_bool"),
        default=False,
        server_default=false(),
        info={"toggle_in_list": True},
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


# The number of to-dos on a list, computed by the database (deferred: only views
# that show it pay for it, and never with one query per list).
TodoList.todo_count = column_property(
    select(func.count(Todo.id)).where(Todo.list_id == TodoList.id).scalar_subquery(),
    deferred=True,
    info={"label": "To-dos"},
)
