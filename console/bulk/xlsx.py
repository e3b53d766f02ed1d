"""XLSX workbooks in the import's own format: the CSV's columns, typed cells.

Export (``iter_xlsx``) writes the workbook's XML itself (openpyxl's writer costs about
75 us a row): rows stream from the database cursor into the zipped sheet in a
temporary file, which is handed out in chunks; memory stays flat, and the first byte
comes once the whole workbook is written. Cells are typed: dates as
dates, date-times as date-times (timezone-aware values in UTC, as the CSV writes
them), booleans as booleans, numbers as numbers, NULL as an empty cell, and text
always as an inline string, never a formula. Values a spreadsheet cannot hold exactly are written as
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

from openpyxl import load_workbook
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


# A cell writer: (the cell's reference, the value) -> the cell's XML ("" for NULL).
Writer = Callable[[str, Any], str]
EPOCH = datetime(1899, 12, 30)
DATE_STYLE, DATETIME_STYLE = 1, 2  # cellXfs of STYLES
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def text_xml(ref: str, text: str) -> str:
    """A string cell, whatever the text: never a formula or an error value, never truncated."""
    body = escape(text).translate(_XML_ESCAPES)
    # Leading or trailing blanks are kept only where the element says so.
    t = '<t xml:space="preserve">' if body[:1].isspace() or body[-1:].isspace() else "<t>"
    return f'<c r="{ref}" t="inlineStr"><is>{t}{body}</t></is></c>'


def _serial(moment: datetime | date) -> str:
    """Excel's serial number of a date (days since 1899-12-30) or date-time (with the fraction)."""
    if isinstance(moment, datetime):
        delta = moment - EPOCH
        return repr(delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400)
    return str((moment - EPOCH.date()).days)


def _writer(kind: Kind) -> Writer:
    """How a value of ``kind`` is written: a typed cell, or the CSV's text where none holds it."""
    as_text = kind.to_text

    def text(ref: str, value: Any) -> str:
        return "" if value is None else text_xml(ref, as_text(value))

    if isinstance(kind, BooleanKind):
        return lambda ref, value: "" if value is None else (
            f'<c r="{ref}" t="b"><v>{1 if value else 0}</v></c>'
        )
    if isinstance(kind, IntegerKind):
        limit = 10**EXACT_DIGITS

        def integer(ref: str, value: Any) -> str:
            if value is None:
                return ""
            if -limit < value < limit:
                return f'<c r="{ref}"><v>{int(value)}</v></c>'
            return text_xml(ref, str(value))

        return integer
    if isinstance(kind, NumberKind):

        def number(ref: str, value: Any) -> str:
            if value is None:
                return ""
            exact = isinstance(value, Decimal) and value.is_finite() and (
                len(value.normalize().as_tuple().digits) <= EXACT_DIGITS
            )
            if exact:
                return f'<c r="{ref}"><v>{format(value, "f")}</v></c>'
            return text_xml(ref, as_text(value))

        return number
    if isinstance(kind, FloatKind):

        def floating(ref: str, value: Any) -> str:
            if value is None:
                return ""
            number = float(value)
            if number - number == 0:  # finite
                return f'<c r="{ref}"><v>{number!r}</v></c>'
            return text_xml(ref, as_text(number))

        return floating
    if isinstance(kind, DateTimeKind):

        def moment(ref: str, value: Any) -> str:
            if value is None:
                return ""
            if kind.aware:
                value = kind._utc(value).replace(tzinfo=None)
            if value.date() < FIRST_DATE or value.microsecond % 1000:
                return text_xml(ref, as_text(value))  # the CSV's text (UTC)
            return f'<c r="{ref}" s="{DATETIME_STYLE}"><v>{_serial(value)}</v></c>'

        return moment
    if isinstance(kind, DateKind):

        def day(ref: str, value: Any) -> str:
            if value is None:
                return ""
            if value < FIRST_DATE:
                return text_xml(ref, as_text(value))
            return f'<c r="{ref}" s="{DATE_STYLE}"><v>{_serial(value)}</v></c>'

        return day
    return text


def column_letters(index: int) -> str:
    """``0`` -> ``A``, ``25`` -> ``Z``, ``26`` -> ``AA``."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_OOXML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_OOXML}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_OOXML}.worksheet+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{_OOXML}.styles+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL_NS}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
# Styles: 0 plain, 1 a date, 2 a date and time (ISO-like formats, so no locale reorders them).
STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet {_NS}>'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    "</cellStyles></styleSheet>"
)


def _workbook_xml(title: str) -> str:
    name = title.translate(_XML_ESCAPES).replace('"', "&quot;")
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook {_NS} '
        f'xmlns:r="{_REL_NS}"><sheets><sheet name="{name}" sheetId="1" r:id="rId1"/>'
        "</sheets></workbook>"
    )


def iter_xlsx(
    session: Session, description: ModelDescription, stmt: Select[Any]
) -> Iterator[bytes]:
    """The header then the rows of ``stmt`` (``export_select``) as an XLSX workbook, in chunks.

    The sheet's XML is written by hand (openpyxl's writer costs about 75 us a row):
    rows stream from the cursor into the zipped sheet in a temporary file, which is
    then handed out in chunks. What it writes is read back by openpyxl in the tests.
    """
    from console.bulk.exporter import _rows

    layout = file_format(description)
    writers = [_writer(f.kind) for f in layout.fields]
    letters = [column_letters(i) for i in range(len(layout.fields))]
    with tempfile.TemporaryFile() as target:
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as book:
            book.writestr("[Content_Types].xml", CONTENT_TYPES)
            book.writestr("_rels/.rels", ROOT_RELS)
            book.writestr("xl/workbook.xml", _workbook_xml(sheet_title(description)))
            book.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
            book.writestr("xl/styles.xml", STYLES)
            with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
                sheet.write(
                    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {_NS}>'
                    '<sheetData><row r="1">'.encode()
                    + "".join(text_xml(f"{c}1", name)
                              for c, name in zip(letters, layout.columns, strict=True)).encode()
                    + b"</row>"
                )
                number = 1
                pieces: list[str] = []
                for partition in _rows(session, stmt):
                    for row in partition:
                        number += 1
                        n = str(number)
                        pieces.append(f'<row r="{n}">')
                        pieces.extend(write(c + n, v) for write, c, v
                                      in zip(writers, letters, row, strict=True))
                        pieces.append("</row>")
                    sheet.write("".join(pieces).encode())
                    pieces.clear()
                sheet.write(b"</sheetData></worksheet>")
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
