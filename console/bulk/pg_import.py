# SQL is assembled from identifiers and constants of the catalogue and our own code,
# never from file data (which only ever travels through COPY):
# ruff: noqa: S608
"""The PostgreSQL fast path: COPY into a staging table, then set-based SQL.

The file goes straight from the stream into a TEMP table of text columns by COPY
(JSON Lines is turned into the same text columns as it streams). One statement then
cleans every cell, resolves the natural keys by join and marks each row that fails
any of its own checks; the error messages are built afterwards for the marked rows
only. Duplicate detection and the write are one statement each.

Each cell is read by its kind's SQL (``Kind.sql_value``, ``Kind.sql_errors`` in
``console.kinds``), which says what the kind's Python rule says, value by value
(tests check that both paths agree). A kind without such SQL (emails: no SQL can
mirror email-validator; date-times; floats; choices that SQL cannot lower-case as
Python does) has the distinct values of its column streamed back through its Python
rule itself, and the verdicts joined in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import psycopg2
from psycopg2.extras import execute_values
from sqlalchemy import Column, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from console import rules
from console.bulk.csvio import FileProblem, RowProblem, csv_rows, not_utf8, nul_problem
from console.bulk.fileformat import Blank, Field, FileFormat
from console.bulk.importer import (
    MAX_CHANGES,
    MAX_ERRORS,
    ConcurrentChange,
    ImportResult,
    identical_note,
    identical_warning,
    refused,
    version_required,
)
from console.bulk.jsonl import Prepare, RowSource, StagedCsv
from console.kinds import EmailKind, ReferenceKind, SqlCell, neutralise, unneutralise
from console.sqltext import WHITESPACE, Encoding, lit, q

__all__ = ["WHITESPACE", "import_postgresql", "trimmed_sql", "whitespace_sql"]

COPY_BUFFER = 1 << 20
_COPY_LINE = re.compile(r"line (\d+)")
_DIALECT = postgresql.dialect()


def whitespace_sql(server_encoding: str) -> str:
    """The SQL literal of WHITESPACE, or of its ASCII part where the database is not UTF-8."""
    return Encoding.of(server_encoding).whitespace


def trimmed_sql(s: str, ws: str) -> str:
    """``unneutralise`` then ``strip()`` of the staged cell ``s`` ('' when it is missing).

    ``ws`` is the whitespace literal of ``whitespace_sql``.
    """
    return (
        f"CASE WHEN {s} ^@ '''' THEN btrim({_unneutralised(s)}, {ws}) "
        f"ELSE btrim(coalesce({s}, ''), {ws}) END"
    )


def _unneutralised(column: str) -> str:
    """SQL for ``kinds.unneutralise`` (string functions: cheaper than a regex per cell).

    ``kinds.needs_quote`` of the text after the quote: a tab, CR or quote, or = + - @
    after leading blanks (IN, not strpos: strpos finds '' in any text).
    """
    return (
        f"CASE WHEN left({column}, 1) = '''' AND length({column}) > 1 "
        f"AND (substr({column}, 2, 1) IN (E'\\t', E'\\r', '''') "
        f"OR left(ltrim(substr({column}, 2), E' \\t\\r\\n'), 1) IN ('=', '+', '-', '@')) "
        f"THEN substr({column}, 2) ELSE {column} END"
    )


def table_sql(table: Table) -> str:
    """The table's quoted (schema-qualified) name."""
    return (q(table.schema) + "." if table.schema else "") + q(table.name)


def type_sql(column: Column[Any]) -> str:
    """The column's type as PostgreSQL spells it."""
    return str(column.type.compile(dialect=_DIALECT))


def literal_sql(cur: Any, column: Column[Any], value: Any) -> str:
    """A Python value as a literal of the column's type (quoted by the driver)."""
    process = column.type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
    quoted = cur.mogrify("%s", (process(value) if process else value,)).decode()
    return f"CAST({quoted} AS {type_sql(column)})"


def default_sql(cur: Any, column: Column[Any], default: Any) -> str | None:
    """SQL for a column default or onupdate (ColumnDefault), as Core would apply it.

    A Python callable is called once for the whole import (a timestamp is the
    import's time for every row, as the database's now() would be).
    """
    if default is None or getattr(default, "is_sequence", False):
        return None
    if default.is_clause_element:
        return str(default.arg.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))
    value = default.arg(None) if default.is_callable else default.arg
    return literal_sql(cur, column, value)


def server_default_sql(column: Column[Any]) -> str | None:
    """SQL for the column's server default, or None."""
    server = column.server_default
    arg = getattr(server, "arg", None)
    if arg is None:
        return None
    if isinstance(arg, str):
        return f"CAST({lit(arg)} AS {type_sql(column)})"
    return str(arg.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))


# -- the plan: SQL names and expressions of one file's columns ------------------------------


@dataclass
class _Plan:
    layout: FileFormat
    fields: list[Field]
    encoding: Encoding
    upsert: bool
    # py_table -> {cell: message}: emails refused while the file was staged.
    refused: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ws(self) -> str:
        return self.encoding.whitespace

    def t(self, f: Field) -> str:
        return q(f"t_{f.name}")

    def v(self, f: Field) -> str:
        return q(f"v_{f.name}")

    def python_checked(self, f: Field) -> bool:
        """True when the kind has no SQL: the column's values are checked by Python."""
        return f.parent is None and f.kind.sql_value("t") is None

    def py_table(self, f: Field) -> str:
        return f"bulk_py_{self.fields.index(f)}"

    @property
    def key(self) -> Field | None:
        key = self.layout.key_field
        return key if key in self.fields else None

    @property
    def written(self) -> list[Field]:
        """Fields written to the table (the primary key only where files' ids are kept)."""
        return [
            f for f in self.fields
            if f.role == "value" or (f.role == "pk" and self.layout.pk_written)
        ]

    @property
    def values_written(self) -> list[Field]:
        return [f for f in self.written if f.role == "value"]

    def lookup_sql(self, f: Field) -> str:
        """The key a reference is looked up by (from the trimmed text)."""
        key = f.kind.sql_lookup_key(self.t(f))
        assert key is not None
        return key

    def blank_sql(self, f: Field) -> str:
        if f.blank is Blank.DEFAULT:
            literal = lit(f.kind.sql_literal(f.default))
            return literal if f.kind.sql_type == "text" else f"{literal}::{f.kind.sql_type}"
        return "NULL"

    def value_sql(self, f: Field) -> str:
        """The cleaned value of ``f`` from its trimmed text; NULL where the rule refuses it."""
        t = self.t(f)
        if f.parent is not None:
            base = f"{q('p_' + f.name)}.{q(f.parent.target.name)}"
        elif self.python_checked(f):
            py = self.py_table(f)
            base = f"CASE WHEN {py}.raw IS NULL THEN {t} ELSE {py}.v END"
            if f.kind.sql_type != "text":
                base = f"({base})::{f.kind.sql_type}"
        else:
            base = f.kind.sql_value(t)  # type: ignore[assignment]
        if f.blank is Blank.REQUIRED:
            return base  # a blank cell is an error: its value is never used
        return f"CASE WHEN {t} = '' THEN {self.blank_sql(f)} ELSE {base} END"

    def value_checks(self, f: Field) -> list[Check]:
        """(column, condition, message SQL): the rule's checks of one cell."""
        t, v = self.t(f), self.v(f)
        raw = f"coalesce({q('r_' + f.name)}, {t})"
        checks: list[Check] = []
        if f.blank is Blank.REQUIRED:
            checks.append((f.name, f"{t} = ''", lit(f"{f.label} is required.")))
        if f.parent is not None:
            cell = SqlCell(t, q(f"k_{f.name}"), raw, self.encoding)
            found = f.kind.sql_lookup_errors(cell, label=f.label)
        elif self.python_checked(f):
            m = q(f"m_{f.name}")
            found = [(f"{m} IS NOT NULL", m)]
        else:
            cell = SqlCell(t, v, raw, self.encoding)
            found = f.kind.sql_errors(cell, label=f.label)
        checks += [(f.name, f"{t} <> '' AND ({c})", message) for c, message in found]
        return checks

    def link_checks(self) -> list[Check]:
        """Checks of a row's links to other rows: parents, existing keys, versions."""
        links: list[Check] = []
        for f in self.fields:
            if f.parent is not None:
                k = q(f"k_{f.name}")
                shown = self.encoding.repr(k) if f.kind.textual else f"{k}::text"
                links.append((
                    f.name,
                    f"{self.t(f)} <> '' AND {k} IS NOT NULL AND {self.v(f)} IS NULL",
                    f"{lit('No ' + f.parent.noun + ' ')} || {shown} || '.'",
                ))
        key = self.key
        if key is not None and not self.upsert:
            singular = self.layout.description.singular
            links.append((
                key.name,
                "ex_pk IS NOT NULL",
                f"{lit(f'A {singular} with {key.label.lower()} ')} || {self.v(key)}::text"
                " || ' already exists (import in upsert mode to update it).'",
            ))
        version = self.layout.version_field
        pk = self.layout.pk_field
        if version is not None and version in self.fields and key is not None:
            v = self.v(version)
            if self.upsert and pk is not None and pk in self.fields:
                # importer.version_required: a row with an id updates only with its version.
                message = version_required(self.layout, "\x00")
                before, after = (lit(part) for part in message.split("\x00"))
                links.append((
                    version.name,
                    f"ex_pk IS NOT NULL AND {self.t(version)} = '' AND {self.v(pk)} IS NOT NULL",
                    f"{before} || {self.v(pk)}::text || {after}",
                ))
            links.append((
                version.name,
                f"ex_pk IS NOT NULL AND {v} IS NOT NULL AND {v} <> ex_version",
                f"'Changed since the file was exported (version ' || {v} || ' in the file, ' "
                "|| ex_version || ' in the database): export again and reapply your edits.'",
            ))
        for f in self.written:
            if f.blank is Blank.INSERT_DEFAULT:
                links.append((f.name, f"ex_pk IS NOT NULL AND {self.t(f)} = ''",
                              lit(f"{f.label} is required.")))
        return links

    def rows_sql(self, *, detail: bool) -> str:
        """A SELECT of the staged rows: line, t_*, v_*, k_*, m_*, ex_pk, ex_version, x_*.

        ``detail`` adds r_* (the cell before trimming, kept only where trimming changed
        it: error messages quote it) and reads only the rows ``bulk_clean`` marks bad.
        The OFFSET 0 fence keeps PostgreSQL from inlining the trimming into every use
        of a t_* column: each cell is trimmed once.
        """
        cells = []
        for f in self.fields:
            s = q("s_" + f.name)
            cells.append(f"{trimmed_sql(s, self.ws)} AS {self.t(f)}")
            if detail:
                cells.append(
                    f"NULLIF({_unneutralised(s)}, {trimmed_sql(s, self.ws)}) AS {q('r_' + f.name)}"
                )
            if self.python_checked(f):
                cells.append(f"{_unneutralised(s)} AS {q('u_' + f.name)}")
        where = " WHERE line IN (SELECT line FROM bulk_clean WHERE bad)" if detail else ""
        joins, values = [], []
        for f in self.fields:
            values.append(f"{self.value_sql(f)} AS {self.v(f)}")
            if f.parent is not None:
                alias = q(f"p_{f.name}")
                values.append(f"{self.lookup_sql(f)} AS {q('k_' + f.name)}")
                joins.append(
                    f"LEFT JOIN {table_sql(f.parent.table)} {alias} "
                    f"ON {alias}.{q(f.parent.key.column.name)} = {self.lookup_sql(f)}"
                )
            elif self.python_checked(f):
                py = self.py_table(f)
                values.append(f"{py}.message AS {q('m_' + f.name)}")
                joins.append(f"LEFT JOIN {py} ON {py}.raw = s.{q('u_' + f.name)}")
        description = self.layout.description
        version = description.version
        key = self.key
        if key is not None:
            joins.append(
                f"LEFT JOIN {table_sql(self.layout.table)} x "
                f"ON x.{q(key.column.name)} = {self.value_sql(key)}"
            )
            existing = f"x.{q(description.pk.column.name)} AS ex_pk, " + (
                f"x.{q(version.column.name)} AS ex_version" if version else "NULL AS ex_version"
            ) + "".join(
                f", x.{q(f.column.name)} AS {q('x_' + f.name)}" for f in self.values_written
            )
        else:
            existing = "NULL AS ex_pk, NULL AS ex_version"
        return (
            f"SELECT s.*, {', '.join(values)}, {existing} "
            f"FROM (SELECT line, {', '.join(cells)} FROM bulk_stage{where} OFFSET 0) s "
            + " ".join(joins)
        )

    def same_sql(self) -> str:
        """True when the row in the database already holds the file's values."""
        if self.key is None:
            return "false"  # no key column: every row is new, and there are no x_* columns
        return " AND ".join(
            f"{q('x_' + f.name)} IS NOT DISTINCT FROM {self.v(f)}" for f in self.values_written
        ) or "true"


Check = tuple[str, str, str]  # (column, condition, message SQL)


# -- the import -------------------------------------------------------------------------


def import_postgresql(
    session: Session,
    layout: FileFormat,
    columns: list[str],
    source: BinaryIO | RowSource,
    result: ImportResult,
) -> None:
    """Stage, check and (unless a dry run or any error) write the file; see the module doc.

    ``source`` is the CSV stream after its header, or the JSON Lines (or XLSX) file.
    """
    cur = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    # Reported by the server at connection time: no query needed.
    encoding = Encoding.of(cur.connection.get_parameter_status("server_encoding"))
    plan = _Plan(layout, [layout.field(c) for c in columns], encoding, result.upsert)
    # Staging lives in local buffers: more of them keeps a big file off the disk. Only
    # effective before a session's first temporary table; harmless otherwise.
    cur.execute("SET temp_buffers = '128MB'")
    problems = _stage(cur, plan, source, result)
    if result.rows == 0:
        return
    for f in plan.fields:
        if plan.python_checked(f):
            _check_in_python(cur, plan, f)
    _clean(cur, plan)
    _check(cur, plan, result, problems)
    _count(cur, plan, result)
    if result.updated:
        _collect_changes(cur, plan, result)
    if plan.key is None and not plan.upsert:
        _flag_identical(cur, plan, result)
    if result.ok and not result.dry_run:
        _write(cur, plan, result)


def _preparer(plan: _Plan) -> Prepare:
    """What ``StagedCsv`` stages for a row's cells: the Python half of the checks.

    A cell of only invisible characters (``rules.is_blank``) is staged blank, an
    email in its normal form (``EmailKind.staged``); a row with NUL is refused by
    cell. Emails the rule refuses are kept, with their messages, for
    ``_check_in_python`` (which then need not read them back). The row's cells
    joined tell at once whether any cell holds NUL, or can start with a blank or an
    invisible character; most rows need nothing more.
    """
    names = [f.name for f in plan.fields]
    emails: list[tuple[int, EmailKind, bool]] = []
    for i, f in enumerate(plan.fields):
        kind = f.kind.key_kind if isinstance(f.kind, ReferenceKind) else f.kind
        if isinstance(kind, EmailKind) and (f.parent is not None or plan.python_checked(f)):
            emails.append((i, kind, f.parent is not None))
            if f.parent is None:
                plan.refused[plan.py_table(f)] = {}
    is_blank = rules.is_blank
    # Each distinct email cell is normalised once (a file names the same parents often):
    # the cell -> the cell to stage.
    seen: list[dict[str, str]] = [{} for _ in emails]

    def prepare(cells: list[str], joined: str) -> list[str] | RowProblem | None:
        if "\x00" in joined:
            return nul_problem(names, cells) or cells
        changed = False
        # A cell starts with a blank or an invisible character only where the joined
        # row does, or after a comma, or where the row is not all printable.
        if joined[:1] == " " or ", " in joined or not joined.isprintable():
            for i, cell in enumerate(cells):
                if cell and (cell[0].isspace() or not cell[0].isprintable()) and is_blank(
                    unneutralise(cell)
                ):
                    cells[i] = ""
                    changed = True
        for n, (i, kind, reference) in enumerate(emails):
            cell = cells[i]
            if not cell:
                continue
            known = seen[n]
            staged = known.get(cell)
            if staged is None:
                if len(known) >= 50_000:  # memory stays flat for files of distinct addresses
                    known.clear()
                staged = known[cell] = _staged_email(plan, i, kind, reference, cell)
            if staged != cell:
                cells[i] = staged
                changed = True
        return cells if changed else None

    return prepare


def _staged_email(plan: _Plan, i: int, kind: EmailKind, reference: bool, cell: str) -> str:
    """The cell to stage for an email cell: its normal form (the cell itself if it is one).

    A refused address stays as it is, with its message kept for ``_check_in_python``.
    """
    text = unneutralise(cell)
    if not text.strip():
        return cell
    staged = kind.staged(text, reference=reference)
    if staged is None:  # refused: kept for its message
        f = plan.fields[i]
        refused = plan.refused[plan.py_table(f)]
        if text not in refused:
            try:
                f.kind.parse(text, label=f.label)
            except rules.RuleError as exc:
                refused[text] = str(exc)
        return cell
    staged = neutralise(staged)
    return cell if staged == cell else staged


def _stage(
    cur: Any, plan: _Plan, source: BinaryIO | RowSource, result: ImportResult
) -> list[tuple[int, RowProblem]]:
    """COPY the rows into ``bulk_stage``; returns the rows that could not be read at all.

    The file is read by Python (as on the Python path: the same records, the same
    physical line numbers) and streamed to COPY as CSV with its line number.
    """
    columns = [f.name for f in plan.fields]
    staged = ", ".join(q(f"s_{c}") for c in columns)
    cur.execute(
        "CREATE TEMP TABLE bulk_stage (line bigint, "
        + ", ".join(f"{q('s_' + c)} text" for c in columns)
        + ") ON COMMIT DROP"
    )
    rows = source.rows() if isinstance(source, RowSource) else csv_rows(source, len(columns))
    reader = StagedCsv(rows, keep=MAX_ERRORS, prepare=_preparer(plan))
    try:
        cur.copy_expert(
            f"COPY bulk_stage (line, {staged}) FROM STDIN WITH (FORMAT csv, ENCODING 'UTF8', "
            f"FORCE_NOT_NULL ({staged}))",
            reader, size=COPY_BUFFER,
        )
    except psycopg2.DataError as exc:
        match = _COPY_LINE.search(exc.diag.context or "")
        line = int(match.group(1)) + 1 if match else 0
        message = exc.diag.message_primary or str(exc)
        if "encoding" in message or "byte sequence" in message:
            raise not_utf8(line) from None
        raise FileProblem(f"Not a readable CSV file: {message}.", line) from None
    if reader.failure is not None:
        raise reader.failure
    result.rows = reader.count
    result.error_count += reader.problem_count - len(reader.problems)
    return reader.problems


def _check_in_python(cur: Any, plan: _Plan, f: Field) -> None:
    """Run each distinct cell of a column through its kind's rule (streamed, in batches).

    ``bulk_py_<n>`` keeps the cells the rule refuses (with its message) or reads as
    something else than their text says (with the value's exact text): a file of
    values already in their normal form adds no rows here.
    """
    table = plan.py_table(f)
    cur.execute(f"CREATE TEMP TABLE {table} (raw text PRIMARY KEY, v text, message text) "
                "ON COMMIT DROP")
    if table in plan.refused:  # checked as the file was staged (``_preparer``)
        found = [(raw, None, message) for raw, message in plan.refused[table].items()]
        for start in range(0, len(found), 1000):
            execute_values(cur, f"INSERT INTO {table} VALUES %s", found[start:start + 1000])
        cur.execute(f"ANALYZE {table}")
        return
    reader = cur.connection.cursor(name=f"bulk_check_{table}")
    reader.itersize = 10_000
    s = q("s_" + f.name)
    reader.execute(f"SELECT DISTINCT {_unneutralised(s)} FROM bulk_stage")
    rows: list[tuple[str, str | None, str | None]] = []
    for (raw,) in reader:
        if raw is None or not raw.strip():
            continue  # blank: what the field's blank rule says
        try:
            value = f.kind.parse(raw, label=f.label)
        except rules.RuleError as exc:
            rows.append((raw, None, str(exc)))
        else:
            text = f.kind.sql_literal(value)
            if text != raw:
                rows.append((raw, text, None))
        if len(rows) >= 1000:
            execute_values(cur, f"INSERT INTO {table} VALUES %s", rows)
            rows = []
    reader.close()
    if rows:
        execute_values(cur, f"INSERT INTO {table} VALUES %s", rows)
    cur.execute(f"ANALYZE {table}")


def _clean(cur: Any, plan: _Plan) -> None:
    """``bulk_clean``: every row's values, and ``bad`` where any check of the row fails.

    One pass computes each value once and evaluates every row's own checks (not the
    messages): a file without errors is never looked at again before the write.
    """
    keep = [q("line"), *(plan.v(f) for f in plan.fields), "ex_pk", "ex_version"]
    if plan.key is not None:
        keep += [q("x_" + f.name) for f in plan.values_written]
    checks = [c for f in plan.fields for c in plan.value_checks(f)] + plan.link_checks()
    bad = " OR ".join(f"({condition})" for _, condition, _ in checks) or "false"
    cur.execute(
        f"CREATE TEMP TABLE bulk_clean ON COMMIT DROP AS SELECT {', '.join(keep)}, "
        f"({bad}) AS bad FROM ({plan.rows_sql(detail=False)} OFFSET 0) c"
    )


def _check(
    cur: Any, plan: _Plan, result: ImportResult, problems: list[tuple[int, RowProblem]]
) -> None:
    """Every error with its line, column and message, into ``bulk_errors``.

    As on the Python path, every error of a row is reported: its cells' own, then
    its links to other rows (parents, existing keys, versions) for the cells that
    passed; duplicates of the key among the rows whose key cell passed.
    """
    cur.execute(
        "CREATE TEMP TABLE bulk_errors (line bigint, col text, message text) ON COMMIT DROP"
    )
    if problems:
        execute_values(cur, "INSERT INTO bulk_errors VALUES %s",
                       [(line - 1, each.column, each.message)
                        for line, p in problems for each in p.all()])
    values = [c for f in plan.fields for c in plan.value_checks(f)]
    cur.execute("SELECT EXISTS (SELECT 1 FROM bulk_clean WHERE bad)")
    any_bad = cur.fetchone()[0]
    if any_bad:
        # Only the bad rows are read again, with what the messages need.
        cur.execute(
            "CREATE TEMP TABLE bulk_detail ON COMMIT DROP AS " + plan.rows_sql(detail=True)
        )
        _insert_errors(cur, "bulk_detail", values)
    key = plan.key
    if key is not None:
        v = plan.v(key)
        passed = (f"NOT EXISTS (SELECT 1 FROM bulk_errors e WHERE e.line = c.line "
                  f"AND e.col = {lit(key.name)})")
        cur.execute(
            f"INSERT INTO bulk_errors SELECT line, {lit(key.name)}, {lit(key.label + ' ')} || "
            f"{v}::text || ' appears twice in the file (first on line ' || (first + 1) || ').' "
            f"FROM (SELECT line, {v}, min(line) OVER (PARTITION BY {v}) AS first "
            f"FROM bulk_clean c WHERE {v} IS NOT NULL AND {passed}) d WHERE line <> first"
        )
    if any_bad:
        _insert_errors(cur, "bulk_detail", plan.link_checks())
    cur.execute("SELECT count(*) FROM bulk_errors")
    total = cur.fetchone()[0]
    # Rows of a JSON Lines file beyond the first MAX_ERRORS unreadable ones were counted only.
    uncounted = result.error_count
    if total:
        # The Python path's order (importer.error_order): line, file column, message.
        columns = "ARRAY[" + ", ".join(lit(f.name) for f in plan.fields) + "]::text[]"
        cur.execute(
            f"SELECT line, col, message FROM bulk_errors ORDER BY line, "
            f"array_position({columns}, col) NULLS LAST, message COLLATE \"C\" LIMIT %s",
            (MAX_ERRORS,),
        )
        for line, col, message in cur.fetchall():
            result.add_error(int(line) + 1, col, message)
    result.error_count = uncounted + total


def _insert_errors(cur: Any, table: str, checks: list[Check], where: str = "true") -> None:
    """Record (column, condition, message SQL) checks in one pass over the rows.

    The OR of the conditions picks the bad rows first; only those are expanded into
    one candidate error per check.
    """
    if not checks:
        return
    any_bad = " OR ".join(f"({condition})" for _, condition, _ in checks)
    values = ", ".join(
        f"({lit(col)}, CASE WHEN {condition} THEN {message} END)"
        for col, condition, message in checks
    )
    cur.execute(
        "INSERT INTO bulk_errors SELECT c.line, e.col, e.message "
        f"FROM (SELECT * FROM {table} c WHERE ({any_bad}) AND {where}) c "
        f"CROSS JOIN LATERAL (VALUES {values}) e(col, message) WHERE e.message IS NOT NULL"
    )


def _count(cur: Any, plan: _Plan, result: ImportResult) -> None:
    same = plan.same_sql()
    cur.execute(
        "SELECT count(*) FILTER (WHERE ex_pk IS NULL), "
        f"count(*) FILTER (WHERE ex_pk IS NOT NULL AND {same}), "
        f"count(*) FILTER (WHERE ex_pk IS NOT NULL AND NOT ({same})) FROM bulk_clean c"
        + ("" if result.ok else
           " WHERE NOT EXISTS (SELECT 1 FROM bulk_errors e WHERE e.line = c.line)")
    )
    result.inserted, result.unchanged, result.updated = cur.fetchone()


def _collect_changes(cur: Any, plan: _Plan, result: ImportResult) -> None:
    """Each field the updated rows change (``importer``'s preview), as the Python path has it.

    The counts per column come from one pass; the kept changes from the first rows
    in line order (``MAX_CHANGES`` fields at most), compared again by each kind's own
    rule so that both databases list exactly the same fields.
    """
    key = plan.key
    assert key is not None
    fields = plan.values_written
    only_good = "" if result.ok else (
        " AND NOT EXISTS (SELECT 1 FROM bulk_errors e WHERE e.line = c.line)"
    )
    changed = f"ex_pk IS NOT NULL AND NOT ({plan.same_sql()}){only_good}"
    differs = [f"{q('x_' + f.name)} IS DISTINCT FROM {plan.v(f)}" for f in fields]
    cur.execute(
        "SELECT " + ", ".join(f"count(*) FILTER (WHERE {d})" for d in differs)
        + f" FROM bulk_clean c WHERE {changed}"
    )
    counts = dict(zip((f.name for f in fields), cur.fetchone(), strict=True))
    pairs = ", ".join(f"{q('x_' + f.name)}, {plan.v(f)}" for f in fields)
    cur.execute(
        f"SELECT line, {plan.v(key)}, {pairs} FROM bulk_clean c WHERE {changed} "
        f"ORDER BY line LIMIT {MAX_CHANGES}"
    )
    for line, key_value, *values in cur.fetchall():
        shown_key = key.kind.to_text(key_value)
        for i, f in enumerate(fields):
            old, new = values[2 * i], values[2 * i + 1]
            if not f.kind.same(old, new):
                result.add_change(line + 1, shown_key, f.name, old, new)
    # The kept list stops at MAX_CHANGES fields; the counts are every row's.
    result.change_counts = {name: n for name, n in counts.items() if n}


def _flag_identical(cur: Any, plan: _Plan, result: ImportResult) -> None:
    """Rows equal, column for column, to a row already stored (``importer._flag_identical``).

    Only the columns a row gives are compared (a blank cell left to the database's
    default is not); equality on the columns that cannot be NULL lets PostgreSQL
    hash the comparison.
    """
    conditions = []
    for f in plan.written:
        column, v = f"t.{q(f.column.name)}", f"c.{plan.v(f)}"
        if f.blank in (Blank.INSERT_DEFAULT, Blank.GENERATED):
            conditions.append(f"({v} IS NULL OR {column} = {v})")
        elif not f.column.nullable:
            conditions.append(f"{column} = {v}")
        else:
            conditions.append(f"{column} IS NOT DISTINCT FROM {v}")
    cur.execute(
        "SELECT c.line FROM bulk_clean c WHERE "
        "NOT EXISTS (SELECT 1 FROM bulk_errors e WHERE e.line = c.line) AND EXISTS ("
        f"SELECT 1 FROM {table_sql(plan.layout.table)} t WHERE {' AND '.join(conditions)}) "
        "ORDER BY c.line"
    )
    singular = plan.layout.description.singular
    for (line,) in cur.fetchall():
        result.identical += 1
        result.add_warning(int(line) + 1, identical_warning(singular))
    identical_note(result, plan.layout.description.plural)


def _lock_parents(cur: Any, plan: _Plan) -> None:
    """Lock every parent the file refers to (FOR KEY SHARE), or raise ConcurrentChange.

    The lock is the one PostgreSQL's own per-row foreign-key check takes, taken once
    per parent: until commit nobody can delete a parent or change its key. A parent
    deleted since the rows were checked is simply not locked, and the counts differ.
    """
    for f in plan.fields:
        if f.parent is None:
            continue
        parent, v = table_sql(f.parent.table), plan.v(f)
        target = q(f.parent.target.name)
        # One pass over the file's rows: their distinct parents (hashed), counted and locked.
        cur.execute(
            f"WITH wanted AS MATERIALIZED (SELECT DISTINCT {v} AS key FROM bulk_clean "
            f"WHERE {v} IS NOT NULL) SELECT (SELECT count(*) FROM wanted), count(*) FROM ("
            f"SELECT 1 FROM {parent} p WHERE p.{target} IN (SELECT key FROM wanted) "
            "FOR KEY SHARE OF p) locked"
        )
        wanted, locked = cur.fetchone()
        if locked != wanted:
            raise ConcurrentChange(
                f"{wanted - locked} {f.label.lower()}(s) the file refers to were deleted by "
                "someone else during the import; nothing was written. Check the file and retry."
            )


def trusted_references(cur: Any, table: str) -> bool:
    """True when the write may skip PostgreSQL's per-row foreign-key triggers.

    Those triggers run one locking query per row and per foreign key: about a
    quarter of a big import's time (bench/README.md). The import has already
    resolved every reference by a join and ``_lock_parents`` holds the same locks,
    so they would only repeat that work. They can be skipped only by
    ``session_replication_role = replica``, which a superuser may set (the docker
    compose database's account is one), and which changes which
    other triggers fire too: so only when the table has no trigger of its own that
    replica mode would skip (enabled 'O', the default) or newly fire ('R'). Triggers
    enabled ALWAYS ('A', the row counts of migration 0004) fire either way, and
    disabled ones ('D') in neither. ``table`` is the quoted name (``table_sql``).
    """
    if not TRUST_CHECKED_REFERENCES:
        return False
    cur.execute(
        "SELECT current_setting('is_superuser') = 'on' AND NOT EXISTS ("
        "SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal "
        "AND tgenabled IN ('O', 'R'))",
        (table,),
    )
    return bool(cur.fetchone()[0])


# Tests turn this off to compare both ways of checking references.
TRUST_CHECKED_REFERENCES = True


def _write(cur: Any, plan: _Plan, result: ImportResult) -> None:
    _lock_parents(cur, plan)
    trusted = trusted_references(cur, table_sql(plan.layout.table))
    if trusted:
        cur.execute("SET LOCAL session_replication_role = replica")
    result.set_based_references = trusted
    try:
        _write_rows(cur, plan, result)
    except psycopg2.IntegrityError as exc:  # a constraint the file format does not know about
        raise refused(exc.diag.message_primary or str(exc)) from None
    if trusted:
        cur.execute("SET LOCAL session_replication_role = origin")


def _write_rows(cur: Any, plan: _Plan, result: ImportResult) -> None:
    layout = plan.layout
    description = layout.description
    table = layout.table
    name = table_sql(table)
    pk = description.pk.column
    version = description.version.column if description.version else None
    targets: list[str] = []
    values: list[str] = []
    for f in plan.values_written:
        targets.append(q(f.column.name))
        value = plan.v(f)
        if f.blank is Blank.INSERT_DEFAULT:
            # Core leaves the column out, and its default applies: the same here.
            fallback = default_sql(cur, f.column, f.column.default) or server_default_sql(
                f.column
            )
            if fallback is not None:
                value = f"coalesce({value}, {fallback})"
        values.append(value)
    # Columns the file does not give, with a default Core would apply in Python (the
    # database applies its own server defaults itself).
    given = {f.column for f in plan.written}
    for column in table.columns:
        if column in given or column is pk:
            continue
        value_sql = default_sql(cur, column, column.default)
        if value_sql is None and column is version and column.server_default is None:
            value_sql = "1"  # the ORM's first version
        if value_sql is not None:
            targets.append(q(column.name))
            values.append(value_sql)
    pk_field = layout.pk_field
    explicit = layout.pk_written and pk_field in plan.fields
    sequence = None
    if explicit:
        assert pk_field is not None
        cur.execute("SELECT pg_get_serial_sequence(%s, %s)", (name, pk.name))
        sequence = cur.fetchone()[0]
        targets.insert(0, q(pk.name))
        v = plan.v(pk_field)
        values.insert(0, f"coalesce({v}, nextval({lit(sequence)}))" if sequence else v)
    # Natural keys and explicit ids can collide with rows added since the check:
    # DO NOTHING then shows up as a short row count instead of an aborted transaction.
    guard = "" if layout.key_is_pk and not explicit else " ON CONFLICT DO NOTHING"
    insert = f"INSERT INTO {name} ({', '.join(targets)}) SELECT {', '.join(values)} FROM bulk_clean"
    if sequence:
        # Rows with ids first, then the sequence moves past them, then the rows without:
        # new ids follow the file's, as they do on SQLite.
        assert pk_field is not None
        v = plan.v(pk_field)
        cur.execute(f"{insert} WHERE ex_pk IS NULL AND {v} IS NOT NULL{guard}")
        written = cur.rowcount
        cur.execute(
            f"SELECT setval({lit(sequence)}, GREATEST((SELECT coalesce(max({q(pk.name)}), 1) "
            f"FROM {name}), pg_sequence_last_value({lit(sequence)}::regclass)))"
        )
        cur.execute(f"{insert} WHERE ex_pk IS NULL AND {v} IS NULL{guard}")
        written += cur.rowcount
    elif result.inserted:
        cur.execute(f"{insert} WHERE ex_pk IS NULL{guard}")
        written = cur.rowcount
    if result.inserted and written != result.inserted:
        raise ConcurrentChange(
            f"{result.inserted - written} row(s) were added by someone else during the "
            "import; nothing was written. Check the file and retry."
        )
    if result.updated:
        sets = [f"{q(f.column.name)} = c.{plan.v(f)}" for f in plan.values_written]
        where = [f"t.{q(pk.name)} = c.ex_pk"]
        if version is not None:
            sets.append(f"{q(version.name)} = t.{q(version.name)} + 1")
            where.append(f"t.{q(version.name)} = c.ex_version")
        # The columns' own onupdate (updated_at), as Core applies it on the Python path.
        for column in table.columns:
            if column in given or column is version:
                continue
            value_sql = default_sql(cur, column, column.onupdate)
            if value_sql is not None:
                sets.append(f"{q(column.name)} = {value_sql}")
        cur.execute(
            f"UPDATE {name} t SET {', '.join(sets)} FROM bulk_clean c "
            f"WHERE {' AND '.join(where)} AND NOT ({plan.same_sql()})"
        )
        if cur.rowcount != result.updated:
            raise ConcurrentChange(
                f"{result.updated - cur.rowcount} row(s) were changed by someone else during the "
                "import; nothing was written. Export again and retry."
            )
