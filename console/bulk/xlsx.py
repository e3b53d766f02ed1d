"""XLSX workbooks in the import's own format: the CSV's columns, typed cells.

Export (``iter_xlsx``) goes through openpyxl's ``write_only`` workbook: rows stream
from the database cursor to the sheet's XML in a temporary file, which is zipped
into the workbook at the end and then handed out in chunks; memory stays flat, and
the first byte comes once the whole workbook is written. Cells are typed: dates as
dates, date-times as date-times (timezone-aware values in UTC, as the CSV writes
them), booleans as booleans, numbers as numbers, NULL as an empty cell, and text
always as an inline string, never a formula (openpyxl would make a formula of a
string starting with "="). Values a spreadsheet cannot hold exactly are written as
the CSV's text instead, which the import reads back by the same rules: integers of
16 digits or more, decimals of more than 15 significant digits, non-finite floats,
dates before 1900-03-01 and date-times with microseconds below the millisecond.
Characters XML cannot carry (control characters, CR) are written as OOXML's
``_xHHHH_`` escapes, as Excel writes them.

Import (``XlsxSheet``) reads the first sheet with a ``read_only`` workbook and turns
each row into the cells a CSV row of the same file would have, as JSON Lines does
(``console.bulk.jsonl``): both import paths then check them with their usual rules
(on PostgreSQL, staged through COPY as JSON Lines are). Errors name the sheet's row.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, BinaryIO

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import Select
from sqlalchemy.orm import Session

from console.bulk.csvio import FileProblem, RowProblem, width_message
from console.bulk.fileformat import Field, FileFormat, file_format
from console.bulk.jsonl import Row, RowSource
from console.catalogue import ModelDescription
from console.kinds import (
    BooleanKind,
    DateKind,
    DateTimeKind,
    FloatKind,
    IntegerKind,
    Kind,
    NumberKind,
    neutralise,
)

ZIP_SIGNATURE = b"PK\x03\x04"
CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK_BYTES = 1 << 20
# The first date Excel's serial numbers give without its 1900 leap-year bug.
FIRST_DATE = date(1900, 3, 1)
# Integers of up to 15 digits, decimals of up to 15 significant digits: exact as doubles.
EXACT_DIGITS = 15
_ESCAPE = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_UNESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")

__all__ = ["CONTENT_TYPE", "ZIP_SIGNATURE", "XlsxSheet", "iter_xlsx"]


def escape(text: str) -> str:
    """``text`` with what XML cannot hold as OOXML ``_xHHHH_`` escapes (``_`` of one too)."""
    return _ESCAPE.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def unescape(text: str) -> str:
    """Undo ``escape`` (and Excel's own ``_x000D_``...)."""
    if "_x" not in text:
        return text
    return _UNESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


# -- export -------------------------------------------------------------------------------


def sheet_title(description: ModelDescription) -> str:
    """The sheet's name: the model's title, as far as Excel allows (31 characters, no []:*?/\\)."""
    title = re.sub(r"[\[\]:*?/\\]", " ", description.title).strip("' ")[:31]
    return title or "Sheet1"


Writer = Callable[[Any, Any], Any]


def _text_cell(sheet: Any, text: str) -> Any:
    """A string cell, whatever the text: never a formula or an error value, never truncated."""
    cell = WriteOnlyCell(sheet)
    cell.data_type = "s"
    cell._value = escape(text)
    return cell


def _writer(kind: Kind) -> Writer:
    """How a value of ``kind`` goes into a cell: the value openpyxl types, or a text cell."""
    as_text = kind.to_text

    def text(sheet: Any, value: Any) -> Any:
        return None if value is None else _text_cell(sheet, as_text(value))

    if isinstance(kind, BooleanKind):
        return lambda sheet, value: None if value is None else bool(value)
    if isinstance(kind, IntegerKind):
        limit = 10**EXACT_DIGITS

        def integer(sheet: Any, value: Any) -> Any:
            if value is None or -limit < value < limit:
                return value
            return _text_cell(sheet, str(value))

        return integer
    if isinstance(kind, NumberKind):

        def number(sheet: Any, value: Any) -> Any:
            if value is None:
                return None
            exact = isinstance(value, Decimal) and value.is_finite() and (
                len(value.normalize().as_tuple().digits) <= EXACT_DIGITS
            )
            return value if exact else _text_cell(sheet, as_text(value))

        return number
    if isinstance(kind, FloatKind):

        def floating(sheet: Any, value: Any) -> Any:
            if value is None:
                return None
            number = float(value)
            return number if number - number == 0 else _text_cell(sheet, as_text(number))

        return floating
    if isinstance(kind, DateTimeKind):

        def moment(sheet: Any, value: Any) -> Any:
            if value is None:
                return None
            if kind.aware:
                value = kind._utc(value).replace(tzinfo=None)
            if value.date() < FIRST_DATE or value.microsecond % 1000:
                return _text_cell(sheet, as_text(value))  # the CSV's text (UTC)
            return value

        return moment
    if isinstance(kind, DateKind):
        return lambda sheet, value: (
            value if value is None or value >= FIRST_DATE else _text_cell(sheet, as_text(value))
        )
    return text


def iter_xlsx(
    session: Session, description: ModelDescription, stmt: Select[Any]
) -> Iterator[bytes]:
    """The header then the rows of ``stmt`` (``export_select``) as an XLSX workbook, in chunks."""
    from console.bulk.exporter import _rows

    layout = file_format(description)
    writers = [_writer(f.kind) for f in layout.fields]
    with tempfile.TemporaryFile() as target:
        book = Workbook(write_only=True)
        sheet = book.create_sheet(sheet_title(description))
        sheet.append([_text_cell(sheet, name) for name in layout.columns])
        append = sheet.append
        for partition in _rows(session, stmt):
            for row in partition:
                append([write(sheet, v) for write, v in zip(writers, row, strict=True)])
        book.save(target)
        target.seek(0)
        while chunk := target.read(CHUNK_BYTES):
            yield chunk


# -- import -------------------------------------------------------------------------------


class _Seekable(io.RawIOBase):
    """A seekable file that reports progress as the furthest byte read (for progress bars)."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None] | None, done: int) -> None:
        self.raw = raw
        self.progress = progress
        self.reported = done

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self._report()
        return len(data)

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self._report()
        return data

    def _report(self) -> None:
        position = self.raw.tell()
        if self.progress and position > self.reported:
            self.progress(position - self.reported)
            self.reported = position


def _number_text(value: int | float) -> str:
    """A number cell as text: 123, not 123.0; no exponent (1e16 is 10000000000000000)."""
    if isinstance(value, int):
        return str(value)
    if value - value != 0:  # inf, nan: not what a cell holds, but say what it is
        return repr(value)
    if value.is_integer() and abs(value) < 2**63:
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def _datetime_text(value: datetime, kind: Kind | None) -> str:
    if isinstance(kind, DateTimeKind):
        return value.isoformat() + ("+00:00" if kind.aware else "")
    if value.time() == time(0):
        return value.date().isoformat()
    return value.isoformat()


class XlsxSheet(RowSource):
    """The first sheet of a workbook: its columns (the first non-empty row), then its rows.

    ``notes`` says what the import leaves aside (other sheets that hold data).
    """

    def __init__(
        self, source: BinaryIO, layout: FileFormat,
        progress: Callable[[int], None] | None = None, done: int = 0,
    ) -> None:
        self._spool: Any = None
        if not source.seekable():
            self._spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
            shutil.copyfileobj(source, self._spool, 1 << 20)
            source = self._spool
        source.seek(0)
        try:
            self.book = load_workbook(
                _Seekable(source, progress, done), read_only=True, data_only=False
            )
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
            self.close()
            raise FileProblem(
                f"Not a readable XLSX workbook ({exc}). Save it from your spreadsheet as "
                "'Excel Workbook (.xlsx)' and upload it again."
            ) from None
        self.notes: list[str] = []
        sheets = self.book.worksheets
        if not sheets:
            self.close()
            raise FileProblem("The workbook has no sheets.")
        sheet = sheets[0]
        sheet.reset_dimensions()  # the stored size may be wrong: read every row there is
        self._rows = enumerate(sheet.iter_rows(), start=1)
        self.title = sheet.title
        header: list[str] = []
        self.header_row = 0
        for number, cells in self._rows:
            texts = [self._text(c, None, number, "") for c in cells]
            if any(isinstance(t, RowProblem) for t in texts):
                self.close()
                raise FileProblem(f"Row {number}, the header, must hold plain text.", number)
            header = [str(t).strip().lower() for t in texts]
            if any(header):
                self.header_row = number
                break
        while header and not header[-1]:
            header.pop()
        if not header:
            self.close()
            raise FileProblem(
                f"The first sheet ({self.title!r}) is empty: it needs a header row naming the "
                "columns."
            )
        self.columns = header
        self._fields = [layout.find(c) for c in header]
        others = [s.title for s in sheets[1:] if _has_data(s)]
        if others:
            self.notes.append(
                f"Only the first sheet, {self.title!r}, was read: "
                + ", ".join(repr(t) for t in others) + " also hold(s) data, which was ignored."
            )

    def rows(self) -> Iterator[Row]:
        """(sheet row, cells as CSV text) per non-empty row, or (row, why it cannot be read)."""
        fields = self._fields
        width = len(fields)
        for number, cells in self._rows:
            if all(c.value is None or c.value == "" for c in cells):
                continue  # an empty row
            extra = [c for c in cells[width:] if c.value is not None and c.value != ""]
            if extra:
                yield number, RowProblem(None, width_message(width, width + len(cells[width:])))
                continue
            texts: list[str] = []
            problem = None
            for i, f in enumerate(fields):
                text = self._text(cells[i], f, number, self.columns[i]) if i < len(cells) else ""
                if isinstance(text, RowProblem):
                    problem = text
                    break
                texts.append(text)
            yield number, problem if problem is not None else texts

    @staticmethod
    def _text(cell: Any, f: Field | None, number: int, name: str) -> str | RowProblem:
        """The CSV cell a sheet cell stands for (its column's kind decides dates' text)."""
        value = cell.value
        if value is None:
            return ""
        kind = f.kind if f is not None else None
        where = f"row {number}, column {name} (cell {getattr(cell, 'coordinate', '?')})"
        if cell.data_type == "f":
            return RowProblem(name or None, f"{where}: a formula, not a value.")
        if cell.data_type == "e":
            return RowProblem(name or None, f"{where}: an error value ({value}), not a value.")
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return _number_text(value)
        if isinstance(value, datetime):
            return _datetime_text(value, kind)
        if isinstance(value, date | time):
            return value.isoformat()
        if isinstance(value, timedelta):
            return str(value)
        # Text as given: quoted here when it looks like a formula, so that the import's
        # un-quoting gives it back unchanged.
        return neutralise(unescape(str(value)))

    def close(self) -> None:
        """Release the workbook (and its spooled copy)."""
        book = getattr(self, "book", None)
        if book is not None:
            book.close()
        if self._spool is not None:
            self._spool.close()
            self._spool = None


def _has_data(sheet: Any) -> bool:
    """True when any cell of ``sheet`` holds something (reads up to the first such cell)."""
    sheet.reset_dimensions()
    for values in sheet.iter_rows(values_only=True):
        if any(v is not None and v != "" for v in values):
            return True
    return False
