"""CSV import: validate every row, then write all of them in one transaction or none.

``import_csv`` is the entry point. On PostgreSQL the file is streamed by COPY into
a staging table and checked with set-based SQL (``console.bulk.pg_import``);
elsewhere (SQLite) rows are streamed through the shared Python rules in chunks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from console import audit, rules
from console.bulk.csvio import (
    CountingReader,
    FileProblem,
    check_header,
    not_utf8,
    read_header,
    unneutralise,
)
from console.bulk.spec import Field, ModelSpec, spec_singular
from console.models.base import utcnow

CHUNK = 5_000
# Errors kept for display; the count beyond this is still exact.
MAX_ERRORS = 10_000


@dataclass
class RowError:
    """One problem: the file line, the column (None for the whole row or file) and why."""

    line: int
    column: str | None
    message: str


@dataclass
class ImportResult:
    """What an import did, or (dry run) would do."""

    model: str
    upsert: bool
    dry_run: bool
    file_name: str | None = None
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False
    # PostgreSQL: the parents were locked once and the per-row foreign-key triggers
    # skipped (see pg_import.trusted_references).
    set_based_references: bool = False

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
            "mode": "upsert" if self.upsert else "insert",
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.error_count,
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-safe."""
        data = asdict(self)
        data["errors"] = [asdict(e) for e in self.errors]
        return data


class ConcurrentChange(Exception):
    """Rows changed between validation and writing: nothing was written."""


def import_csv(
    session: Session,
    spec: ModelSpec,
    source: BinaryIO,
    *,
    upsert: bool = False,
    dry_run: bool = True,
    account: Any = None,
    file_name: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Check ``source`` (a binary CSV stream) and, unless ``dry_run``, write it all or nothing.

    ``progress`` is called with the number of bytes read since the last call. The
    session's transaction is committed on success and rolled back otherwise.
    """
    result = ImportResult(model=spec.name, upsert=upsert, dry_run=dry_run, file_name=file_name)
    stream = CountingReader(source, progress)
    try:
        header = read_header(stream)  # type: ignore[arg-type]
        check_header(spec, header)
        if session.get_bind().dialect.name == "postgresql":
            from console.bulk.pg_import import import_postgresql

            import_postgresql(session, spec, header.columns, stream, result)  # type: ignore[arg-type]
        else:
            _import_python(session, spec, header.columns, stream, result)  # type: ignore[arg-type]
        if result.rows == 0 and result.ok:
            result.add_error(1, None, "The file has a header but no rows.")
    except FileProblem as problem:
        result.add_error(problem.line, None, problem.message)
    except ConcurrentChange as exc:
        result.add_error(0, None, str(exc))
    if dry_run or not result.ok:
        session.rollback()
        return result
    audit.record(
        session, "import", account=account, model=spec.model.__name__,
        changes={"summary": result.summary()},
    )
    session.commit()
    result.committed = True
    return result


# -- the streamed Python path (SQLite) ----------------------------------------------------


def _rows(stream: BinaryIO) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) per non-blank record."""
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")  # type: ignore[type-var]
    reader = csv.reader(text)
    try:
        for cells in reader:
            line = reader.line_num + 1  # +1: the header was read before the reader
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            yield line, cells
    except UnicodeDecodeError:
        raise not_utf8(reader.line_num + 2) from None
    except csv.Error as exc:
        raise FileProblem(f"Not a readable CSV file: {exc}.", reader.line_num + 1) from None
    finally:
        text.detach()


def width_message(expected: int, got: int) -> str:
    """The error for a row with too many or too few values."""
    return f"Expected {expected} values (one per header column), got {got}."


def _import_python(
    session: Session, spec: ModelSpec, columns: list[str], stream: BinaryIO, result: ImportResult
) -> None:
    fields = [spec.field(c) for c in columns]
    seen: dict[Any, int] = {}
    chunk: list[tuple[int, list[str]]] = []
    for line, cells in _rows(stream):
        result.rows += 1
        if len(cells) != len(columns):
            result.add_error(line, None, width_message(len(columns), len(cells)))
            continue
        chunk.append((line, cells))
        if len(chunk) >= CHUNK:
            _process_chunk(session, spec, fields, chunk, seen, result)
            chunk = []
    if chunk:
        _process_chunk(session, spec, fields, chunk, seen, result)


def _process_chunk(
    session: Session,
    spec: ModelSpec,
    fields: list[Field],
    chunk: list[tuple[int, list[str]]],
    seen: dict[Any, int],
    result: ImportResult,
) -> None:
    table = spec.table
    cleaned: list[tuple[int, dict[str, Any]]] = []
    wanted: dict[str, set[str]] = {f.name: set() for f in fields if f.kind == "ref"}
    for line, cells in chunk:
        values: dict[str, Any] = {}
        bad = False
        for f, raw in zip(fields, cells, strict=True):
            try:
                values[f.name] = f.check(unneutralise(raw))
            except rules.RuleError as exc:
                result.add_error(line, f.name, str(exc))
                bad = True
        if bad:
            continue
        for name in wanted:
            if values[name] is not None:
                wanted[name].add(values[name])
        cleaned.append((line, values))

    # Parents by natural key, one query per referenced column.
    parents: dict[str, dict[str, int]] = {}
    for name, keys in wanted.items():
        ref = spec.field(name).ref
        assert ref is not None
        key_col = ref.table.c[ref.key]
        parents[name] = dict(
            session.execute(select(key_col, ref.table.c.id).where(key_col.in_(keys))).all()
        ) if keys else {}

    # Existing rows by key, to tell inserts from updates and unchanged rows.
    key_col = table.c[spec.key_column]
    keys = {v[spec.key] for _, v in cleaned if v.get(spec.key) is not None}
    existing: dict[Any, Any] = {}
    if keys:
        existing = {
            row._mapping[spec.key_column]: row
            for row in session.execute(select(table).where(key_col.in_(keys)))
        }

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for line, values in cleaned:
        row_ok = True
        for name in wanted:
            if values[name] is not None and values[name] not in parents[name]:
                ref = spec.field(name).ref
                assert ref is not None
                result.add_error(line, name, f"No {ref.noun} {values[name]!r}.")
                row_ok = False
        key = values.get(spec.key)
        if key is not None:
            first = seen.get(key)
            if first is not None:
                result.add_error(line, spec.key, _duplicate(spec, key, first))
                row_ok = False
            else:
                seen[key] = line
        current = existing.get(key) if key is not None else None
        if current is not None and not result.upsert:
            result.add_error(line, spec.key, _exists(spec, key))
            row_ok = False
        version = values.get("version")
        if current is not None and version is not None and version != current.version:
            result.add_error(line, "version", _conflict(version, current.version))
            row_ok = False
        if not row_ok:
            continue
        data = {}
        for f in fields:
            if f.column is None or (f.kind == "id" and not spec.key_is_id):
                continue
            value = values[f.name]
            if f.kind == "ref" and value is not None:
                value = parents[f.name][value]
            data[f.column] = value
        if current is None:
            result.inserted += 1
            inserts.append(data)
        elif all(current._mapping[c] == v for c, v in data.items()):
            result.unchanged += 1
        else:
            result.updated += 1
            updates.append({**{f"v_{c}": v for c, v in data.items()},
                            "b_id": current.id, "b_version": current.version})

    if result.dry_run or not result.ok:
        return
    if inserts:
        # Rows may carry different column sets only when an optional id is blank.
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for data in inserts:
            shaped = {k: v for k, v in data.items() if not (k == "id" and v is None)}
            by_shape.setdefault(tuple(sorted(shaped)), []).append(shaped)
        for group in by_shape.values():
            session.execute(insert(table), group)
    if updates:
        names = [k[2:] for k in updates[0] if k.startswith("v_") and k != "v_id"]
        stmt = (
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version"))
            .values(
                {**{n: bindparam(f"v_{n}") for n in names},
                 "version": table.c.version + 1, "updated_at": utcnow()}
            )
        )
        changed = session.connection().execute(stmt, updates).rowcount
        if changed != len(updates):
            raise ConcurrentChange(
                f"{len(updates) - changed} row(s) were changed by someone else during the import; "
                "nothing was written. Export again and retry."
            )


def _duplicate(spec: ModelSpec, key: Any, first: int) -> str:
    label = spec.field(spec.key).label
    return f"{label} {key!s} appears twice in the file (first on line {first})."


def _exists(spec: ModelSpec, key: Any) -> str:
    label = spec.field(spec.key).label
    return (
        f"A {spec_singular(spec)} with {label.lower()} {key!s} already exists "
        "(import in upsert mode to update it)."
    )


def _conflict(version: int, current: int) -> str:
    return (
        f"Changed since the file was exported (version {version} in the file, {current} in the "
        "database): export again and reapply your edits."
    )


__all__ = ["ImportResult", "RowError", "import_csv"]
