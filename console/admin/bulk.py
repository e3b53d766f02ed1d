"""Import, streamed export and bulk actions for the generated model views (a mixin).

The views are thin: the work is in ``console.bulk``. Import jobs live in the
instance folder (``console.bulk.jobs``), so any worker can show any job's status.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    request,
    send_file,
    stream_with_context,
)
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.helpers import get_redirect_target
from flask_login import current_user
from sqlalchemy import select
from werkzeug.utils import secure_filename

from console import rules
from console.auth.roles import current_role_includes, requires
from console.bulk import edits
from console.bulk.exporter import export_chunks
from console.bulk.fileformat import file_format
from console.bulk.importer import import_file
from console.bulk.jobs import JobStore
from console.demo.models import Person, Priority, Todo, TodoList
from console.extensions import db
from console.models import Account
from console.rules import Role

log = logging.getLogger(__name__)

ERRORS_PER_PAGE = 50
PROGRESS_EVERY_BYTES = 4 << 20
# Import threads of this process, so that tests (and shutdown) can wait for them.
_threads: dict[str, threading.Thread] = {}


def job_store(app: Flask | None = None) -> JobStore:
    """The app's import jobs, in the instance folder."""
    app = app or current_app
    return JobStore(Path(app.instance_path) / "imports")


def wait_for_job(job_id: str, timeout: float = 60.0) -> bool:
    """Block until this process's thread for ``job_id`` has finished; False on timeout."""
    thread = _threads.get(job_id)
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()


def run_job(app: Flask, job_id: str, commit: bool) -> None:
    """Check (or commit) a stored upload and record the outcome in the job's status."""
    store = job_store(app)
    with app.app_context():
        status = store.update(job_id, state="running", phase="commit" if commit else "preview",
                              bytes_read=0)
        read = [0, 0]

        def progress(n: int) -> None:
            read[0] += n
            if read[0] - read[1] >= PROGRESS_EVERY_BYTES:
                read[1] = read[0]
                store.update(job_id, bytes_read=read[0])

        try:
            account = (
                db.session.get(Account, status["account_id"]) if status["account_id"] else None
            )
            with open(store.upload(job_id), "rb") as source:
                result = import_file(
                    db.session, app.extensions["console_catalogue"].by_name(status["model"]),
                    source, upsert=status["upsert"],
                    dry_run=not commit, account=account, file_name=status["file_name"],
                    progress=progress,
                )
            store.write_errors(job_id, result.errors)
            state = "done" if commit and result.committed else "previewed"
            store.update(job_id, state=state, bytes_read=read[0], result=result.summary()
                         | {"error_count": result.error_count, "committed": result.committed,
                            "shown_errors": len(result.errors)})
        except Exception:
            log.exception("Import job %s failed", job_id)
            db.session.rollback()
            store.update(job_id, state="failed",
                         message="The import failed unexpectedly; nothing was written. "
                                 "It has been logged.")
        finally:
            db.session.remove()


def start_job(job_id: str, commit: bool) -> None:
    """Run the job in a background thread (the page polls its status)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    thread = threading.Thread(target=run_job, args=(app, job_id, commit), daemon=True,
                              name=f"import-{job_id[:8]}")
    for finished in [k for k, t in _threads.items() if not t.is_alive()]:
        del _threads[finished]
    _threads[job_id] = thread
    thread.start()


class BulkMixin:
    """Import pages, streaming export and bulk to-do actions for ``ConsoleModelView``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.import_spec is not None:
            # An instance attribute: ConsoleModelView's class attribute would shadow a mixin's.
            self.export_types = ["csv", "jsonl"]

    # -- helpers ------------------------------------------------------------------------

    @property
    def import_spec(self) -> Any:
        """The file format of this view's model, or None when it is not importable."""
        description = self.description  # type: ignore[attr-defined]
        return None if description is None or description.own else file_format(description)

    @property
    def can_import(self) -> bool:
        """True when the model is importable and the user may import."""
        return self.import_spec is not None and current_role_includes(Role.editor)

    def _spec_or_404(self) -> Any:
        spec = self.import_spec
        if spec is None:
            abort(404)
        return spec

    # -- export -----------------------------------------------------------------------

    @expose("/export/<export_type>/")
    def export(self, export_type: str) -> Any:
        """Stream exactly the rows the list view shows (filters, search, sort) as CSV or JSONL."""
        spec = self.import_spec
        if spec is None:
            # Models outside the import format (accounts) keep Flask-Admin's small export.
            return super().export(export_type)  # type: ignore[misc]
        if export_type not in ("csv", "jsonl"):
            abort(404)
        view: Any = self
        args = view._get_list_extra_args()
        sort = view._get_column_by_idx(args.sort)
        _count, query = view.get_list(
            0, sort[0] if sort else None, args.sort_desc, args.search, args.filters,
            execute=False, page_size=0,
        )
        # page_size=0: every row, not a page.
        base = query.statement.order_by(self.description.pk.column)  # type: ignore[attr-defined]
        # By COPY on PostgreSQL (a worker thread on this request's connection), by
        # Python elsewhere; either way streamed, so memory stays flat.
        chunks = export_chunks(db.session, self.description, export_type, base)  # type: ignore[attr-defined]
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        filename = secure_filename(f"{spec.name}-{stamp}.{export_type}")
        return Response(
            stream_with_context(chunks),
            mimetype="text/csv" if export_type == "csv" else "application/x-ndjson",
            headers={"Content-Disposition": f"attachment; filename={filename}"},
        )

    # -- import -----------------------------------------------------------------------

    @expose("/import/", methods=("GET", "POST"))
    @requires(Role.editor)
    def import_view(self) -> Any:
        """Upload a CSV file; its dry run starts at once and the status page follows it."""
        spec = self._spec_or_404()
        view: Any = self
        error = None
        if request.method == "POST":
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                error = "Choose a CSV file to upload."
            else:
                job_id = job_store().create(
                    upload.stream, model=spec.name, file_name=secure_filename(upload.filename)
                    or "upload.csv", upsert=request.form.get("mode") == "upsert",
                    account_id=getattr(current_user, "id", None),
                )
                start_job(job_id, commit=False)
                return redirect(view.get_url(".import_status", job_id=job_id))
        limit_mb = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)
        return view.render(
            "admin/import_upload.html", spec=spec, error=error, limit_mb=limit_mb,
        ), (400 if error else 200)

    def _job_or_404(self, job_id: str) -> dict[str, Any]:
        spec = self._spec_or_404()
        status = job_store().load(job_id)
        if status is None or status["model"] != spec.name:
            abort(404)
        return status

    @expose("/import/<job_id>/")
    @requires(Role.editor)
    def import_status(self, job_id: str) -> Any:
        """The job's progress, its preview (counts and a page of errors) or its result."""
        status = self._job_or_404(job_id)
        view: Any = self
        page = max(request.args.get("page", 1, type=int), 1)
        errors = job_store().read_errors(job_id, (page - 1) * ERRORS_PER_PAGE, ERRORS_PER_PAGE)
        result = status.get("result") or {}
        shown = result.get("shown_errors", 0)
        pages = max((shown + ERRORS_PER_PAGE - 1) // ERRORS_PER_PAGE, 1)
        return view.render(
            "admin/import_status.html", spec=self.import_spec, job=status, result=result,
            errors=errors, page=page, pages=pages,
            running=status["state"] in ("queued", "running"),
        )

    @expose("/import/<job_id>/errors.csv")
    @requires(Role.editor)
    def import_errors(self, job_id: str) -> Any:
        """Every error of the job's last run, as CSV."""
        self._job_or_404(job_id)
        path = job_store().errors_file(job_id)
        if not path.exists():
            abort(404)
        return send_file(path, mimetype="text/csv", as_attachment=True,
                         download_name=f"import-errors-{job_id[:8]}.csv")

    @expose("/import/<job_id>/confirm", methods=("POST",))
    @requires(Role.editor)
    def import_confirm(self, job_id: str) -> Any:
        """Commit a previewed upload that had no errors (all or nothing, in the background)."""
        status = self._job_or_404(job_id)
        view: Any = self
        url = view.get_url(".import_status", job_id=job_id)
        result = status.get("result") or {}
        if status["state"] != "previewed" or result.get("error_count"):
            flash("This upload cannot be imported: fix its errors and upload it again.", "error")
            return redirect(url)
        if not job_store().claim_commit(job_id):
            flash("This upload is already being imported.", "warning")
            return redirect(url)
        job_store().update(job_id, state="queued", phase="commit")
        start_job(job_id, commit=True)
        return redirect(url)

    # -- bulk actions on to-dos -----------------------------------------------------------

    def is_action_allowed(self, name: str) -> bool:
        """To-do bulk actions: to-dos only, for editors; other actions as the base view says."""
        if name in ACTIONS:
            return self.model is Todo and current_role_includes(Role.editor)  # type: ignore[attr-defined]
        return super().is_action_allowed(name)  # type: ignore[misc,no-any-return]

    def _confirm(self, name: str, ids: list[str]) -> Any:
        """The confirmation page for action ``name`` on the selected rows, with their versions."""
        view: Any = self
        try:
            wanted = [int(i) for i in ids]
        except ValueError:
            abort(400)
        selected = edits.selection(db.session, self.description, wanted)  # type: ignore[attr-defined]
        if not selected:
            flash("Select at least one to-do.", "error")
            return redirect(view.get_url(".index_view"))
        return view.render(
            "admin/bulk_confirm.html", action=ACTIONS[name], rows=[r for r, _t in selected],
            row_refs=[edits.row_ref(self.description, r, t) for r, t in selected],  # type: ignore[attr-defined]
            stale=[], value="",
            error=None, choices=_choices(name),
            return_url=get_redirect_target() or view.get_url(".index_view"),
        )

    @action("complete", "Mark complete")
    def action_complete(self, ids: list[str]) -> Any:
        """Ask to confirm marking the selected to-dos complete."""
        return self._confirm("complete", ids)

    @action("incomplete", "Mark not complete")
    def action_incomplete(self, ids: list[str]) -> Any:
        """Ask to confirm marking the selected to-dos not complete."""
        return self._confirm("incomplete", ids)

    @action("move", "Move to another list")
    def action_move(self, ids: list[str]) -> Any:
        """Ask which list to move the selected to-dos to."""
        return self._confirm("move", ids)

    @action("assign", "Assign to a person")
    def action_assign(self, ids: list[str]) -> Any:
        """Ask whom to assign the selected to-dos to."""
        return self._confirm("assign", ids)

    @action("priority", "Set priority")
    def action_priority(self, ids: list[str]) -> Any:
        """Ask which priority to give the selected to-dos."""
        return self._confirm("priority", ids)

    # Not <name>: Flask-Admin passes URL values to _handle_view(name, **kwargs).
    @expose("/bulk/<action_name>/", methods=("POST",))
    @requires(Role.editor)
    def bulk_apply(self, action_name: str) -> Any:
        """Apply a confirmed bulk action in one transaction, or say which rows changed."""
        view: Any = self
        name = action_name
        if self.model is not Todo or name not in ACTIONS:  # type: ignore[attr-defined]
            abort(404)
        act = ACTIONS[name]
        description = self.description  # type: ignore[attr-defined]
        refs = request.form.getlist("row")
        value = request.form.get("value", "")
        error, stale = None, []
        try:
            rows = edits.parse_row_refs(description, refs)
            target = edits.parse_value(
                db.session, description, act.column, act.value if act.value is not None else value,
                by_key=True,
            )
            outcome = edits.apply(db.session, description, act.column, target, rows,
                                  account=current_user)
        except rules.RuleError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            if outcome.ok:
                flash(f"{act.label}: {outcome.written} to-do(s) updated.", "success")
                return redirect(get_redirect_target() or view.get_url(".index_view"))
            stale = outcome.stale + outcome.missing
            error = (
                f"Nothing was written: {len(stale)} of the selected to-dos changed or were "
                "deleted since you selected them. Review them and confirm again."
            )
        ids = [int(r.partition(":")[0]) for r in refs if r.partition(":")[0].isdigit()]
        current = edits.selection(db.session, description, ids)
        return view.render(
            "admin/bulk_confirm.html", action=act, rows=[r for r, _t in current],
            row_refs=[edits.row_ref(description, r, t) for r, t in current], stale=stale,
            value=value,
            error=error, choices=_choices(name),
            return_url=get_redirect_target() or view.get_url(".index_view"),
        ), 409 if stale else 400


@dataclass(frozen=True)
class BulkAction:
    """One of the to-do list's bulk edits: the column it sets, and the value or what it asks."""

    name: str
    label: str
    column: str
    value: str | None = None  # fixed, or None: asked for
    asks: str | None = None  # "list", "person" or "priority"


# Until the views offer "Set <column>" for every model (console.bulk.edits.choices),
# the to-do list keeps its five edits, each one of those.
ACTIONS: dict[str, BulkAction] = {
    a.name: a
    for a in (
        BulkAction("complete", "Mark complete", "completed", "true"),
        BulkAction("incomplete", "Mark not complete", "completed", "false"),
        BulkAction("move", "Move to another list", "list_id", asks="list"),
        BulkAction("assign", "Assign to a person", "assignee_id", asks="person"),
        BulkAction("priority", "Set priority", "priority", asks="priority"),
    )
}


def _choices(name: str) -> list[str]:
    """Suggestions for the value the action asks for (a datalist, not a limit)."""
    asks = ACTIONS[name].asks
    if asks == "list":
        return list(db.session.scalars(select(TodoList.name).order_by(TodoList.name).limit(200)))
    if asks == "person":
        return list(db.session.scalars(select(Person.email).order_by(Person.email).limit(200)))
    if asks == "priority":
        return [p.value for p in Priority]
    return []
