"""Stock Flask-Admin over our tables, driven by bench_peers.py (run in bench/.peers/flask_admin).

    bench/.peers/flask_admin/bin/python bench/peers/flask_admin_peer.py DATABASE_URL

A ``ModelView`` of its own models mapped onto the console's tables, with what a
Flask-Admin user would set for a big table and nothing more: 50 rows a page, sorted
by id, search on the description, a filter on completed, the same columns as our
list (the list and the assignee loaded by Flask-Admin's own joins). No login:
stock Flask-Admin has none.
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
from flask import Flask
from flask_admin import Admin
from flask_admin.contrib.sqla import ModelView
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Person(db.Model):  # type: ignore[name-defined]
    __tablename__ = "person"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class TodoList(db.Model):  # type: ignore[name-defined]
    __tablename__ = "todo_list"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    owner_id: Mapped[int] = mapped_column(ForeignKey("person.id"))

    def __str__(self) -> str:
        return self.name


class Todo(db.Model):  # type: ignore[name-defined]
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


COLUMNS = [
    "id",
    "description",
    "completed",
    "due_date",
    "priority",
    "updated_at",
    "todo_list",
    "assignee",
]


class TodoView(ModelView):
    page_size = 50
    can_set_page_size = False
    column_default_sort = "id"
    column_list = COLUMNS
    column_sortable_list = ["id", "description", "completed", "due_date", "priority", "updated_at"]
    column_searchable_list = ["description"]
    column_filters = ["completed"]


IDS = re.compile(r"/admin/todo/(?:details|edit)/\?id=(\d+)")


def urls(page: dict[str, Any]) -> str:
    """Flask-Admin's URL for an abstract page (0-based page numbers)."""
    kind = page["kind"]
    base = "/admin/todo/"
    if kind == "first":
        return base
    if kind == "filter_open":
        # Stock filter arguments are numbered: filter 0 is "Completed equals".
        return base + "?flt0_0=0"
    if kind == "search":
        return base + "?" + urlencode({"search": page["term"]})
    if kind == "sort":
        return base + f"?sort={COLUMNS.index(page['column'])}"
    if kind == "page":
        return base + f"?page={page['index']}"
    if kind == "last":
        # Its pager's last link: the page number (it has no "last page" of its own).
        return base + f"?page={page['pages'] - 1}"
    raise ValueError(kind)


def main() -> int:
    # Its own root: Flask takes an unimportable name's root from the working directory,
    # and bench_peers.py runs this from the repository, whose templates/ (our overrides
    # of Flask-Admin's) would then replace stock Flask-Admin's own.
    app = Flask("stock", root_path=str(Path(__file__).resolve().parent))
    app.config.update(SQLALCHEMY_DATABASE_URI=sys.argv[1], SECRET_KEY="stock")  # noqa: S106
    db.init_app(app)
    admin = Admin(app, name="Stock", url="/admin")
    admin.add_view(TodoView(Todo, db.session, endpoint="todo"))
    client = app.test_client()

    def get(url: str) -> tuple[int, str]:
        response = client.get(url)
        return response.status_code, response.get_data(as_text=True)

    clock = driver.SqlClock()
    driver.sqlalchemy_clock(clock)
    return driver.serve(get, urls, IDS, clock)


if __name__ == "__main__":
    sys.exit(main())
