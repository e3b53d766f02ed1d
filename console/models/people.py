"""People: the owners of to-do lists and the assignees of to-dos."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, validates

from console.models.base import Base, TimestampMixin, VersionedMixin
from console.models.indexes import trigram_index
from console.models.policies import LIST_OWNER, TODO_ASSIGNEE
from console.rules import EMAIL_MAX, NAME_MAX, normalise_email

if TYPE_CHECKING:
    from console.models.todos import Todo, TodoList


class Person(TimestampMixin, VersionedMixin, Base):
    """Someone who owns lists and is assigned to-dos."""

    __tablename__ = "person"
    __table_args__ = (
        trigram_index("ix_person_name_trgm", "name"),
        trigram_index("ix_person_email_trgm", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), index=True)
    email: Mapped[str] = mapped_column(
        String(EMAIL_MAX), unique=True, info={"format": "email", "natural_key": True}
    )

    lists: Mapped[list[TodoList]] = LIST_OWNER.parent_side(order_by="TodoList.id")
    assigned_todos: Mapped[list[Todo]] = TODO_ASSIGNEE.parent_side(order_by="Todo.id")

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        return normalise_email(value)

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"
