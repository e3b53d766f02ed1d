"""A parent/child application the console has never heard of.

Three levels that cascade (Project -> Task -> Step), an owner that restricts
(Team -> Project), a SET NULL reference (Task.reviewer -> Member), an Enum, a
Numeric, a DateTime, a model without a version column (Member), and one on a
declarative base of its own (Label, on OtherBase). Nothing here uses the console's
conventions except ``__console__`` where metadata cannot say it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class ContractBase(DeclarativeBase):
    """The application's base."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class OtherBase(DeclarativeBase):
    """A second base in the same module: its models are managed too."""


class Stage(enum.Enum):
    """Where a task stands (stored by value, not by name)."""

    todo = "to do"
    doing = "doing"
    done = "done"


class Team(ContractBase):
    """Owns projects; a team with projects cannot be deleted (RESTRICT)."""

    __tablename__ = "team"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    projects: Mapped[list[Project]] = relationship(
        back_populates="team", passive_deletes="all", cascade="save-update, merge"
    )

    def __str__(self) -> str:
        return self.code


class Member(ContractBase):
    """Reviews tasks; has NO version column, so edits are checked by the loaded values."""

    __tablename__ = "member"
    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(40), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")

    reviews: Mapped[list[Task]] = relationship(back_populates="reviewer", passive_deletes=True)

    def __str__(self) -> str:
        return self.handle


class Project(ContractBase):
    """The top of the cascade."""

    __tablename__ = "project"
    __console__ = {"plural": "projects", "toggles": ["archived"]}
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    budget: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    team_id: Mapped[int] = mapped_column(
        ForeignKey("team.id", ondelete="RESTRICT"), index=True
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    team: Mapped[Team] = relationship(back_populates="projects")
    tasks: Mapped[list[Task]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True
    )

    def __str__(self) -> str:
        return self.name


class Task(ContractBase):
    """The middle level: deleted with its project, deletes its steps."""

    __tablename__ = "task"
    __console__ = {"label": "title"}
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    stage: Mapped[Stage] = mapped_column(
        Enum(Stage, name="stage", native_enum=False, length=10,
             values_callable=lambda e: [m.value for m in e], validate_strings=True),
        default=Stage.todo,
    )
    estimate: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), index=True
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    project: Mapped[Project] = relationship(back_populates="tasks")
    reviewer: Mapped[Member | None] = relationship(back_populates="reviews")
    steps: Mapped[list[Step]] = relationship(
        back_populates="task", cascade="all, delete-orphan", passive_deletes=True
    )

    def __str__(self) -> str:
        return self.title


class Step(ContractBase):
    """The bottom level."""

    __tablename__ = "step"
    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    task: Mapped[Task] = relationship(back_populates="steps")

    def __str__(self) -> str:
        return f"{self.position}. {self.note[:40]}"


class Label(OtherBase):
    """A model on another declarative base, with a plain (relationship-less) life."""

    __tablename__ = "label"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(60), unique=True)
    colour: Mapped[str | None] = mapped_column(String(20))

    def __str__(self) -> str:
        return self.text


METADATAS = (ContractBase.metadata, OtherBase.metadata)
