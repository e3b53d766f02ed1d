"""Import and export pages of every model (the work is in ``console.bulk`` and ``console.jobs``).

Export streams exactly the rows the list shows (filters, search, sort) in the import's
own format. Import stores the upload, runs its dry run in the background and shows
the job's progress, its preview and its errors; confirming writes all rows or none.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from flask import (
    Response,
    abort,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    request,
    stream_with_context,
)
from flask_login import current_user
from werkzeug.utils import secure_filename

from console import jobs
from console.admin import list_page
from console.admin.matching import requested
from console.admin.returns import back_to
from console.admin.selection import TOO_MANY_HINT, max_selection
from console.auth.roles import current_role_includes
from console.bulk.exporter import export_chunks
from console.bulk.fileformat import file_format
from console.bulk.jobs import JobStore
from console.catalogue import ModelDescription
from console.extensions import db
from console.extensions import session as current_session
from console.models import Account
from console.rules import Role, RuleError

if TYPE_CHECKING:
    from console.admin.model_view import ConsoleModelView

ERRORS_PER_PAGE = 50
# A queued job says why it waits once it has waited this long.
WAIT_BEFORE_WORDS_SECONDS = 5
FORMATS = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def exportable(description: ModelDescription) -> bool:
    """True when the model has a file format (columns files can carry)."""
    return bool(description.file_columns)


def importable(description: ModelDescription) -> bool:
    """True when files may be imported into the model (managed, not read-only)."""
    return exportable(description) and not description.own and not description.read_only


def job_store(app: Any = None) -> JobStore:
    """The app's import jobs, in its database."""
    if app is None:
        return JobStore(db.engine)
    with app.app_context():
        return JobStore(db.engine)


def dispatch(job_id: str, app: Any = None) -> None:
    """Hand a queued job to whoever runs jobs: the queue (``console worker``) or a thread
    of this process (embedded)."""
    app = app or current_app
    if app.config["CONSOLE_JOBS"] == "worker":
        from console import queue

        queue.defer(app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("CONSOLE_SCHEMA"),
                    job_id)
        return
    catalogue = app.extensions["console_catalogue"]
    jobs.start(jobs.run_job, job_id, db.engine, catalogue, job_store(app), job_id,
               export_planner(app))


# -- export ------------------------------------------------------------------------------------


def export(view: ConsoleModelView, export_type: str) -> Any:
    """Stream the list's rows (filters, search, sort) as CSV, JSON Lines or XLSX.

    CSV starts with a UTF-8 BOM (spreadsheets then read it as UTF-8) unless ``bom=0``.
    XLSX is built in a temporary file by the first read of the body, then sent in chunks.
    """
    description = view.description
    if export_type not in FORMATS or not exportable(description):
        abort(404)
    stmt, refused = _export_select(view)
    if refused:
        return Response(refused + "\n", status=400, mimetype="text/plain")
    return _export_response(description, export_type, stmt)


def export_selected(view: ConsoleModelView, export_type: str) -> Any:
    """Export the rows a POST names by id (``rowid``, as the list's action form carries
    them), in the list's sort and within its filters (the query string). At most
    CONSOLE_MAX_SELECTION ids; a bigger set is a filter's export: with "Select all
    matching" chosen (``matching``), the answer is a redirect to that export.
    """
    description = view.description
    if export_type not in FORMATS or not exportable(description):
        abort(404)
    back = back_to(view)
    matching = requested()
    if matching is not None:
        # "Select all matching" was chosen on the list: that is the export of its filter.
        args = [(k, v) for k, v in parse_qsl(matching, keep_blank_values=True)
                if k.startswith("flt") or k == "search"]
        args += [(k, v) for k, v in request.args.items(multi=True) if k in ("sort", "desc")]
        path = view.get_url(".export", export_type=export_type)
        return redirect(f"{path}?{urlencode(args)}" if args else path)
    raw = [value for value in request.form.getlist("rowid") if value.strip()]
    if not raw:
        flash("Nothing was exported: select the rows to export first.", "error")
        return redirect(back)
    if len(raw) > max_selection():
        flash(f"Nothing was exported: {len(raw):,} rows were selected and one export by "
              f"ids takes at most {max_selection():,}. {TOO_MANY_HINT}", "error")
        return redirect(back)
    ids = []
    for value in dict.fromkeys(raw):
        try:
            ids.append(description.pk.kind.parse(value, label="ID"))
        except RuleError as error:
            flash(f"Nothing was exported: {error}", "error")
            return redirect(back)
    stmt, refused = _export_select(view)
    if refused:
        flash(refused, "error")
        return redirect(back)
    stmt = stmt.where(description.pk.column.in_([i for i in ids if i is not None]))
    return _export_response(description, export_type, stmt)


def _export_response(description: ModelDescription, export_type: str, stmt: Any) -> Any:
    """The rows of ``stmt`` as a streamed file download."""
    # By COPY on PostgreSQL (a worker thread on this request's connection), by Python
    # elsewhere; either way streamed, so memory stays flat.
    # The scoped session: the streamed body runs after this request's session is closed.
    bom = request.args.get("bom", "1") not in ("0", "false", "no")
    chunks = export_chunks(db.session, description, export_type, stmt, bom=bom)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    filename = secure_filename(f"{description.name}-{stamp}.{export_type}")
    return Response(
        stream_with_context(chunks),
        mimetype=FORMATS[export_type],
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


def _export_select(view: ConsoleModelView) -> tuple[Any, str | None]:
    """The rows this request's list shows (filters, search, sort), or why not: a filter
    or search the list would ignore (with a message) must not become an export of more
    rows than the user asked for."""
    description = view.description
    args = list_page.adapter.list_arguments(view)
    headings = list_page.headings_of(view, args)
    sort = view.sort_column(headings, args.sort)
    stmt, _filtered = list_page.filtered_select(view, args)
    refused = get_flashed_messages(category_filter=["error"])
    if refused:
        return stmt, "Nothing was exported: " + " ".join(map(str, refused))
    pk = description.pk.column
    if sort is not None:
        column = sort.column.desc() if args.sort_desc else sort.column.asc()
        tie = pk.desc() if args.sort_desc else pk.asc()
        stmt = stmt.order_by(column, tie)
    else:
        stmt = stmt.order_by(pk)
    return stmt, None


def export_planner(app: Any) -> Callable[[dict[str, Any]], jobs.ExportPlan]:
    """How a runner plans an export job: the list's select, rebuilt from the query string
    the job recorded, exactly as the export link of that list would (no request needed:
    the worker makes one of its own)."""
    app = getattr(app, "_get_current_object", lambda: app)()

    def plan(status: dict[str, Any]) -> jobs.ExportPlan:
        options = status["options"]
        registry = app.extensions["console_registry"]
        description = app.extensions["console_catalogue"].by_name(status["model"])
        view = registry.view_of(description.cls)
        query = urlencode([(str(k), str(v)) for k, v in options.get("args") or []])
        with app.test_request_context(f"/admin/{status['model']}/", query_string=query):
            stmt, refused = _export_select(view)
        if refused:
            raise jobs.JobRefused(refused)
        return description, stmt, options["format"], bool(options.get("bom", True))

    return plan


def export_job(view: ConsoleModelView, export_type: str) -> Any:
    """Make the list's export in the background (POST): a job any worker runs, whose
    file any instance then serves, for an hour."""
    description = view.description
    if export_type not in FORMATS or not exportable(description):
        abort(404)
    args = [(k, v) for k, v in parse_qsl(request.form.get("query", ""), keep_blank_values=True)
            if k not in ("page", "after", "before")][:200]
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    job_id = job_store().create_export(
        model=description.name, account_id=getattr(current_user, "id", None),
        file_name=secure_filename(f"{description.name}-{stamp}.{export_type}"),
        options={"format": export_type, "args": args,
                 "bom": request.form.get("bom", "1") not in ("0", "false", "no")},
    )
    dispatch(job_id)
    return redirect(view.get_url(".export_status", job_id=job_id))


def export_status(view: ConsoleModelView, job_id: str) -> Any:
    """A background export's progress, then its download link."""
    status = _job_or_404(view, job_id, kind="export")
    return view.render("admin/export_status.html", job=status,
                       running=status["state"] in ("queued", "running"),
                       waiting=_waiting_words(status))


def export_file(view: ConsoleModelView, job_id: str) -> Any:
    """The file a finished background export made, streamed from the database."""
    status = _job_or_404(view, job_id, kind="export")
    store = job_store()
    if status["state"] != "done" or not store.has_file(job_id, "export"):
        abort(404)
    return Response(
        stream_with_context(store.stream(job_id, "export")),
        mimetype=FORMATS[status["options"]["format"]],
        headers={"Content-Disposition": f"attachment; filename={status['file_name']}",
                 "Content-Length": str(status["bytes"])},
    )


def export_cancel(view: ConsoleModelView, job_id: str) -> Any:
    """Stop a queued or running background export."""
    return _cancel(view, job_id, "export", ".export_status")


# -- import ------------------------------------------------------------------------------------


def _importable_or_404(view: ConsoleModelView) -> ModelDescription:
    if not view.can_import:
        abort(404)
    return view.description


def import_view(view: ConsoleModelView) -> Any:
    """Upload a file; its dry run starts at once and the status page follows it."""
    description = _importable_or_404(view)
    error = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            error = "Choose a CSV, JSON Lines or XLSX file to upload."
        else:
            job_id = job_store().create(
                upload.stream,  # type: ignore[arg-type]
                model=description.name,
                file_name=secure_filename(upload.filename) or "upload.csv",
                upsert=request.form.get("mode") == "upsert",
                account_id=getattr(current_user, "id", None),
            )
            dispatch(job_id)
            return redirect(view.get_url(".import_status", job_id=job_id))
    limit_mb = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)
    return view.render(
        "admin/import_upload.html", spec=file_format(description), error=error, limit_mb=limit_mb,
    ), (400 if error else 200)


def _job_or_404(view: ConsoleModelView, job_id: str, kind: str = "import") -> dict[str, Any]:
    """The job, if it is this model's and the user's (an admin may see anyone's); else 404.

    Another editor who learns a job's id gets nothing: not its preview, not its errors,
    and no way to confirm it in the uploader's name.
    """
    description = _importable_or_404(view) if kind == "import" else view.description
    status = job_store().load(job_id)
    if status is None or status["model"] != description.name or status["kind"] != kind:
        abort(404)
    mine = status.get("account_id") == getattr(current_user, "id", None)
    if not mine and not current_role_includes(Role.admin):
        abort(404)
    return status


def import_status(view: ConsoleModelView, job_id: str) -> Any:
    """The job's progress, its preview (counts and a page of errors) or its result."""
    status = _job_or_404(view, job_id)
    page = max(request.args.get("page", 1, type=int), 1)
    errors = job_store().read_errors(job_id, (page - 1) * ERRORS_PER_PAGE, ERRORS_PER_PAGE)
    result = status.get("result") or {}
    shown = result.get("shown_errors", 0)
    pages = max((shown + ERRORS_PER_PAGE - 1) // ERRORS_PER_PAGE, 1)
    change_page = max(request.args.get("changes_page", 1, type=int), 1)
    changes = job_store().read_changes(
        job_id, (change_page - 1) * ERRORS_PER_PAGE, ERRORS_PER_PAGE
    )
    change_pages = max((result.get("shown_changes", 0) + ERRORS_PER_PAGE - 1)
                       // ERRORS_PER_PAGE, 1)
    return view.render(
        "admin/import_status.html", spec=file_format(view.description), job=status, result=result,
        errors=errors, page=page, pages=pages, running=status["state"] in ("queued", "running"),
        changes=changes, change_page=change_page, change_pages=change_pages,
        waiting=_waiting_words(status),
    )


def _waiting_words(status: dict[str, Any]) -> str | None:
    """Why a queued job has not started, when no worker seems to be there to take it."""
    if status["state"] != "queued" or current_app.config["CONSOLE_JOBS"] != "worker":
        return None
    if time.time() - status["touched"] < WAIT_BEFORE_WORDS_SECONDS:
        return None
    from console import queue

    if queue.live_workers(db.engine, jobs.STALE_SECONDS):
        return "Waiting for a worker: they are all busy with other jobs."
    return ("Waiting for a worker: none is running. Start one with `console worker` "
            "(docker compose starts the worker service).")


def _job_csv(view: ConsoleModelView, job_id: str, name: str, what: str) -> Any:
    """A CSV the job's last run saved (its errors, its changes), as a streamed download."""
    _job_or_404(view, job_id)
    store = job_store()
    if not store.has_file(job_id, name):
        abort(404)
    return Response(
        stream_with_context(store.stream(job_id, name)), mimetype="text/csv",
        headers={"Content-Disposition":
                 f"attachment; filename=import-{what}-{job_id[:8]}.csv"},
    )


def import_errors(view: ConsoleModelView, job_id: str) -> Any:
    """Every error of the job's last run, as CSV."""
    return _job_csv(view, job_id, "errors", "errors")


def import_changes(view: ConsoleModelView, job_id: str) -> Any:
    """Every field the job's upsert changes (line, key, column, old, new), as CSV."""
    return _job_csv(view, job_id, "changes", "changes")


def import_cancel(view: ConsoleModelView, job_id: str) -> Any:
    """Cancel a queued or running import (POST): nothing of it is written."""
    return _cancel(view, job_id, "import", ".import_status")


def _cancel(view: ConsoleModelView, job_id: str, kind: str, page: str) -> Any:
    _job_or_404(view, job_id, kind)
    state = job_store().request_cancel(job_id, getattr(current_user, "id", None))
    if state == "running":
        flash(f"Cancelling: the {kind} stops within a few seconds and writes nothing.", "info")
    elif state is None:
        flash(f"This {kind} is no longer running; there is nothing to cancel.", "warning")
    return redirect(view.get_url(page, job_id=job_id))


def confirmed_by(status: dict[str, Any], *, or_uploader: bool = False) -> tuple[str, str]:
    """(who confirmed the job, " at <time> UTC"): its confirming account's email, else
    (``or_uploader``) the uploader's; the confirmation's time, else the upload's, or ""."""
    who_id = status.get("confirmed_by") or (status.get("account_id") if or_uploader else None)
    account = current_session().get(Account, who_id) if who_id else None
    who = account.email if account is not None else "someone"
    at = status.get("confirmed_at") or (status.get("created") if or_uploader else None)
    when = (f" at {datetime.fromtimestamp(at, UTC).strftime('%Y-%m-%d %H:%M')} UTC"
            if isinstance(at, int | float) else "")
    return who, when


def _confirmed_already(status: dict[str, Any]) -> str:
    """"Already imported by X at T" (or "being imported"), for a second confirm."""
    who, when = confirmed_by(status)
    if status["state"] == "done":
        return f"This upload was already imported by {who}{when}; its result is below."
    return f"This upload is already being imported (confirmed by {who}{when})."


def import_confirm(view: ConsoleModelView, job_id: str) -> Any:
    """Commit a previewed upload that had no errors (all or nothing, in the background)."""
    status = _job_or_404(view, job_id)
    url = view.get_url(".import_status", job_id=job_id)
    result = status.get("result") or {}
    confirmed = status.get("phase") == "commit" and status["state"] in ("queued", "running", "done")
    if confirmed:
        flash(_confirmed_already(status), "info")
        return redirect(url)
    if status["state"] != "previewed" or result.get("error_count"):
        flash("This upload cannot be imported: fix its errors and upload it again.", "error")
        return redirect(url)
    if not job_store().claim_commit(job_id, getattr(current_user, "id", None)):
        status = job_store().load(job_id) or status
        flash(_confirmed_already(status), "info")
        return redirect(url)
    dispatch(job_id)
    return redirect(url)


__all__ = ["dispatch", "export", "export_cancel", "export_file", "export_job",
           "export_planner", "export_status", "exportable", "import_cancel", "import_changes",
           "import_confirm", "import_errors",
           "import_status",
           "import_view", "importable", "job_store"]
