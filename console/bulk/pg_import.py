# SQL is assembled from identifiers and constants of our own spec, never from file data:
# ruff: noqa: S608
"""The PostgreSQL fast path: COPY into a staging table, then set-based SQL.

The file goes straight from the stream into a TEMP table of text columns by COPY.
One statement then cleans every cell, resolves the natural keys by join and marks
each row that fails any of its own checks; the error messages are built afterwards
for the marked rows only. Duplicate detection and the write are one statement each.
The SQL mirrors ``console.rules`` (tests check that both agree, value by value);
email syntax is the exception: distinct addresses are streamed back through
``rules.check_email`` itself, since no SQL can mirror email-validator.
"""

from __future__ import annotations

import calendar
import re
from typing import Any, BinaryIO

import psycopg2
from psycopg2.extras import execute_values
from sqlalchemy.orm import Session

from console import rules
from console.bulk.csvio import FileProblem, not_utf8
from console.bulk.importer import MAX_ERRORS, ConcurrentChange, ImportResult
from console.bulk.spec import Field, ModelSpec, spec_singular

# Python's str.strip() (the rules' trim) removes every character for which isspace()
# is true, not only ASCII blanks; the SQL trims the same set (tests check that it is
# the whole set).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def whitespace_sql(server_encoding: str) -> str:
    """The SQL literal of WHITESPACE, or of its ASCII part where the database is not UTF-8.

    A database in another encoding cannot hold most of those characters, and a
    literal naming them would make every statement that uses it fail.
    """
    chars = WHITESPACE if server_encoding == "UTF8" else [c for c in WHITESPACE if c < "\x80"]
    return "E'" + "".join(f"\\u{ord(c):04x}" for c in chars) + "'"


# Every "-MM-DD" of a leap year: with four digits before it, what DATE_PATTERN and
# date.fromisoformat accept (29 February only in a leap year, checked apart).
MONTH_DAYS = tuple(
    f"-{month:02d}-{day:02d}"
    for month in range(1, 13)
    for day in range(1, calendar.monthrange(2024, month)[1] + 1)
)
COPY_BUFFER = 1 << 20
_COPY_LINE = re.compile(r"line (\d+)")


def q(name: str) -> str:
    """Quote an identifier (names come from the spec, never from the file)."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """A SQL string literal for a constant from our own code."""
    return "'" + text.replace("'", "''") + "'"


def words(values: Any) -> str:
    """A SQL list of string literals."""
    return ", ".join(lit(v) for v in sorted(values))


def got(raw: str, trimmed: str) -> str:
    """SQL for Python's ``(got {value!r})`` on simple values (r_* is kept only if it differs)."""
    return f"' (got ''' || coalesce({raw}, {trimmed}) || ''').'"


# -- SQL for each kind of column ----------------------------------------------------------
# Each cell is trimmed once (t_*), each value cleaned once (v_*), and every check is a
# condition on the two: a value the rule refuses is cleaned to NULL, so "given but NULL"
# is the check. The expressions avoid regular expressions and locale-aware lower() on
# the hot path (each costs about as much per million cells as a whole column's COPY).


def trimmed_sql(s: str, ws: str) -> str:
    """``unneutralise`` then ``strip()`` of the staged cell ``s`` ('' when it is missing).

    ``ws`` is the whitespace literal of ``whitespace_sql``.
    """
    return (
        f"CASE WHEN {s} ^@ '''' THEN btrim({_unneutralised(s)}, {ws}) "
        f"ELSE btrim(coalesce({s}, ''), {ws}) END"
    )


def _unneutralised(column: str) -> str:
    """SQL for ``csvio.unneutralise`` (string functions: cheaper than a regex per cell)."""
    return (
        f"CASE WHEN left({column}, 1) = '''' AND length({column}) > 1 "
        f"AND strpos(E'=+-@\\t\\r''', substr({column}, 2, 1)) > 0 "
        f"THEN substr({column}, 2) ELSE {column} END"
    )


def ascii_lower(t: str) -> str:
    """``lower()`` of ASCII letters only: enough to match our ASCII words.

    The only character outside ASCII that Python's lower() turns into ASCII is the
    Kelvin sign (to "k"), and no boolean or priority word has a "k" (a test checks):
    so the verdict is Python's, without the locale-aware lower() of the database.
    """
    return f'lower({t} COLLATE "C")'


def value_sql(f: Field) -> str:
    """The cleaned value of ``f`` from its trimmed text ``t_*``; NULL where the rule refuses it."""
    t = q(f"t_{f.name}")
    if f.kind == "text":
        return t
    if f.kind == "email":
        return f"lower({t})"
    if f.kind == "bool":
        cases = [(w, "true") for w in sorted(rules.TRUE_WORDS)]
        cases += [(w, "false") for w in sorted(rules.FALSE_WORDS)]
        return _case(ascii_lower(t), cases)
    if f.kind == "date":
        year = f"left({t}, 4)::int"
        leap = f"({year} % 4 = 0 AND {year} % 100 <> 0) OR {year} % 400 = 0"
        # Four ASCII digits (not 0000) and a real "-MM-DD" decide the format; the
        # year is read as a number only for 29 February.
        return (
            f"CASE WHEN substr({t}, 5) IN ({words(MONTH_DAYS)}) "
            f"AND ltrim(left({t}, 4), '0123456789') = '' AND {t} NOT LIKE '0000%' THEN "
            f"CASE WHEN {t} NOT LIKE '%-02-29' OR {leap} THEN {t}::date END END"
        )
    if f.kind == "choice":
        cases = [("", lit(f.default) if f.default is not None else "NULL")] if f.default else []
        cases += [(c.lower(), lit(c)) for c in f.choices]
        subject = ascii_lower(t) if all(c.isascii() for c in f.choices) else f"lower({t})"
        return _case(subject, cases)
    if f.kind == "ref":
        return q(f"p_{f.name}") + ".id"
    if f.kind in ("id", "version"):
        # parse_whole_number: ASCII digits (few enough for bigint), at most the maximum.
        return (
            f"CASE WHEN octet_length({t}) BETWEEN 1 AND {rules.WHOLE_NUMBER_DIGITS} "
            f"AND ltrim({t}, '0123456789') = '' THEN "
            f"CASE WHEN {t}::bigint <= {rules.WHOLE_NUMBER_MAX} THEN {t}::bigint END END"
        )
    raise ValueError(f.kind)


def _case(subject: str, cases: list[tuple[str, str]]) -> str:
    """``CASE subject WHEN ... END``: the subject is computed once, whatever the cases."""
    whens = " ".join(f"WHEN {lit(word)} THEN {value}" for word, value in cases)
    return f"CASE {subject} {whens} END"


def ref_key_sql(f: Field) -> str:
    """The natural key a reference is looked up by."""
    assert f.ref is not None
    t = q(f"t_{f.name}")
    return f"lower({t})" if f.ref.kind == "email" else t


def field_errors_sql(f: Field) -> list[tuple[str, str]]:
    """(condition, message SQL) pairs: the checks of ``console.rules`` for one column."""
    t, r, v = q(f"t_{f.name}"), q(f"r_{f.name}"), q(f"v_{f.name}")
    checks: list[tuple[str, str]] = []
    if f.kind in ("text", "email", "ref") and f.required:
        checks.append((f"{t} = ''", lit(f"{f.label} is required.")))
    if f.kind == "text":
        # octet_length is read from the header: length() counts only for long values.
        checks.append(
            (f"octet_length({t}) > {f.max_length} AND length({t}) > {f.max_length}",
             f"{lit(f'{f.label} must be at most {f.max_length} characters (got ')}"
             f" || length({t}) || ').'")
        )
    elif f.kind == "bool":
        checks.append((f"{v} IS NULL",
                       lit("Expected true/false, yes/no or 1/0") + " || " + got(r, t)))
    elif f.kind == "date":
        checks.append((f"{t} <> '' AND {v} IS NULL",
                       lit("Expected a date as YYYY-MM-DD") + " || " + got(r, t)))
    elif f.kind == "choice":
        choices = ", ".join(f.choices)
        given = f"{v} IS NULL" if f.default else f"{t} <> '' AND {v} IS NULL"
        checks.append((given, lit(f"{f.label} must be one of {choices}") + " || " + got(r, t)))
    elif f.kind in ("id", "version"):
        checks.append((f"{t} <> '' AND {v} IS NULL",
                       lit(f"{f.label} must be a whole number from 0 to {rules.WHOLE_NUMBER_MAX}")
                       + " || " + got(r, t)))
    return checks


# -- the import -------------------------------------------------------------------------


def import_postgresql(
    session: Session, spec: ModelSpec, columns: list[str], stream: BinaryIO, result: ImportResult
) -> None:
    """Stage, check and (unless a dry run or any error) write the file; see the module doc."""
    cur = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    fields = [spec.field(c) for c in columns]
    # Staging lives in local buffers: more of them keeps a big file off the disk. Only
    # effective before a session's first temporary table; harmless otherwise.
    cur.execute("SET temp_buffers = '128MB'")
    _stage(cur, columns, stream, result)
    if result.rows == 0:
        return
    # Reported by the server at connection time: no query needed.
    ws = whitespace_sql(cur.connection.get_parameter_status("server_encoding"))
    _clean(cur, spec, fields, result.upsert, ws)
    _check(cur, spec, fields, result, ws)
    _count(cur, spec, fields, result)
    if result.ok and not result.dry_run:
        _write(cur, spec, fields, result)


class _TrimTrailingBlankLines:
    """A reader that drops blank lines at the very end of the file.

    COPY reads a blank line as a row of missing values; editors often leave one or
    two at the end, and the Python path skips them too. One chunk is held back so
    the end can be trimmed without reading the whole file.
    """

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.held = b""

    def read(self, size: int = -1) -> bytes:
        while True:
            chunk = self.raw.read(size)
            if not chunk:
                return self._end()
            out, self.held = self.held, chunk
            if out:
                self.last = out[-1:]
                return out  # type: ignore[no-any-return]

    last = b""

    def _end(self) -> bytes:
        held, self.held = self.held, b""
        kept = held.rstrip(b"\r\n")
        tail = held[len(kept):]
        if not kept and self.last == b"\r" and tail.startswith(b"\n"):
            return b"\n"  # finish a CRLF split between two chunks
        # Keep one line end in the file's own style (COPY insists they are consistent).
        for ending in (b"\r\n", b"\n", b"\r"):
            if tail.startswith(ending):
                return kept + ending
        return kept

    def readline(self, size: int = -1) -> bytes:  # psycopg2 only calls read()
        raise NotImplementedError


def _stage(cur: Any, columns: list[str], stream: BinaryIO, result: ImportResult) -> None:
    staged = ", ".join(q(f"s_{c}") for c in columns)
    cur.execute(
        "CREATE TEMP TABLE bulk_stage (line bigserial, "
        + ", ".join(f"{q('s_' + c)} text" for c in columns)
        + ") ON COMMIT DROP"
    )
    try:
        cur.copy_expert(
            f"COPY bulk_stage ({staged}) FROM STDIN WITH (FORMAT csv, ENCODING 'UTF8')",
            _TrimTrailingBlankLines(stream), size=COPY_BUFFER,
        )
    except psycopg2.DataError as exc:
        match = _COPY_LINE.search(exc.diag.context or "")
        line = int(match.group(1)) + 1 if match else 0
        message = exc.diag.message_primary or str(exc)
        if "encoding" in message or "byte sequence" in message:
            raise not_utf8(line) from None
        if "missing data" in message or "extra data" in message:
            which = "fewer" if "missing" in message else "more"
            raise FileProblem(
                f"Expected {len(columns)} values (one per header column), got {which}.", line
            ) from None
        raise FileProblem(f"Not a readable CSV file: {message}.", line) from None
    result.rows = cur.rowcount


def _rows_sql(spec: ModelSpec, fields: list[Field], ws: str, *, detail: bool) -> str:
    """A SELECT of the staged rows: line, t_*, v_*, ex_id, ex_version and x_* per row.

    ``detail`` adds r_* (the cell before trimming, kept only where trimming changed
    it: error messages quote it) and reads only the rows ``bulk_clean`` marks bad.
    The OFFSET 0 fence keeps PostgreSQL from inlining the trimming into every use of
    a t_* column: each cell is trimmed once.
    """
    cells = []
    for f in fields:
        s, t = q("s_" + f.name), q("t_" + f.name)
        cells.append(f"{trimmed_sql(s, ws)} AS {t}")
        if detail:
            raw = _unneutralised(s)
            cells.append(f"NULLIF({raw}, {trimmed_sql(s, ws)}) AS {q('r_' + f.name)}")
    where = " WHERE line IN (SELECT line FROM bulk_clean WHERE bad)" if detail else ""
    joins, values = [], []
    for f in fields:
        values.append(f"{value_sql(f)} AS {q('v_' + f.name)}")
        if f.kind == "ref":
            assert f.ref is not None
            alias = q(f"p_{f.name}")
            joins.append(
                f"LEFT JOIN {q(f.ref.table.name)} {alias} "
                f"ON {alias}.{q(f.ref.key)} = {ref_key_sql(f)}"
            )
    if spec.key in columns_of(fields):
        key = spec.field(spec.key)
        joins.append(
            f"LEFT JOIN {q(spec.table.name)} x ON x.{q(spec.key_column)} = {value_sql(key)}"
        )
        existing = "x.id AS ex_id, x.version AS ex_version" + "".join(
            f", x.{q(f.column)} AS {q('x_' + f.name)}"  # type: ignore[arg-type]
            for f in _writable(spec, fields)
        )
    else:
        existing = "NULL::int AS ex_id, NULL::int AS ex_version"
    return (
        f"SELECT s.*, {', '.join(values)}, {existing} "
        f"FROM (SELECT line, {', '.join(cells)} FROM bulk_stage{where} OFFSET 0) s "
        + " ".join(joins)
    )


def _clean(cur: Any, spec: ModelSpec, fields: list[Field], upsert: bool, ws: str) -> None:
    """``bulk_clean``: every row's values, and ``bad`` where any check of the row fails.

    One pass computes each value once and evaluates every row's own checks (not the
    messages): a file without errors is never looked at again before the write.
    """
    keep = [q("line")]
    keep += [q("v_" + f.name) for f in fields]
    keep += [q("t_" + f.name) for f in fields if f.kind == "email"]  # for _check_emails
    keep += ["ex_id", "ex_version"]
    if spec.key in columns_of(fields):
        keep += [q("x_" + f.name) for f in _writable(spec, fields)]
    checks = [check for stage in _row_checks(spec, fields, upsert) for check in stage]
    bad = " OR ".join(f"({condition})" for _, condition, _ in checks) or "false"
    cur.execute(
        f"CREATE TEMP TABLE bulk_clean ON COMMIT DROP AS SELECT {', '.join(keep)}, "
        f"({bad}) AS bad FROM ({_rows_sql(spec, fields, ws, detail=False)} OFFSET 0) c"
    )


def _writable(spec: ModelSpec, fields: list[Field]) -> list[Field]:
    """Fields written to the table (an id only where it is the key)."""
    return [
        f for f in fields if f.column is not None and (f.kind != "id" or spec.key_is_id)
    ]


Check = tuple[str, str, str]  # (column, condition, message SQL)


def _row_checks(
    spec: ModelSpec, fields: list[Field], upsert: bool
) -> tuple[list[Check], list[Check]]:
    """The checks of one row, in two stages: its values, then its links to other rows.

    As on the Python path, a row with a bad value is not looked at further: the
    second stage (parents, existing keys, versions) reports only on rows the first
    (and the email check) passed.
    """
    values = [
        (f.name, condition, message) for f in fields for condition, message in field_errors_sql(f)
    ]
    links: list[Check] = []
    for f in fields:
        if f.kind != "ref":
            continue
        assert f.ref is not None
        links.append((
            f.name,
            f"{q('t_' + f.name)} <> '' AND {q('v_' + f.name)} IS NULL",
            f"{lit('No ' + f.ref.noun + ' ')} || '''' || {ref_key_sql(f)} || '''.'",
        ))
    names = columns_of(fields)
    if spec.key in names and not upsert:
        key = spec.field(spec.key)
        links.append((
            key.name,
            "ex_id IS NOT NULL",
            f"{lit(f'A {spec_singular(spec)} with {key.label.lower()} ')} || "
            f"{q('v_' + key.name)} || ' already exists (import in upsert mode to update it).'",
        ))
    if "version" in names:
        links.append((
            "version",
            "ex_id IS NOT NULL AND v_version IS NOT NULL AND v_version <> ex_version",
            "'Changed since the file was exported (version ' || v_version || ' in the file, ' "
            "|| ex_version || ' in the database): export again and reapply your edits.'",
        ))
    return values, links


def _check(
    cur: Any, spec: ModelSpec, fields: list[Field], result: ImportResult, ws: str
) -> None:
    """Every error with its line, column and message, into ``bulk_errors``."""
    cur.execute(
        "CREATE TEMP TABLE bulk_errors (line bigint, col text, message text) ON COMMIT DROP"
    )
    values, links = _row_checks(spec, fields, result.upsert)
    cur.execute("SELECT EXISTS (SELECT 1 FROM bulk_clean WHERE bad)")
    any_bad = cur.fetchone()[0]
    if any_bad:
        # Only the bad rows are read again, with what the messages need.
        cur.execute(
            "CREATE TEMP TABLE bulk_detail ON COMMIT DROP AS "
            + _rows_sql(spec, fields, ws, detail=True)
        )
        _insert_errors(cur, "bulk_detail", values)
    for f in fields:
        if f.kind == "email":
            _check_emails(cur, f)
    cur.execute(
        "CREATE TEMP TABLE bulk_bad ON COMMIT DROP AS SELECT DISTINCT line FROM bulk_errors"
    )
    cur.execute("ALTER TABLE bulk_bad ADD PRIMARY KEY (line)")
    good = "NOT EXISTS (SELECT 1 FROM bulk_bad b WHERE b.line = c.line)"
    if any_bad:
        _insert_errors(cur, "bulk_detail", links, good)
    if spec.key in columns_of(fields):
        key = spec.field(spec.key)
        v = q("v_" + key.name)
        cur.execute(
            f"INSERT INTO bulk_errors SELECT line, {lit(key.name)}, {lit(key.label + ' ')} || {v}"
            " || ' appears twice in the file (first on line ' || (first + 1) || ').' FROM ("
            f"SELECT line, {v}, min(line) OVER (PARTITION BY {v}) AS first FROM bulk_clean c "
            f"WHERE {good} AND {v} IS NOT NULL) d WHERE line <> first"
        )
    cur.execute("SELECT count(*) FROM bulk_errors")
    total = cur.fetchone()[0]
    if total:
        cur.execute(
            "SELECT line, col, message FROM bulk_errors ORDER BY line, col LIMIT %s", (MAX_ERRORS,)
        )
        for line, col, message in cur.fetchall():
            result.add_error(int(line) + 1, col, message)
        result.error_count = total


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


def columns_of(fields: list[Field]) -> list[str]:
    """The names of ``fields``."""
    return [f.name for f in fields]


def _check_emails(cur: Any, f: Field) -> None:
    """Run every distinct address through ``rules.check_email`` (streamed, in batches)."""
    cur.execute("CREATE TEMP TABLE bulk_bad_email (email text, message text) ON COMMIT DROP")
    reader = cur.connection.cursor(name="bulk_emails")
    reader.itersize = 10_000
    reader.execute(f"SELECT DISTINCT {q('t_' + f.name)} FROM bulk_clean")
    bad: list[tuple[str, str]] = []
    for (email,) in reader:
        if email == "":
            continue  # reported as "required" already
        try:
            rules.check_email(email)
        except rules.RuleError as exc:
            bad.append((email, str(exc)))
        if len(bad) >= 1000:
            execute_values(cur, "INSERT INTO bulk_bad_email VALUES %s", bad)
            bad = []
    reader.close()
    if bad:
        execute_values(cur, "INSERT INTO bulk_bad_email VALUES %s", bad)
    cur.execute(
        f"INSERT INTO bulk_errors SELECT c.line, {lit(f.name)}, b.message "
        f"FROM bulk_clean c JOIN bulk_bad_email b ON b.email = c.{q('t_' + f.name)}"
    )


def _same_sql(spec: ModelSpec, fields: list[Field]) -> str:
    """True when the row in the database already holds the file's values."""
    if spec.key not in columns_of(fields):
        return "false"  # no key column: every row is new, and there are no x_* columns
    return " AND ".join(
        f"{q('x_' + f.name)} IS NOT DISTINCT FROM {q('v_' + f.name)}"
        for f in _writable(spec, fields)
    ) or "true"


def _count(cur: Any, spec: ModelSpec, fields: list[Field], result: ImportResult) -> None:
    same = _same_sql(spec, fields)
    cur.execute(
        "SELECT count(*) FILTER (WHERE ex_id IS NULL), "
        f"count(*) FILTER (WHERE ex_id IS NOT NULL AND {same}), "
        f"count(*) FILTER (WHERE ex_id IS NOT NULL AND NOT ({same})) FROM bulk_clean c"
        + ("" if result.ok else
           " WHERE NOT EXISTS (SELECT 1 FROM bulk_errors e WHERE e.line = c.line)")
    )
    result.inserted, result.unchanged, result.updated = cur.fetchone()


def _lock_parents(cur: Any, fields: list[Field]) -> None:
    """Lock every parent the file refers to (FOR KEY SHARE), or raise ConcurrentChange.

    The lock is the one PostgreSQL's own per-row foreign-key check takes, taken once
    per parent: until commit nobody can delete a parent or change its id. A parent
    deleted since the rows were checked is simply not locked, and the counts differ.
    """
    for f in fields:
        if f.kind != "ref":
            continue
        assert f.ref is not None
        parent, v = q(f.ref.table.name), q("v_" + f.name)
        # One pass over the file's rows: their distinct parents (hashed), counted and locked.
        cur.execute(
            f"WITH wanted AS MATERIALIZED (SELECT DISTINCT {v} AS id FROM bulk_clean "
            f"WHERE {v} IS NOT NULL) SELECT (SELECT count(*) FROM wanted), count(*) FROM ("
            f"SELECT 1 FROM {parent} p WHERE p.id IN (SELECT id FROM wanted) "
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
    disabled ones ('D') in neither.
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


def _write(cur: Any, spec: ModelSpec, fields: list[Field], result: ImportResult) -> None:
    _lock_parents(cur, fields)
    trusted = trusted_references(cur, spec.table.name)
    if trusted:
        cur.execute("SET LOCAL session_replication_role = replica")
    result.set_based_references = trusted
    _write_rows(cur, spec, fields, result)
    if trusted:
        cur.execute("SET LOCAL session_replication_role = origin")


def _write_rows(cur: Any, spec: ModelSpec, fields: list[Field], result: ImportResult) -> None:
    table = q(spec.table.name)
    writable = _writable(spec, fields)
    targets = [q(f.column) for f in writable if f.kind != "id"]  # type: ignore[arg-type]
    values = [q("v_" + f.name) for f in writable if f.kind != "id"]
    explicit_ids = spec.key_is_id and "id" in columns_of(fields)
    if explicit_ids:
        cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", (spec.table.name,))
        sequence = cur.fetchone()[0]
        targets.insert(0, "id")
        values.insert(0, f"coalesce(v_id, nextval({lit(sequence)}))")
    # Natural keys and explicit ids can collide with rows added since the check:
    # DO NOTHING then shows up as a short row count instead of an aborted transaction.
    guard = "" if spec.key_is_id and not explicit_ids else " ON CONFLICT DO NOTHING"
    if result.inserted:
        cur.execute(
            f"INSERT INTO {table} ({', '.join(targets)}) "
            f"SELECT {', '.join(values)} FROM bulk_clean WHERE ex_id IS NULL{guard}"
        )
        if cur.rowcount != result.inserted:
            raise ConcurrentChange(
                f"{result.inserted - cur.rowcount} row(s) were added by someone else during the "
                "import; nothing was written. Check the file and retry."
            )
    if explicit_ids:
        cur.execute(
            f"SELECT setval({lit(sequence)}, GREATEST((SELECT coalesce(max(id), 1) FROM {table}), "
            f"pg_sequence_last_value({lit(sequence)}::regclass)))"
        )
    if result.updated:
        sets = ", ".join(
            f"{q(f.column)} = c.{q('v_' + f.name)}"  # type: ignore[arg-type]
            for f in writable if f.kind != "id"
        )
        cur.execute(
            f"UPDATE {table} t SET {sets}, version = t.version + 1, updated_at = now() "
            f"FROM bulk_clean c WHERE t.id = c.ex_id AND t.version = c.ex_version "
            f"AND NOT ({_same_sql(spec, fields)})"
        )
        if cur.rowcount != result.updated:
            raise ConcurrentChange(
                f"{result.updated - cur.rowcount} row(s) were changed by someone else during the "
                "import; nothing was written. Export again and retry."
            )
