"""JSON Lines files as the import reads them: the export's own format.

One JSON object per line, its keys the CSV header's column names, its values as the
export writes them (``Kind.to_json``). Each object becomes the cells a CSV row of the
same file would have, so that both import paths check JSON Lines with the very
rules (and, on PostgreSQL, the very SQL) they check CSV with: ``null`` is a blank
cell, ``true``/``false`` are the words, numbers keep the digits they were written
with, and text is kept as it is (the import's formula un-quoting cannot touch it:
it is quoted here first). Errors name the file's physical line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from console.bulk.csvio import BOM, FileProblem, RowProblem, not_utf8, nul_problem
from console.kinds import neutralise

Row = tuple[int, list[str] | RowProblem]


def _decode(raw: bytes, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise not_utf8(line, csv=False) from None


def _load(text: str) -> Any:
    # Numbers stay the text they were written as: 12.50 is not 12.5, 1e400 no infinity.
    return json.loads(text, parse_int=str, parse_float=str, parse_constant=str)


class RowSource:
    """A file read row by row into CSV cells (JSON Lines, XLSX): its columns, then its rows.

    Both import paths take one in place of a CSV stream (PostgreSQL stages it as CSV).
    """

    columns: list[str]
    notes: list[str]

    def rows(self) -> Iterator[Row]:
        """(line, cells in column order) per row, or (line, why it is unreadable)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds."""


class JsonLines(RowSource):
    """A JSON Lines file: its columns (the keys of its first object), then its rows."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.line = 0
        while True:
            raw = stream.readline()
            if not raw:
                raise FileProblem("The file is empty: it needs one JSON object per line.")
            self.line += 1
            if self.line == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            text = _decode(raw, self.line)
            if text.strip():
                break
        try:
            first = _load(text)
        except ValueError as exc:
            raise FileProblem(f"Line {self.line} is not JSON: {exc}.", self.line) from None
        if not isinstance(first, dict) or not first:
            raise FileProblem(
                f"Line {self.line} is not a JSON object with the columns as keys.", self.line
            )
        self.columns = [str(k).strip().lower() for k in first]
        self.notes = []
        self._first: tuple[int, Any] | None = (self.line, first)

    def rows(self) -> Iterator[Row]:
        """(line, cells in column order) per non-blank line, or (line, why it is unreadable)."""
        if self._first is not None:
            line, first = self._first
            self._first = None
            yield line, self._cells(first)
        for raw in self.stream:
            self.line += 1
            text = _decode(raw, self.line)
            if not text.strip():
                continue
            try:
                record = _load(text)
            except ValueError as exc:
                yield self.line, RowProblem(None, f"Not a line of JSON: {exc}.")
                continue
            yield self.line, self._cells(record)

    def _cells(self, record: Any) -> list[str] | RowProblem:
        if not isinstance(record, dict):
            return RowProblem(None, "Not a JSON object with the columns as keys.")
        values = {str(k).strip().lower(): v for k, v in record.items()}
        if set(values) != set(self.columns) or len(values) != len(self.columns):
            missing = [c for c in self.columns if c not in values]
            unknown = [k for k in values if k not in self.columns]
            parts = []
            if missing:
                parts.append("missing " + ", ".join(repr(c) for c in missing))
            if unknown:
                parts.append("unknown " + ", ".join(repr(c) for c in unknown))
            return RowProblem(
                None, "Not the keys of the first line (" + "; ".join(parts or ["repeated"]) + ")."
            )
        cells = []
        for column in self.columns:
            value = values[column]
            if isinstance(value, dict | list):
                what = "a list" if isinstance(value, list) else "an object"
                return RowProblem(column, f"Expected a single value, not {what}.")
            cells.append(cell(value))
        return nul_problem(self.columns, cells) or cells


def cell(value: Any) -> str:
    """The CSV cell a JSON value stands for (numbers arrive as their text)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return neutralise(str(value))


# What ``StagedCsv``'s ``prepare`` is given and returns: the cells and the same joined by
# commas; the cells to stage (None: as they are), or the problem of the row.
Prepare = Callable[[list[str], str], "list[str] | RowProblem | None"]


class StagedCsv:
    """Rows (of a CSV, JSON Lines or XLSX file) as CSV for COPY: the line number, then the cells.

    Every format is read by Python (``csv_rows``, a ``RowSource``'s ``rows``), so the
    staged line is the physical line (or sheet row) a record starts on, as on the
    Python path; ``prepare`` turns a row's cells into what is staged (or a problem of
    the row).

    Read by COPY as it streams (``read``), a few rows at a time; rows that cannot be
    read are kept in ``problems`` instead (with an exact count beyond ``keep``). A
    problem of the whole file ends the COPY early and waits in ``failure`` (psycopg2
    would turn an exception raised in ``read`` into a cancelled query).

    Most rows are staged as their cells joined by commas, unquoted: that is the CSV of
    those cells whenever the joined text has one comma per gap and no quote or line
    break (COPY is told that an unquoted empty cell is empty text, not NULL, as the
    quoted "" of the other rows is). Only the others are quoted, cell by cell.
    """

    def __init__(
        self, rows: Iterator[Row], keep: int, prepare: Prepare | None = None,
    ) -> None:
        self.rows = rows
        self.prepare = prepare
        self.keep = keep
        self.problems: list[tuple[int, RowProblem]] = []
        self.problem_count = 0
        self.count = 0
        self.pending = b""
        self.failure: FileProblem | None = None

    def read(self, size: int = -1) -> bytes:
        """Up to about ``size`` bytes of CSV (b"" at the end)."""
        want = size if size and size > 0 else 1 << 20
        while len(self.pending) < want and self.failure is None:
            try:
                produced = self._fill(want)
            except FileProblem as problem:
                self.failure = problem
                return b""
            if not produced:
                break
        out, self.pending = self.pending[:want], self.pending[want:]
        return out

    def _fill(self, want: int) -> bool:
        prepare = self.prepare
        lines: list[str] = []
        size = 0
        for line, row in self.rows:
            self.count += 1
            if isinstance(row, RowProblem):
                self._problem(line, row)
                continue
            joined = ",".join(row)
            if prepare is not None:
                prepared = prepare(row, joined)
                if isinstance(prepared, RowProblem):
                    self._problem(line, prepared)
                    continue
                if prepared is not None:
                    row = prepared
                    joined = ",".join(row)
            # Staged line numbers are one less than the file's, as for CSV (the header).
            if (joined.count(",") == len(row) - 1 and '"' not in joined
                    and "\n" not in joined and "\r" not in joined):
                text = f"{line - 1},{joined}\n"
            else:
                quoted = '","'.join(c.replace('"', '""') for c in row)
                text = f'{line - 1},"{quoted}"\n'
            lines.append(text)
            size += len(text)
            if size >= want:
                break
        if not lines:
            return False
        self.pending += "".join(lines).encode()
        return True

    def _problem(self, line: int, problem: RowProblem) -> None:
        self.problem_count += 1
        if len(self.problems) < self.keep:
            self.problems.append((line, problem))

    def readline(self, size: int = -1) -> bytes:  # psycopg2 only calls read()
        raise NotImplementedError


__all__ = ["JsonLines", "RowSource", "StagedCsv", "cell"]
