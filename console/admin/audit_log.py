"""The global audit log (admin only): read-only, filterable, exportable as streamed CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Response, request, stream_with_context, url_for
from flask_admin import expose
from sqlalchemy import Select, func, select

from console.admin.gated import RoleGatedView
from console.admin.registry import Registry
from console.extensions import session as current_session
from console.kinds import neutralise
from console.models import AuditEntry
from console.rules import Role

PAGE_SIZE = 50
EXPORT_BATCH = 500
CSV_COLUMNS = ("id", "at", "account_email", "account_id", "action", "model", "object_id", "changes")
# A spreadsheet runs a cell that starts with one of these as a formula.


@dataclass
class AuditFilters:
    """The log's filters as the administrator typed them, and what was wrong with them."""

    account: str = ""
    model: str = ""
    action: str = ""
    date_from: str = ""
    date_to: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: Any) -> AuditFilters:
        """Read the filters from query arguments."""
        return cls(
            account=(args.get("account") or "").strip(),
            model=(args.get("model") or "").strip(),
            action=(args.get("action") or "").strip(),
            date_from=(args.get("from") or "").strip(),
            date_to=(args.get("to") or "").strip(),
        )

    def _day(self, name: str, value: str) -> date | None:
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.errors[name] = f"Expected a date as YYYY-MM-DD (got {value!r}); ignored."
            return None

    def apply(self, statement: Select) -> Select:
        """``statement`` narrowed by every valid filter."""
        if self.account:
            statement = statement.where(
                func.lower(AuditEntry.account_email).contains(self.account.lower(), autoescape=True)
            )
        if self.model:
            statement = statement.where(AuditEntry.model == self.model)
        if self.action:
            statement = statement.where(AuditEntry.action == self.action)
        start = self._day("from", self.date_from)
        if start is not None:
            statement = statement.where(AuditEntry.at >= datetime.combine(start, time(), UTC))
        end = self._day("to", self.date_to)
        if end is not None:
            # "to" is inclusive: the whole of that day.
            limit = datetime.combine(end + timedelta(days=1), time(), UTC)
            statement = statement.where(AuditEntry.at < limit)
        return statement

    def query_args(self) -> dict[str, Any]:
        """The filters as query arguments (for links that keep them)."""
        args = {
            "account": self.account,
            "model": self.model,
            "action": self.action,
            "from": self.date_from,
            "to": self.date_to,
        }
        return {k: v for k, v in args.items() if v}


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (the exports' own guard)."""
    return neutralise("" if value is None else str(value))


def csv_rows(statement: Select) -> Iterator[str]:
    """The header and one line per entry, fetched in batches (never the whole table at once)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    result = current_session().execute(statement.execution_options(yield_per=EXPORT_BATCH))
    for entry in result.scalars():
        writer.writerow(
            [
                entry.id,
                csv_cell(entry.at.isoformat() if entry.at else ""),
                csv_cell(entry.account_email),
                entry.account_id if entry.account_id is not None else "",
                csv_cell(entry.action),
                csv_cell(entry.model),
                csv_cell(entry.object_id),
                csv_cell(json.dumps(entry.changes, sort_keys=True) if entry.changes else ""),
            ]
        )
        yield flush()


def _count(count: Any, singular: str, plural: str) -> str:
    return f"{count:,} {singular if count == 1 else plural}" if isinstance(count, int) else (
        f"{count} {plural}"
    )


class SummaryWords:
    """A summary entry (a bulk edit, an import, a delete, a sign-in) in words, not JSON."""

    def __init__(self, registry: Registry) -> None:
        self.by_class = {view.description.cls.__name__: view.description
                         for view in registry.views()}

    def _model(self, name: str, count: Any) -> str:
        description = self.by_class.get(name)
        if description is None:
            return _count(count, name, name)
        return _count(count, description.singular, description.plural)

    def _edge(self, name: str, count: Any) -> str:
        # "Todo.assignee_id": the child's model and the reference column emptied.
        model, _, column = name.partition(".")
        description = self.by_class.get(model)
        info = description.find(column) if description else None
        label = info.label.lower() if info else column
        return f"the {label} of {self._model(model, count)} cleared"

    def __call__(self, summary: Any) -> list[str]:
        """Short phrases saying what the entry did."""
        if not isinstance(summary, dict):
            return [str(summary)]
        if isinstance(summary.get("deleted"), dict):
            phrases = [f"deleted {self._model(m, n)}"
                       for m, n in (summary.get("deleted") or {}).items()]
            phrases += [self._edge(e, n) for e, n in (summary.get("set_null") or {}).items()]
            return phrases or ["nothing deleted"]
        if "changed" in summary and "label" in summary:
            value = summary.get("shown", summary.get("value"))
            shown = "empty" if value is None else repr(value)
            return [f"set {str(summary['label']).lower()} to {shown}",
                    f"{summary.get('changed', 0):,} of {summary.get('count', 0):,} "
                    f"selected changed"]
        if "inserted" in summary:
            phrases = [f"{summary.get('mode', 'insert')} of {summary.get('file') or 'a file'}"
                       f" ({str(summary.get('format') or '').upper() or '?'})"]
            phrases += [f"{summary.get(key, 0):,} {key}"
                        for key in ("inserted", "updated", "unchanged", "errors")
                        if summary.get(key)]
            return phrases
        return [f"{key}: {value}" for key, value in summary.items()
                if not isinstance(value, list | dict)]


class AuditLogView(RoleGatedView):
    """Every recorded action, newest first. There is no endpoint that edits or deletes one."""

    view_role = Role.admin

    def __init__(self, registry: Registry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registry = registry

    def _choices(self, column: Any) -> list[str]:
        return [
            value
            for value in current_session().scalars(select(column).distinct().order_by(column))
            if value
        ]

    @expose("/")
    def index(self) -> Any:
        """The log, filtered, a page at a time (keyset on id, so deep pages stay fast)."""
        filters = AuditFilters.from_args(request.args)
        statement = filters.apply(select(AuditEntry))
        before = request.args.get("before", "")
        if before.isascii() and before.isdigit() and len(before) < 19:
            statement = statement.where(AuditEntry.id < int(before))
        entries = list(
            current_session().scalars(statement.order_by(AuditEntry.id.desc()).limit(PAGE_SIZE + 1))
        )
        older_url = None
        if len(entries) > PAGE_SIZE:
            entries = entries[:PAGE_SIZE]
            older_url = url_for(".index", before=entries[-1].id, **filters.query_args())
        return self.render(
            "admin/audit_log.html",
            entries=entries,
            filters=filters,
            models=self._choices(AuditEntry.model),
            actions=self._choices(AuditEntry.action),
            older_url=older_url,
            newest_url=url_for(".index", **filters.query_args()) if before else None,
            export_url=url_for(".export", **filters.query_args()),
            history_endpoints=self._history_endpoints(),
            summary_words=SummaryWords(self.registry),
        )

    @expose("/export.csv")
    def export(self) -> Any:
        """The filtered log as CSV, streamed."""
        filters = AuditFilters.from_args(request.args)
        statement = filters.apply(select(AuditEntry)).order_by(AuditEntry.id.desc())
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return Response(
            stream_with_context(csv_rows(statement)),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="audit-log-{stamp}.csv"'},
        )

    def _history_endpoints(self) -> dict[str, str]:
        """Model name -> the endpoint of its per-record History page."""
        return {
            view.description.model_name: f"{view.endpoint}.history_view"
            for view in self.registry.views()
        }
