"""Which models get a generated view, and the little that metadata cannot say."""

from __future__ import annotations

from typing import Any

from console.admin.accounts import AccountView
from console.admin.audit_log import AuditLogView
from console.admin.base import ConsoleModelView, ajax_loader
from console.models import Person, Todo, TodoList


class TodoListView(ConsoleModelView):
    """To-do lists: their to-dos are edited inline in the list's form."""

    inline_models = [
        (
            Todo,
            {
                "form_columns": [
                    "id",
                    "description",
                    "completed",
                    "due_date",
                    "priority",
                    "assignee",
                ],
                "form_ajax_refs": {"assignee": ajax_loader("assignee", Person)},
            },
        )
    ]


def build_views() -> list[Any]:
    """A fresh set of view instances (each app gets its own)."""
    return [
        ConsoleModelView(Person, name="People", endpoint="person"),
        TodoListView(TodoList, name="To-do lists", endpoint="todolist"),
        ConsoleModelView(Todo, name="To-dos", endpoint="todo"),
        AccountView(name="Accounts", endpoint="account", category="Administration"),
        AuditLogView(name="Audit log", endpoint="auditlog", url="audit", category="Administration"),
    ]
