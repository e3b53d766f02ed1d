"""Import of CSV, JSON Lines and XLSX: check every row, then write all of them or none.

``import_file`` is the entry point, for any managed model: the file's columns come
from its description (``console.bulk.fileformat``). On PostgreSQL the file is
streamed by COPY into a staging table and checked with set-based SQL
(``console.bulk.pg_import``); elsewhere (SQLite) rows are streamed through the
shared Python rules in chunks. JSON Lines and XLSX go the same two ways, converted
to the cells a CSV row would have as they stream (``console.bulk.jsonl``,
``console.bulk.xlsx``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

from sqlalchemy import Column, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from console import audit, rules
from console.bulk.csvio import (
    CountingReader,
    FileProblem,
    Header,
    RowProblem,
    check_header,
    csv_rows,
    nul_problem,
    read_header,
)
from console.bulk.fileformat import Blank, Field, FileFormat, file_format
from console.bulk.jsonl import JsonLines, RowSource
from console.catalogue import ModelDescription
from console.kinds import unneutralise

CHUNK = 5_000
# Errors kept for display; the count beyond this is still exact.
MAX_ERRORS = 10_000
# Warnings (rows identical to existing ones) kept per line; the count is exact.
MAX_WARNINGS = 1_000
# Changed fields of updated rows kept for the preview; the counts per column are exact.
MAX_CHANGES = 10_000
FORMATS = ("csv", "jsonl", "xlsx")


@dataclass
class RowError:
    """One problem: the file line, the column (None for the whole row or file) and why."""

    line: int
    column: str | None
    message: str


@dataclass
class Change:
    """One field an update changes: its row (line, key), column, and old and new values."""

    line: int
    key: str
    column: str
    old: Any
    new: Any


@dataclass
class ImportResult:
    """What an import did, or (dry run) would do."""

    model: str
    upsert: bool
    dry_run: bool
    file_name: str | None = None
    format: str = "csv"
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False
    # True when a row changed in the console since the file was made is reported as
    # a conflict: the model has a version column and the file carries it.
    stale_rows_detected: bool = False
    # What the user should know beyond the counts (a model without a version column).
    notes: list[str] = field(default_factory=list)
    # PostgreSQL: the parents were locked once and the per-row foreign-key triggers
    # skipped (see pg_import.trusted_references).
    set_based_references: bool = False
    # Insert mode, a model without a natural key: rows of the file equal, column for
    # column, to a row already in the table (imported twice?). Flagged, not refused.
    identical: int = 0
    warnings: list[RowError] = field(default_factory=list)
    # Upsert: each field the updated rows change (the first MAX_CHANGES, in line order),
    # and exactly how many changes each column has.
    changes: list[Change] = field(default_factory=list)
    change_counts: dict[str, int] = field(default_factory=dict)

    def add_change(self, line: int, key: str, column: str, old: Any, new: Any) -> None:
        """Count a changed field, keeping the first ``MAX_CHANGES`` for the preview."""
        self.change_counts[column] = self.change_counts.get(column, 0) + 1
        if len(self.changes) < MAX_CHANGES:
            self.changes.append(Change(line, key, column, old, new))

    def add_warning(self, line: int, message: str) -> None:
        """Count a warning, keeping the first ``MAX_WARNINGS`` for display."""
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(RowError(line, None, message))

    def add_error(self, line: int, column: str | None, message: str) -> None:
        """Count an error, keeping the first ``MAX_ERRORS`` for display."""
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(line, column, message))

    @property
    def ok(self) -> bool:
        """True when no row is bad."""
        return self.error_count == 0

    def summary(self) -> dict[str, Any]:
        """Counts for the audit entry and status files (JSON-safe)."""
        return {
            "model": self.model,
            "file": self.file_name,
            "format": self.format,
            "mode": "upsert" if self.upsert else "insert",
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.error_count,
            "stale_rows_detected": self.stale_rows_detected,
            "notes": list(self.notes),
            "identical": self.identical,
            "warnings": [[w.line, w.message] for w in self.warnings[:100]],
            "change_counts": dict(self.change_counts),
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-safe."""
        data = asdict(self)
        data["errors"] = [asdict(e) for e in self.errors]
        data["warnings"] = [asdict(w) for w in self.warnings]
        data["changes"] = [asdict(c) for c in self.changes]
        return data


def error_order(columns: list[str]) -> Callable[[RowError], tuple[int, int, str]]:
    """How errors are listed, on both paths: by line, then by file column, then message.

    Errors of the whole row (no column) come after the row's cell errors.
    """
    position = {c: i for i, c in enumerate(columns)}

    def key(error: RowError) -> tuple[int, int, str]:
        where = len(columns) if error.column is None else position.get(error.column, len(columns))
        return error.line, where, error.message

    return key


def identical_note(result: ImportResult, plural: str) -> None:
    """The note of rows identical to existing ones (the warnings name their lines)."""
    if result.identical:
        what = "row is" if result.identical == 1 else "rows are"
        result.notes.append(
            f"{result.identical:,} {what} identical to existing {plural} (every column of "
            "the file equal): importing them adds them a second time."
        )


def identical_warning(singular: str) -> str:
    """The warning of one row identical to an existing one."""
    return f"Identical to an existing {singular} (every column of the file equal)."


class ConcurrentChange(Exception):
    """Rows changed between validation and writing: nothing was written."""


def refused(detail: str) -> ConcurrentChange:
    """The database refused a write the checks let through (a constraint of its own)."""
    first = (detail.strip().splitlines() or ["a constraint failed"])[0].rstrip(".")
    return ConcurrentChange(f"The database refused the rows: {first}. Nothing was written.")


def sniff_format(stream: io.BufferedReader[Any], file_name: str | None = None) -> str:
    """"xlsx" for a ZIP file (or a name ending .xlsx), "jsonl" when the file starts
    (after a BOM and blanks) with a JSON object, else "csv"."""
    head = stream.peek(4096)[:4096]
    if head.startswith(b"PK\x03\x04") or (file_name or "").lower().endswith(".xlsx"):
        return "xlsx"
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return "jsonl" if head.startswith(b"{") else "csv"


def import_file(
    session: Session | scoped_session[Any],
    description: ModelDescription,
    source: BinaryIO,
    *,
    fmt: str | None = None,
    upsert: bool = False,
    dry_run: bool = True,
    account: Any = None,
    file_name: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Check ``source`` (a binary CSV, JSON Lines or XLSX file) and, unless ``dry_run``, write it.

    All rows or none. ``fmt`` is "csv", "jsonl" or "xlsx" (None: told by the file's
    first bytes, or an .xlsx ``file_name``; an XLSX file must be seekable or is copied
    to a temporary file). ``progress`` is called with the number of bytes read since the last
    call. The session's transaction is committed on success and rolled back otherwise.
    """
    # This context's session, for the whole import (the scoped one may be given).
    db: Session = session() if isinstance(session, scoped_session) else session
    layout = file_format(description)
    stream: Any = io.BufferedReader(CountingReader(source, progress), 1 << 16)
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"Unknown import format {fmt!r}: choose csv, jsonl or xlsx")
    fmt = fmt or sniff_format(stream, file_name)
    result = ImportResult(
        model=layout.name, upsert=upsert, dry_run=dry_run, file_name=file_name, format=fmt
    )
    lines: RowSource | None = None
    try:
        if description.read_only or description.own:
            raise FileProblem(f"{description.title} cannot be imported.")
        if fmt == "xlsx":
            from console.bulk.xlsx import XlsxSheet

            read = stream.raw.count if isinstance(stream.raw, CountingReader) else 0
            lines = XlsxSheet(source, layout, progress, read)
        elif fmt == "jsonl":
            lines = JsonLines(stream)
        if lines is not None:
            header = Header(lines.columns)
            result.notes.extend(lines.notes)
        else:
            header = read_header(stream)
        check_header(layout, header)
        _note_versions(layout, header, result)
        if db.get_bind().dialect.name == "postgresql":
            from console.bulk.pg_import import import_postgresql

            staged = lines if lines is not None else stream
            import_postgresql(db, layout, header.columns, staged, result)
        else:
            rows = lines.rows() if lines is not None else csv_rows(stream, len(header.columns))
            _import_python(db, layout, header.columns, rows, result)
        if result.rows == 0 and result.ok:
            result.add_error(1, None, "The file has a header but no rows.")
        _describe_changes(db, layout, result)
    except FileProblem as problem:
        result.add_error(problem.line, None, problem.message)
    except ConcurrentChange as exc:
        result.add_error(0, None, str(exc))
    finally:
        if lines is not None:
            lines.close()
    if dry_run or not result.ok:
        db.rollback()
        return result
    audit.record(
        db, "import", account=account, model=description.model_name,
        changes={"summary": result.summary()},
    )
    db.commit()
    result.committed = True
    return result


def _describe_changes(session: Session, layout: FileFormat, result: ImportResult) -> None:
    """Turn the kept changes' values into the text files write (a parent by its key).

    Both import paths record the stored values; here they become what the user's
    file shows, the same on both databases: a reference's old and new parent by its
    natural key (one query per reference column), every other value by its kind.
    """
    if not result.changes:
        return
    by_name = {f.name: f for f in layout.fields}
    parents: dict[str, dict[Any, str]] = {}
    for name in {c.column for c in result.changes}:
        f = by_name[name]
        if f.parent is None:
            continue
        ids = {v for c in result.changes if c.column == name for v in (c.old, c.new)} - {None}
        key, target = f.parent.key, f.parent.target
        found: list[Any] = (
            list(session.execute(select(target, key.column).where(target.in_(ids))))
            if ids else []
        )
        parents[name] = {pk: key.kind.to_text(value) for pk, value in found}
    for change in result.changes:
        f = by_name[change.column]
        for side in ("old", "new"):
            value = getattr(change, side)
            if value is None:
                text = ""
            elif change.column in parents:
                text = parents[change.column].get(value, str(value))
            else:
                text = f.kind.to_text(value)
            setattr(change, side, text)


def _note_versions(layout: FileFormat, header: Header, result: ImportResult) -> None:
    version = layout.version_field
    result.stale_rows_detected = version is not None and version.name in header.columns
    pk = layout.pk_field
    if (result.upsert and version is not None and pk is not None
            and pk.name in header.columns and version.name not in header.columns):
        # Rows with ids were read from the console (an export): without the versions
        # read with them, a newer save would be overwritten unseen.
        plural = layout.description.plural
        other = "" if layout.key_is_pk else (
            f" (or leave the {pk.name!r} column out to match {plural} by {layout.key})"
        )
        raise FileProblem(
            f"Wrong columns: the file has an {pk.name!r} column but no {version.name!r} "
            f"column. Updating {plural} by {pk.name} needs the version each row was read "
            f"at: export the rows again to get their versions{other}."
        )
    if result.upsert and not layout.versioned:
        result.notes.append(
            f"{layout.description.title} have no version column: a row changed by someone "
            "else since this file was made is overwritten, not reported as a conflict."
        )


# -- the streamed Python path (SQLite) ----------------------------------------------------


def _import_python(
    session: Session,
    layout: FileFormat,
    columns: list[str],
    rows: Iterator[tuple[int, list[str] | RowProblem]],
    result: ImportResult,
) -> None:
    fields = [layout.field(c) for c in columns]
    seen: dict[Any, int] = {}
    chunk: list[tuple[int, list[str] | RowProblem]] = []
    for line, cells in rows:
        result.rows += 1
        chunk.append((line, cells))
        if len(chunk) >= CHUNK:
            _process_chunk(session, layout, fields, chunk, seen, result)
            chunk = []
    if chunk:
        _process_chunk(session, layout, fields, chunk, seen, result)
    if layout.key_field not in fields and not result.upsert:
        description = layout.description
        identical_note(result, description.plural)


def _parents(session: Session, f: Field, keys: set[Any]) -> dict[Any, Any]:
    """{natural key: the value the foreign key stores} of the parents named by ``keys``."""
    assert f.parent is not None
    if not keys:
        return {}
    key = f.parent.key.column
    return dict(session.execute(select(key, f.parent.target).where(key.in_(keys))).all())


_BAD = object()  # a cell the rules refused (its error is reported)


def _process_chunk(
    session: Session,
    layout: FileFormat,
    fields: list[Field],
    chunk: list[tuple[int, list[str] | RowProblem]],
    seen: dict[Any, int],
    result: ImportResult,
) -> None:
    """Check one chunk of rows; every error of a row is reported, in line order."""
    errors: list[RowError] = []
    try:
        inserts, updates, written = _check_chunk(session, layout, fields, chunk, seen, result,
                                                 errors)
    finally:
        errors.sort(key=error_order([f.name for f in fields]))
        for e in errors:
            result.add_error(e.line, e.column, e.message)
    if result.dry_run or not result.ok:
        return
    try:
        _write(session, layout, written, inserts, updates)
    except IntegrityError as exc:  # a constraint the file format does not know about
        raise refused(str(exc.orig)) from None

def _check_chunk(
    session: Session,
    layout: FileFormat,
    fields: list[Field],
    chunk: list[tuple[int, list[str] | RowProblem]],
    seen: dict[Any, int],
    result: ImportResult,
    errors: list[RowError],
) -> tuple[list[dict[Column[Any], Any]], list[dict[str, Any]], list[Field]]:
    def error(line: int, column: str | None, message: str) -> None:
        errors.append(RowError(line, column, message))

    description = layout.description
    table = layout.table
    names = [f.name for f in fields]
    cleaned: list[tuple[int, dict[str, Any], bool]] = []
    references = [f for f in fields if f.parent is not None]
    wanted: dict[str, set[Any]] = {f.name: set() for f in references}
    for line, cells in chunk:
        if not isinstance(cells, RowProblem):
            cells = nul_problem(names, cells) or cells
        if isinstance(cells, RowProblem):
            for problem in cells.all():
                error(line, problem.column, problem.message)
            continue
        values: dict[str, Any] = {}
        bad = False
        for f, raw in zip(fields, cells, strict=True):
            try:
                values[f.name] = f.read(unneutralise(raw))
            except rules.RuleError as exc:
                error(line, f.name, str(exc))
                values[f.name] = _BAD
                bad = True
        for name in wanted:
            if values[name] is not None and values[name] is not _BAD:
                wanted[name].add(values[name])
        cleaned.append((line, values, bad))

    # Parents by natural key, one query per referenced column.
    parents = {f.name: _parents(session, f, wanted[f.name]) for f in references}
    orphans: set[int] = set()
    for line, values, _bad in cleaned:
        for f in references:
            key = values[f.name]
            if key is None or key is _BAD:
                continue
            if key in parents[f.name]:
                values[f.name] = parents[f.name][key]
            else:
                assert f.parent is not None
                error(line, f.name, f"No {f.parent.noun} {f.shown(key)}.")
                orphans.add(line)
                values[f.name] = _BAD  # nothing to match the row by, if it is the key

    # Existing rows by key, to tell inserts from updates and unchanged rows.
    key_field = layout.key_field if layout.key_field in fields else None
    pk = description.pk.column
    version = description.version.column if description.version else None
    existing: dict[Any, Any] = {}
    if key_field is not None:
        keys = {v[key_field.name] for _line, v, _bad in cleaned
                if v[key_field.name] is not None and v[key_field.name] is not _BAD}
        if keys:
            existing = {
                row._mapping[key_field.column]: row._mapping
                for row in session.execute(select(table).where(key_field.column.in_(keys)))
            }

    version_field = layout.version_field if layout.version_field in fields else None
    pk_field = layout.pk_field if layout.pk_field in fields else None
    written = [f for f in fields if f.role == "value" or (f.role == "pk" and layout.pk_written)]
    inserts: list[dict[Column[Any], Any]] = []
    updates: list[dict[str, Any]] = []
    for line, values, bad in cleaned:
        row_ok = not bad and line not in orphans
        key = values[key_field.name] if key_field is not None else None
        if key is _BAD:
            key = None
        if key is not None:
            assert key_field is not None
            first = seen.get(key)
            if first is not None:
                error(line, key_field.name, _duplicate(key_field, key, first))
                row_ok = False
            else:
                seen[key] = line
        current = existing.get(key) if key is not None else None
        if current is not None and not result.upsert:
            assert key_field is not None
            error(line, key_field.name, _exists(layout, key_field, key))
            row_ok = False
        if current is not None and version_field is not None and version is not None:
            given = values[version_field.name]
            if (given is None and result.upsert and pk_field is not None
                    and values[pk_field.name] not in (None, _BAD)):
                shown_id = pk_field.kind.to_text(values[pk_field.name])
                error(line, version_field.name, version_required(layout, shown_id))
                row_ok = False
            elif given is not None and given is not _BAD and given != current[version]:
                error(line, version_field.name, _conflict(given, current[version]))
                row_ok = False
        if current is not None:
            for f in written:
                if f.blank is Blank.INSERT_DEFAULT and values[f.name] is None:
                    error(line, f.name, f"{f.label} is required.")
                    row_ok = False
        if not row_ok:
            continue
        if current is None:
            result.inserted += 1
            inserts.append({
                f.column: values[f.name] for f in written
                # The database's own default (or a new id) where the cell is blank.
                if not (values[f.name] is None and f.blank in (Blank.INSERT_DEFAULT,
                                                               Blank.GENERATED))
            })
            if key_field is None and not result.upsert:
                inserts[-1][_LINE] = line  # type: ignore[index]
            continue
        data = {f.column: values[f.name] for f in written if f.role == "value"}
        differ = [f for f in written if f.role == "value"
                  and not f.kind.same(current[f.column], data[f.column])]
        if not differ:
            result.unchanged += 1
        else:
            result.updated += 1
            assert key_field is not None
            shown_key = key_field.kind.to_text(key)
            for f in differ:
                result.add_change(line, shown_key, f.name, current[f.column], data[f.column])
            params = {f"v{i}": value for i, value in enumerate(data.values())}
            params["b_pk"] = current[pk]
            if version is not None:
                params["b_version"] = current[version]
            updates.append(params)
    if key_field is None and not result.upsert and inserts:
        _flag_identical(session, layout, written, inserts, result)
    return inserts, updates, written


# Where an insert of a model without a natural key keeps its line (taken out before writing).
_LINE = "__line__"


def _flag_identical(
    session: Session, layout: FileFormat, written: list[Field],
    inserts: list[dict[Any, Any]], result: ImportResult,
) -> None:
    """Count (and warn of) new rows equal, column for column, to a row already stored.

    Only the columns each row gives are compared (a blank cell left to the
    database's default is not). Candidates are narrowed by the first column every
    row gives, then compared by each kind's ``same``.
    """
    columns = [f.column for f in written]
    given = [c for c in columns if all(c in row for row in inserts)]
    stored: list[Any] = []
    if given:
        probe = given[0]
        wanted = {row[probe] for row in inserts}
        where: Any = probe.in_(wanted - {None})
        if None in wanted:
            where = where | probe.is_(None)
        stored = [r._mapping for r in session.execute(select(*columns).where(where))]
    by_column = {f.column: f for f in written}
    for row in inserts:
        line = row.pop(_LINE)
        if any(all(by_column[c].kind.same(s[c], v) for c, v in row.items()) for s in stored):
            result.identical += 1
            result.add_warning(line, identical_warning(layout.description.singular))



def _write(
    session: Session, layout: FileFormat, written: list[Field],
    inserts: list[dict[Column[Any], Any]], updates: list[dict[str, Any]],
) -> None:
    description = layout.description
    table = layout.table
    pk = description.pk.column
    version = description.version.column if description.version else None
    if inserts:
        _insert(session, layout, inserts)
    if updates:
        value_columns = [f.column for f in written if f.role == "value"]
        where = [pk == bindparam("b_pk")]
        sets: dict[Any, Any] = {c: bindparam(f"v{i}") for i, c in enumerate(value_columns)}
        if version is not None:
            where.append(version == bindparam("b_version"))
            sets[version] = version + 1
        # Core applies the columns' own onupdate (updated_at) to every row.
        stmt = update(table).where(*where).values(sets)
        changed = session.connection().execute(stmt, updates).rowcount
        if changed != len(updates):
            raise ConcurrentChange(
                f"{len(updates) - changed} row(s) were changed by someone else during the import; "
                "nothing was written. Export again and retry."
            )


def _insert(session: Session, layout: FileFormat, inserts: list[dict[Column[Any], Any]]) -> None:
    """Insert new rows, grouped by the columns they give (blank ids and defaults are left out)."""
    version = layout.description.version
    first_version = version is not None and version.column.default is None and (
        version.column.server_default is None
    )
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for data in inserts:
        row = {c.key: v for c, v in data.items()}
        if first_version:
            assert version is not None
            row[version.column.key] = 1  # the ORM's first version
        by_shape.setdefault(tuple(sorted(row)), []).append(row)
    for group in by_shape.values():
        session.execute(insert(layout.table), group)


def _duplicate(key_field: Field, key: Any, first: int) -> str:
    return f"{key_field.label} {key!s} appears twice in the file (first on line {first})."


def _exists(layout: FileFormat, key_field: Field, key: Any) -> str:
    return (
        f"A {layout.description.singular} with {key_field.label.lower()} {key!s} already exists "
        "(import in upsert mode to update it)."
    )


def version_required(layout: FileFormat, shown_id: str) -> str:
    """The error of a row with an id that updates a row but carries no version."""
    version = layout.version_field
    assert version is not None
    return (
        f"{version.label} is required to update {layout.description.singular} {shown_id}: "
        "export the rows again to get their versions."
    )


def _conflict(version: int, current: int) -> str:
    return (
        f"Changed since the file was exported (version {version} in the file, {current} in the "
        "database): export again and reapply your edits."
    )


__all__ = ["FORMATS", "ConcurrentChange", "ImportResult", "RowError", "import_file", "refused"]
