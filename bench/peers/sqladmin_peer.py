"""SQLAdmin over our tables, driven by bench_peers.py (run in bench/.peers/sqladmin).

    bench/.peers/sqladmin/bin/python bench/peers/sqladmin_peer.py DATABASE_URL

A Starlette app with SQLAdmin's ``ModelView`` of its own models mapped onto the
console's tables: 50 rows a page, the description searchable, the shown columns
sortable, a filter on completed, the same columns as our list (the list and the
assignee loaded by SQLAdmin's own ``selectinload``). Sync SQLAlchemy engine on
psycopg2, as the others use. No login: SQLAdmin has none unless one is added.
"""

from __future__ import annotations

import re
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import driver
from sqladmin import Admin, ModelView
from sqladmin.filters import BooleanFilter
from sqlalchemy import ForeignKey, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from starlette.applications import Starlette
from starlette.testclient import TestClient


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "person"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class TodoList(Base):
    __tablename__ = "todo_list"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    owner_id: Mapped[int] = mapped_column(ForeignKey("person.id"))

    def __str__(self) -> str:
        return self.name


class Todo(Base):
    __tablename__ = "todo"
    id: Mapped[int] = mapped_column(primary_key=True)
    description: Mapped[str] = mapped_column(String(500))
    completed: Mapped[bool]
    due_date: Mapped[date | None]
    priority: Mapped[str] = mapped_column(String(10))
    list_id: Mapped[int] = mapped_column(ForeignKey("todo_list.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int]
    todo_list: Mapped[TodoList] = relationship()
    assignee: Mapped[Person | None] = relationship()


class TodoAdmin(ModelView, model=Todo):
    page_size = 50
    page_size_options = [50]
    column_list = [
        Todo.id,
        Todo.description,
        Todo.completed,
        Todo.due_date,
        Todo.priority,
        Todo.updated_at,
        Todo.todo_list,
        Todo.assignee,
    ]
    column_sortable_list = [
        Todo.id,
        Todo.description,
        Todo.completed,
        Todo.due_date,
        Todo.priority,
        Todo.updated_at,
    ]
    column_searchable_list = [Todo.description]
    column_filters = [BooleanFilter(Todo.completed)]
    column_default_sort = ("id", False)


IDS = re.compile(r"/admin/todo/(?:details|edit)/(\d+)")


def urls(page: dict[str, Any]) -> str:
    """SQLAdmin's URL for an abstract page (its page numbers start at 1)."""
    kind = page["kind"]
    base = "/admin/todo/list"
    if kind == "first":
        return base
    if kind == "filter_open":
        return base + "?completed=false"
    if kind == "search":
        return base + "?" + urlencode({"search": page["term"]})
    if kind == "sort":
        return base + f"?sortBy={page['column']}&sort=asc"
    if kind == "page":
        return base + f"?page={page['index'] + 1}"
    if kind == "last":
        return base + f"?page={page['pages']}"
    raise ValueError(kind)


def main() -> int:
    engine = create_engine(sys.argv[1])
    app = Starlette()
    admin = Admin(app, engine)
    admin.add_view(TodoAdmin)
    clock = driver.SqlClock()
    driver.sqlalchemy_clock(clock)
    with TestClient(app) as client:

        def get(url: str) -> tuple[int, str]:
            response = client.get(url)
            return response.status_code, response.text

        return driver.serve(get, urls, IDS, clock)


if __name__ == "__main__":
    sys.exit(main())
