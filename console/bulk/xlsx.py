"""XLSX workbooks in the import's own format: the CSV's columns, typed cells.

Export (``iter_xlsx``) writes the workbook's XML itself (openpyxl's writer costs about
75 us a row): rows stream from the database cursor into the zipped sheet in a
temporary file, which is handed out in chunks; memory stays flat, and the first byte
comes once the whole workbook is written. On PostgreSQL the database writes each
row's XML itself (``sheet_rows_sql``, streamed by COPY as the CSV export is) and
Python only deflates it (``zip_sheet``); the cells are the same. Cells are typed: dates as
dates, date-times as date-times (timezone-aware values in UTC, as the CSV writes
them), booleans as booleans, numbers as numbers, NULL as an empty cell, and text
always as an inline string, never a formula. Values a spreadsheet cannot hold exactly are written as
the CSV's text instead, which the import reads back by the same rules: integers of
16 digits or more, decimals of more than 15 significant digits, non-finite floats,
dates before 1900-03-01 and date-times with microseconds below the millisecond.
Characters XML cannot carry (control characters, CR) are written as OOXML's
``_xHHHH_`` escapes, as Excel writes them.

Import (``XlsxSheet``) reads the first sheet (``_Workbook``: by regular expressions,
``_SheetScanner``, where the sheet is written the simple way, else by the standard
library's XML parser) and turns
each row into the cells a CSV row of the same file would have, as JSON Lines does
(``console.bulk.jsonl``): both import paths then check them with their usual rules
(on PostgreSQL, staged through COPY as JSON Lines are). Errors name the sheet's row.
"""

from __future__ import annotations

import codecs
import io
import operator
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, Any, BinaryIO, Literal
from xml.etree import ElementTree

from sqlalchemy import literal_column
from sqlalchemy.dialects import postgresql

from console.bulk.csvio import FileProblem, RowProblem, width_message
from console.bulk.fileformat import Field, FileFormat, file_format
from console.bulk.jsonl import Row, RowSource
from console.catalogue import ModelDescription
from console.kinds import (
    BooleanKind,
    ChoiceKind,
    DateKind,
    DateTimeKind,
    FloatKind,
    IntegerKind,
    Kind,
    NumberKind,
    TextKind,
    neutralise,
)
from console.sqltext import lit, q

_PG = postgresql.dialect()
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


def _parts(book: zipfile.ZipFile, description: ModelDescription) -> None:
    """The workbook's parts but its sheet."""
    book.writestr("[Content_Types].xml", CONTENT_TYPES)
    book.writestr("_rels/.rels", ROOT_RELS)
    book.writestr("xl/workbook.xml", _workbook_xml(sheet_title(description)))
    book.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
    book.writestr("xl/styles.xml", STYLES)


def _sheet_head(layout: FileFormat, letters: list[str]) -> bytes:
    """The sheet's XML up to and with its header row."""
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {_NS}>'
        '<sheetData><row r="1">'.encode()
        + "".join(text_xml(f"{c}1", name)
                  for c, name in zip(letters, layout.columns, strict=True)).encode()
        + b"</row>"
    )


def iter_xlsx(description: ModelDescription, partitions: Iterable[Any]) -> Iterator[bytes]:
    """The header then ``partitions`` (batches of ``export_select``'s rows) as an XLSX
    workbook, in chunks.

    The sheet's XML is written by hand (openpyxl's writer costs about 75 us a row):
    rows stream from the cursor into the zipped sheet in a temporary file, which is
    then handed out in chunks. What it writes is read back by openpyxl in the tests.
    """
    layout = file_format(description)
    writers = [_writer(f.kind) for f in layout.fields]
    letters = [column_letters(i) for i in range(len(layout.fields))]
    with tempfile.TemporaryFile() as target:
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as book:
            _parts(book, description)
            with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
                sheet.write(_sheet_head(layout, letters))
                number = 1
                pieces: list[str] = []
                for partition in partitions:
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


# -- export by COPY (PostgreSQL) -------------------------------------------------------------

# ``escape``'s control characters, replaced one by one (only in rows that hold one).
_SQL_CONTROLS = [*range(1, 9), *range(11, 32), 0xFFFE, 0xFFFF]
# The text cells of a row are tested joined by a character of no consequence.
_JOIN = "\x7f"


def _regex_class(chars: str) -> str:
    """A bracket expression of ``chars``, each as a PostgreSQL regex escape."""
    return "[" + "".join(f"\\u{ord(c):04X}" for c in chars) + "]"


# A row needs the careful way when a text cell holds a character to escape (an XML
# one, a control character, a line feed) or what may be ``_xHHHH_``. A match across
# two joined cells only costs time: it is never wrong.
_SQL_PLAIN_FAILS = lit(
    _regex_class("".join(chr(c) for c in _SQL_CONTROLS) + "&<>\n") + "|_x"
)


def _sql_text_cell(ref: str, x: str, *, careful: bool = True) -> str:
    """SQL of ``text_xml`` for the (non-NULL) text ``x``; NULL stays NULL.

    ``careful``: escaped as ``text_xml`` escapes, with the same meaning to any XML
    reader, but for two things: every ``<t>`` keeps its blanks (``xml:space``), and
    a line feed is the character reference ``&#10;``, so that no row of the COPY
    output ever holds a line break (the CSV format would quote it). Not careful:
    as it is, for text known to need nothing of that.
    """
    if not careful:
        return (f"'<c r=\"{ref}' || n || '\" t=\"inlineStr\"><is><t xml:space=\"preserve\">' "
                f"|| {x} || '</t></is></c>'")
    body = f"regexp_replace({x}, '_(?=x[0-9A-Fa-f]{{4}}_)', '_x005F_', 'g')"
    for code in _SQL_CONTROLS:
        body = f"replace({body}, chr({code}), '_x{code:04X}_')"
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        body = f"replace({body}, {lit(char)}, {lit(entity)})"
    body = f"replace({body}, chr(10), '&#10;')"
    return (f"'<c r=\"{ref}' || n || '\" t=\"inlineStr\"><is><t xml:space=\"preserve\">' "
            f"|| {body} || '</t></is></c>'")


def _sql_value_cell(ref: str, value: str, style: int = 0) -> str:
    """SQL of a number cell holding the text ``value`` (NULL stays NULL)."""
    s = f' s=\"{style}\"' if style else ""
    return f"'<c r=\"{ref}' || n || '\"{s}><v>' || {value} || '</v></c>'"


def _overrides(kind: Kind, base: type[Kind]) -> bool:
    """True when ``kind`` writes text otherwise than ``base``, whose SQL mirrors it."""
    return type(kind).to_text is not base.to_text


def _sql_cell(kind: Kind, ref: str, c: str, careful: bool) -> tuple[str, bool] | None:
    """SQL of ``_writer(kind)``'s cell for the column ``c`` (NULL for NULL), or None.

    Also says whether the cell is text of the row's own (``careful`` then says how
    to write it: see ``_sql_text_cell``). Numbers, dates and their fallback text
    never need escaping. None: no SQL here says exactly what that writer writes (a
    kind of another module, or one that writes its text its own way); the export
    then goes by Python.
    """
    def as_text(x: str) -> str:
        return _sql_text_cell(ref, x, careful=False)  # digits, signs, dates

    if isinstance(kind, BooleanKind) and not _overrides(kind, BooleanKind):
        return (f"CASE WHEN {c} THEN '<c r=\"{ref}' || n || '\" t=\"b\"><v>1</v></c>' "
                f"WHEN NOT {c} THEN '<c r=\"{ref}' || n || '\" t=\"b\"><v>0</v></c>' END"), False
    if isinstance(kind, IntegerKind) and not _overrides(kind, Kind):
        limit = 10**EXACT_DIGITS
        return (f"CASE WHEN {c} > {-limit} AND {c} < {limit} THEN "
                f"{_sql_value_cell(ref, f'{c}::text')} ELSE {as_text(f'{c}::text')} END"), False
    if isinstance(kind, NumberKind) and not _overrides(kind, NumberKind):
        digits = f"length(btrim(replace(ltrim({c}::text, '-'), '.', ''), '0'))"
        return (f"CASE WHEN {c}::text IN ('NaN', 'Infinity', '-Infinity') OR {digits} > "
                f"{EXACT_DIGITS} THEN {as_text(f'{c}::text')} "
                f"ELSE {_sql_value_cell(ref, f'{c}::text')} END"), False
    if isinstance(kind, FloatKind) and not _overrides(kind, FloatKind):
        # The column's own text, as psycopg2 reads it: the shortest exact digits
        # (PostgreSQL 12 on), as Python's repr writes them.
        return (f"CASE WHEN {c}::text IN ('NaN', 'Infinity', '-Infinity') THEN "
                f"{as_text(f'{c}::text')} ELSE {_sql_value_cell(ref, f'{c}::text')} END"), False
    if isinstance(kind, DateTimeKind) and not _overrides(kind, DateTimeKind):
        moment = f"({c} AT TIME ZONE 'UTC')" if kind.aware else c
        text = str(kind.sql_text(literal_column(c)).compile(
            dialect=_PG, compile_kwargs={"literal_binds": True}))
        serial = (f"(({moment})::date - DATE '1899-12-30')::float8 + "
                  f"extract(epoch FROM ({moment})::time)::float8 / 86400")
        return (f"CASE WHEN ({moment})::date < DATE '{FIRST_DATE.isoformat()}' OR "
                f"extract(microseconds FROM {moment})::bigint % 1000 <> 0 THEN "
                f"{as_text(text)} "
                f"ELSE {_sql_value_cell(ref, f'({serial})::text', DATETIME_STYLE)} END"), False
    if isinstance(kind, DateKind) and not _overrides(kind, DateKind):
        days = f"({c} - DATE '1899-12-30')::text"
        return (f"CASE WHEN {c} < DATE '{FIRST_DATE.isoformat()}' THEN {as_text(f'{c}::text')} "
                f"ELSE {_sql_value_cell(ref, days, DATE_STYLE)} END"), False
    if isinstance(kind, ChoiceKind) and not _overrides(kind, ChoiceKind):
        return _sql_text_cell(ref, f"{c}::text", careful=careful), True
    if isinstance(kind, TextKind) and not _overrides(kind, Kind):
        return _sql_text_cell(ref, f"{c}::text", careful=careful), True
    return None


def sheet_rows_sql(layout: FileFormat, rows_sql: str) -> str | None:
    """A query of one text per sheet row (``<row r="2">...</row>``) over ``rows_sql``.

    ``rows_sql`` is the export's query (``export_select``, its columns named as the
    file's, in the export's order); the rows are numbered from 2 (the header is row
    1). None when a column's kind has no SQL cell (``_sql_cell``).

    Most rows' text needs no escaping: one regular expression over the row's text
    cells tells, and only the rows it matches take the careful way, cell by cell.
    """
    plain, careful, texts = [], [], []
    for i, f in enumerate(layout.fields):
        c = f"e.{q(f.name)}"
        fast = _sql_cell(f.kind, column_letters(i), c, careful=False)
        slow = _sql_cell(f.kind, column_letters(i), c, careful=True)
        if fast is None or slow is None:
            return None
        plain.append(fast[0])
        careful.append(slow[0])
        if fast[1]:
            texts.append(f"{c}::text")
    row = "concat('<row r=\"', n, '\">', {}, '</row>')"
    if texts:
        test = f"concat_ws({lit(_JOIN)}, {', '.join(texts)}) ~ {_SQL_PLAIN_FAILS}"
        xml = (f"CASE WHEN {test} THEN {row.format(', '.join(careful))} "
               f"ELSE {row.format(', '.join(plain))} END")
    else:
        xml = row.format(", ".join(plain))
    # Built from the catalogue's names and constants of ours; the data stays in the table.
    return (
        f"SELECT {xml} FROM "  # noqa: S608
        f"(SELECT (row_number() OVER () + 1)::text AS n, e.* FROM ({rows_sql}) e) e"
    )


def zip_sheet(description: ModelDescription, fill: Callable[[IO[bytes]], None]) -> Iterator[bytes]:
    """The workbook, its sheet rows written by ``fill`` into the file it is given, in chunks.

    ``fill`` may write a row at a time (COPY does): the writes are gathered in a
    buffer of a megabyte, so that each deflate takes a large piece.
    """
    layout = file_format(description)
    letters = [column_letters(i) for i in range(len(layout.fields))]
    with tempfile.TemporaryFile() as target:
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as book:
            _parts(book, description)
            with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
                sheet.write(_sheet_head(layout, letters))
                rows = io.BufferedWriter(sheet, CHUNK_BYTES)
                fill(rows)
                rows.flush()
                rows.detach()
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


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_STRICT = "{http://purl.oclc.org/ooxml/spreadsheetml/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_R_STRICT = "{http://purl.oclc.org/ooxml/officeDocument/relationships}"
_PKG_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_COORDINATE = re.compile(r"([A-Z]+)(\d+)")


_PROLOG_PEEK = 1 << 16
_ELEMENT_START = re.compile(rb"<[A-Za-z_]")


class _Guarded(io.RawIOBase):
    """A part of the workbook, refused if its prolog declares a DTD (entities, external ones).

    OOXML parts never have a DOCTYPE: without one, no entity can be declared, so neither
    an entity bomb nor an external entity can be written. Checking the prolog lets the
    standard library's C parser do the reading (defusedxml's pure-Python handlers cost
    four times as much a row).
    """

    def __init__(self, raw: IO[bytes]) -> None:
        head = raw.read(_PROLOG_PEEK)
        start = _ELEMENT_START.search(head)
        prolog = head[: start.start()] if start else head
        if b"<!DOCTYPE" in prolog.upper() or b"<!ENTITY" in prolog.upper():
            raise ValueError("a part of the workbook declares a DTD, which XLSX never does")
        self.head, self.raw = head, raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n], self.head = self.head[:n], self.head[n:]
            return n
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _parse(data: bytes) -> Any:
    """A small part (the workbook, its relationships, styles), checked like ``_Guarded``."""
    return ElementTree.parse(io.BufferedReader(_Guarded(io.BytesIO(data)))).getroot()  # noqa: S314


def _iterparse(raw: IO[bytes], events: tuple[Literal["start", "end"], ...] = ("end",)) -> Any:
    """``iterparse`` over a checked part (``_Guarded``)."""
    return ElementTree.iterparse(io.BufferedReader(_Guarded(raw)), events=events)  # noqa: S314


def _local(tag: str) -> str:
    """An element's name without its namespace (transitional and strict OOXML alike)."""
    return tag.rsplit("}", 1)[-1]


def _column_index(letters: str) -> int:
    """``A`` -> 0, ``AA`` -> 26."""
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


# One sheet cell as the import reads it: the value (typed), its type ("s" text, "n" number
# or date, "b" boolean, "f" formula, "e" error, "t" the CSV cell it stands for, already
# read so by ``_SheetScanner``) and its reference (B2). A plain tuple:
# a million rows make eight million of them.
_Cell = tuple[Any, str, str]


_EMPTY: _Cell = (None, "n", "")


class _Workbook:
    """The parts of an XLSX the import needs, read with the standard library.

    openpyxl's reader costs about 75 us a row; this one reads the sheet's XML with
    ``xml.etree``'s ``iterparse`` (memory stays flat: each row is dropped once read)
    and decides what a number is (a date, a duration) from the workbook's own styles,
    with openpyxl's rules for date formats and serial numbers.
    """

    def __init__(self, source: BinaryIO) -> None:
        from openpyxl.styles.numbers import (
            BUILTIN_FORMATS,
            is_date_format,
            is_timedelta_format,
        )
        from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900

        self.zip = zipfile.ZipFile(source)
        names = set(self.zip.namelist())
        workbook = _parse(self.zip.read("xl/workbook.xml"))
        rels = self._rels("xl/_rels/workbook.xml.rels")
        self.epoch = CALENDAR_WINDOWS_1900
        self.sheets: list[tuple[str, str]] = []  # (title, part name)
        for element in workbook.iter():
            name = _local(element.tag)
            if name == "workbookPr" and element.get("date1904") in ("1", "true"):
                self.epoch = CALENDAR_MAC_1904
            elif name == "sheet":
                rid = element.get(_R + "id") or element.get(_R_STRICT + "id")
                target = rels.get(rid or "")
                if target is not None:
                    self.sheets.append((element.get("name") or "Sheet", target))
        self.shared: list[str] = []
        shared = next((t for t in rels.values() if t.endswith("sharedStrings.xml")),
                      "xl/sharedStrings.xml")
        if shared in names:
            with self.zip.open(shared) as fh:
                for _event, element in _iterparse(fh):
                    if _local(element.tag) == "si":
                        self.shared.append(_string_of(element))
                        element.clear()
        # Per cell style: "d" a date or date-time, "t" a duration, "" a plain number.
        self.style_kinds: list[str] = []
        styles = next((t for t in rels.values() if t.endswith("styles.xml")), "xl/styles.xml")
        if styles in names:
            tree = _parse(self.zip.read(styles))
            formats = dict(BUILTIN_FORMATS)
            for element in tree.iter():
                if _local(element.tag) == "numFmt":
                    formats[int(element.get("numFmtId", "0"))] = element.get("formatCode", "")
            for element in tree.iter():
                if _local(element.tag) == "cellXfs":
                    for xf in element:
                        code = formats.get(int(xf.get("numFmtId", "0")), "General")
                        self.style_kinds.append(
                            "t" if is_timedelta_format(code)
                            else "d" if is_date_format(code) else ""
                        )

    def _rels(self, part: str) -> dict[str, str]:
        """A relationships part: id -> the target's part name (relative to xl/)."""
        try:
            tree = _parse(self.zip.read(part))
        except KeyError:
            return {}
        found = {}
        for element in tree.iter():
            if _local(element.tag) == "Relationship":
                target = element.get("Target", "")
                target = target.lstrip("/") if target.startswith("/") else "xl/" + target
                found[element.get("Id", "")] = target
        return found

    def rows(self, part: str) -> Iterator[tuple[int, list[_Cell]]]:
        """(row number, cells by column, gaps as empty cells) for every row of a sheet.

        Read by ``_SheetScanner`` (a row at a time by regular expressions) as long as the
        sheet is written the simple way its own export and most spreadsheets write
        it; from the first thing it does not know on (a comment, a CDATA section, an
        encoding other than UTF-8...), by the XML parser, which goes on after the
        rows already read.
        """
        done = 0
        try:
            for row in _SheetScanner(self, part).rows():
                yield row
                done += 1
        except _Unusual:
            for row in self.parsed_rows(part):
                if done:
                    done -= 1
                    continue
                yield row

    def parsed_rows(self, part: str) -> Iterator[tuple[int, list[_Cell]]]:
        """``rows`` by the XML parser (``iterparse``) alone."""
        sheet_data = {_MAIN + "sheetData", _STRICT + "sheetData"}
        row_tags = {_MAIN + "row", _STRICT + "row"}
        number = 0
        with self.zip.open(part) as fh:
            parent = None
            for event, element in _iterparse(fh, ("start", "end")):
                if event == "start":
                    if parent is None and element.tag in sheet_data:
                        parent = element
                    continue
                if element.tag not in row_tags:
                    continue
                given = element.get("r")
                number = int(given) if given else number + 1
                yield number, self.cells_of(element)
                element.clear()
                if parent is not None:
                    parent.clear()  # the rows read so far: memory stays flat

    def cells_of(self, row: Any) -> list[_Cell]:
        """The cells of a parsed ``<row>`` element, by column (gaps as empty cells)."""
        f_tags, v_tags = {_MAIN + "f", _STRICT + "f"}, {_MAIN + "v", _STRICT + "v"}
        is_tags = {_MAIN + "is", _STRICT + "is"}
        cells: list[_Cell] = []
        for c in row:
            ref = c.get("r") or ""
            found = _COORDINATE.fullmatch(ref) if ref else None
            index = _column_index(found.group(1)) if found else len(cells)
            while len(cells) < index:
                cells.append(_EMPTY)
            value: Any = None
            formula = None
            raw = None
            for child in c:
                tag = child.tag
                if tag in v_tags:
                    raw = child.text
                elif tag in is_tags:
                    value = _string_of(child)
                elif tag in f_tags:
                    formula = child.text or ""
            if formula is not None:
                cells.append(("=" + formula, "f", ref))
            else:
                cells.append(self.cell(c.get("t", "n"), raw, c.get("s"), value, ref))
        return cells

    def cell(self, kind: str, raw: str | None, style: str | None, text: Any, ref: str) -> _Cell:
        """A cell of type ``kind`` (the ``t`` attribute) from its ``<v>`` or inline ``text``."""
        if kind == "inlineStr":
            return (text, "s", ref)
        if raw is None:
            return (None, "n", ref)
        if kind == "s":
            return (self.shared[int(raw)], "s", ref)
        if kind == "str":
            return (raw, "s", ref)
        if kind == "b":
            return (raw.strip() in ("1", "true"), "b", ref)
        if kind == "e":
            return (raw, "e", ref)
        if kind == "d":
            return (datetime.fromisoformat(raw), "n", ref)
        number: Any = float(raw) if "." in raw or "E" in raw or "e" in raw else int(raw)
        index = int(style or 0)
        kind_of = self.style_kinds[index] if index < len(self.style_kinds) else ""
        if kind_of:
            from openpyxl.utils.datetime import from_excel

            number = from_excel(number, self.epoch, timedelta=kind_of == "t")
        return (number, "n", ref)

    def close(self) -> None:
        self.zip.close()


class _Unusual(Exception):
    """The sheet uses something ``_SheetScanner`` leaves to the XML parser."""


_SHEET_NAMESPACES = (_MAIN[1:-1], _STRICT[1:-1])
_DECLARATION = re.compile(r'\A<\?xml\s[^<>?]*\?>\s*')
_UTF8 = re.compile(r'encoding\s*=\s*["\'](?i:utf-?8)["\']')
_ROOT = re.compile(r'<worksheet\b([^<>]*)>')
_XMLNS = re.compile(r'\s(xmlns(?::[\w.-]+)?)="([^"<>&]*)"')
_SHEET_DATA = re.compile(r"<sheetData\s*>")
_ROW = re.compile(r'\s*<row r="(\d+)"[^<>/]*(/?)>')
# A cell as an export (ours, a spreadsheet's) writes it: the reference, a style and a
# type (either order), then nothing, a value, or an inline string of plain text.
# Text holds no character XML refuses (the parser says so, for that row).
_TEXT = r"[^<\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*"
# The first group is the whole cell: the cells found tile the row's content exactly
# when their lengths add up to its length (matches never overlap).
_CELLS = re.compile(
    r'(\s*<c r="(([A-Z]{1,3})\d+)"(?: s="(\d+)")?(?: t="(\w+)")?(?: s="(\d+)")?\s*'
    f'(?:/>|>(?:(<v>)({_TEXT})</v>|(<is>)<t(?: xml:space="preserve")?>({_TEXT})</t></is>)?'
    '</c>)\\s*)'
)
_WHOLE = operator.itemgetter(0)
_ENTITY = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#x([0-9A-Fa-f]{1,6}));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _entity(match: re.Match[str]) -> str:
    named, decimal, hexadecimal = match.groups()
    if named:
        return _NAMED[named]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if not (code in (9, 10, 13) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0x10FFFF) or (
        0xFFFE <= code <= 0xFFFF
    ):
        raise _OddRow  # not a character XML allows: the parser says so
    return chr(code)


def _entities(text: str) -> str:
    """``text`` with its entities and character references read (any other ``&``: _OddRow)."""
    if "&" not in text:
        return text
    read, count = _ENTITY.subn(_entity, text)
    if count != text.count("&"):
        raise _OddRow
    return read


class _OddRow(Exception):
    """A row ``_SheetScanner`` leaves to the XML parser (alone: the rows around it are plain)."""


# The scanner keeps at most this much of a row before handing the sheet to the parser.
_LONGEST_ROW = 16 * CHUNK_BYTES


class _SheetScanner:
    """A sheet's rows read by regular expressions: about a tenth of the XML parser's time.

    It reads only what it knows for sure: UTF-8, a ``<worksheet>`` in the spreadsheet
    namespace with its ``<sheetData>``, rows with their number, cells with a
    reference, a style, a type and a value or an inline string of plain text (the five
    XML entities and character references). A row with anything else (a formula, rich
    text, other attributes...) is handed to the XML parser, alone; a comment, CDATA
    section or processing instruction in the sheet, or an unusual start, raises
    ``_Unusual``: the whole sheet is then read by the parser. The part is guarded as
    for the parser (``_Guarded``: no DTD).
    """

    def __init__(self, book: _Workbook, part: str) -> None:
        self.book = book
        self.part = part
        self.columns: dict[str, int] = {}

    def rows(self) -> Iterator[tuple[int, list[_Cell]]]:
        decoder = codecs.getincrementaldecoder("utf-8")()
        with self.book.zip.open(self.part) as fh:
            source = io.BufferedReader(_Guarded(fh), CHUNK_BYTES)
            text, more = self._head(source, decoder)
            while True:
                end = text.find("</sheetData>")
                if end >= 0:
                    yield from self._rows(text[:end])
                    return
                if not more:
                    raise _Unusual  # no end of the sheet's data: the parser says why
                cut = text.rfind("</row>") + len("</row>")
                if cut >= len("</row>"):
                    yield from self._rows(text[:cut])
                    text = text[cut:]
                elif len(text) > _LONGEST_ROW:
                    raise _Unusual  # a row this long is the parser's, as it always was
                chunk = source.read(CHUNK_BYTES)
                more = bool(chunk)
                text += self._decode(decoder, chunk, not more)

    @staticmethod
    def _decode(decoder: Any, chunk: bytes, final: bool) -> str:
        try:
            return str(decoder.decode(chunk, final))
        except UnicodeDecodeError:
            raise _Unusual from None

    def _head(self, source: IO[bytes], decoder: Any) -> tuple[str, bool]:
        """The text after ``<sheetData>``; checks what comes before it."""
        text, more = "", True
        while more:
            chunk = source.read(CHUNK_BYTES)
            more = bool(chunk)
            text += self._decode(decoder, chunk, not more)
            found = _SHEET_DATA.search(text)
            if found is not None:
                break
            if len(text) > 4 * CHUNK_BYTES:
                raise _Unusual
        else:
            raise _Unusual  # no <sheetData>, or an empty one
        head = text[: found.start()]
        declaration = _DECLARATION.match(head)
        if declaration is not None:
            if "encoding" in declaration.group() and not _UTF8.search(declaration.group()):
                raise _Unusual
            head = head[declaration.end():]
        root = _ROOT.match(head.lstrip())
        if root is None or "<!" in head or "<?" in head:
            raise _Unusual
        spaces = dict((name, uri) for name, uri in _XMLNS.findall(" " + root.group(1)))
        if spaces.get("xmlns") not in _SHEET_NAMESPACES:
            raise _Unusual
        # What a row handed to the parser is wrapped in: the root's namespaces.
        self.wrapper = "<sheetData " + " ".join(
            f'{name}="{uri}"' for name, uri in spaces.items()
        ) + ">{}</sheetData>"
        return text[found.end():], more

    def _rows(self, text: str) -> Iterator[tuple[int, list[_Cell]]]:
        """The rows of ``text``, a run of whole rows (and blanks between them)."""
        if "<!" in text or "<?" in text:
            raise _Unusual
        position = 0
        match = _ROW.match
        while (found := match(text, position)) is not None:
            number = int(found.group(1))
            if found.group(2):  # <row r="..."/>
                position = found.end()
                yield number, []
                continue
            end = text.find("</row>", found.end())
            if end < 0:
                raise _Unusual
            content = text[found.end():end]
            start, position = found.start(), end + len("</row>")
            try:
                yield number, self._cells(content)
            except _OddRow:
                yield number, self._parsed(text[start:position].strip())
        if text[position:].strip():
            raise _Unusual  # something else than rows between them

    def _cells(self, content: str) -> list[_Cell]:
        """The cells of a row's content; the commonest (plain text, whole numbers of no
        date style, booleans) already as the CSV cell they stand for (type "t")."""
        # A CR is a line end to XML (read as LF); "]]>" is refused in text.
        if "\r" in content or "]]>" in content:
            raise _OddRow
        found = _CELLS.findall(content)
        if sum(map(len, map(_WHOLE, found))) != len(content):
            raise _OddRow  # something else than such cells
        book = self.book
        cell, style_kinds = book.cell, book.style_kinds
        columns = self.columns
        cells: list[_Cell] = []
        for _whole, ref, letters, style, kind, style_after, v, raw, inline, text in found:
            index = columns.get(letters)
            if index is None:
                index = columns[letters] = _column_index(letters)
            if index != len(cells):
                if index < len(cells):
                    raise _OddRow  # out of order: as the parser reads it
                cells.extend([_EMPTY] * (index - len(cells)))
            if v:
                if "&" in raw:
                    raw = _entities(raw)
                style = style or style_after
                if kind == "b":
                    cells.append(("true" if raw.strip() in ("1", "true") else "false", "t", ref))
                elif raw.isdigit() and kind in ("", "n") and (raw[0] != "0" or len(raw) == 1) and (
                    not style or int(style) >= len(style_kinds) or not style_kinds[int(style)]
                ):
                    cells.append((raw, "t", ref))  # _number_text's, as it is
                else:  # <v></v> holds nothing
                    cells.append(cell(kind or "n", raw or None, style, None, ref))
            elif inline and kind == "inlineStr":
                if "&" in text:
                    text = _entities(text)
                cells.append((neutralise(unescape(text)), "t", ref))
            else:
                cells.append(cell(kind or "n", None, style or style_after, None, ref))
        return cells

    def _parsed(self, row: str) -> list[_Cell]:
        """A row the scanner leaves aside, by the XML parser."""
        element = ElementTree.fromstring(self.wrapper.format(row))  # noqa: S314 (no DTD: a row)
        return self.book.cells_of(element[0])


def _string_of(element: Any) -> str:
    """A shared or inline string's text: its ``<t>``, or its rich-text runs' ``<t>``s.

    Phonetic hints (``<rPh>``, furigana) are not part of the text and are left out.
    """
    parts = []
    for child in element:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return "".join(parts)


class XlsxSheet(RowSource):
    """The first sheet of a workbook: its columns (the first non-empty row), then its rows.

    ``notes`` says what the import leaves aside (other sheets that hold data).
    """

    def __init__(
        self, source: BinaryIO, layout: FileFormat,
        progress: Callable[[int], None] | None = None, done: int = 0,
    ) -> None:
        self._spool: Any = None
        self.book: _Workbook | None = None
        if not source.seekable():
            self._spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
            shutil.copyfileobj(source, self._spool, 1 << 20)
            source = self._spool
        source.seek(0)
        try:
            self.book = _Workbook(io.BufferedReader(_Seekable(source, progress, done)))
        except (zipfile.BadZipFile, ElementTree.ParseError, KeyError, OSError, ValueError) as exc:
            self.close()
            raise FileProblem(
                f"Not a readable XLSX workbook ({exc}). Save it from your spreadsheet as "
                "'Excel Workbook (.xlsx)' and upload it again."
            ) from None
        self.notes: list[str] = []
        sheets = self.book.sheets
        if not sheets:
            self.close()
            raise FileProblem("The workbook has no sheets.")
        self.title, part = sheets[0]
        self._rows = self._checked(self.book.rows(part))
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
        others = [title for title, other in sheets[1:] if self._has_data(other)]
        if others:
            self.notes.append(
                f"Only the first sheet, {self.title!r}, was read: "
                + ", ".join(repr(t) for t in others) + " also hold(s) data, which was ignored."
            )

    @staticmethod
    def _checked(rows: Iterator[tuple[int, list[_Cell]]]) -> Iterator[tuple[int, list[_Cell]]]:
        """The sheet's rows; XML that breaks off mid-way is a problem of the file."""
        try:
            yield from rows
        except (ElementTree.ParseError, zipfile.BadZipFile, ValueError, IndexError) as exc:
            raise FileProblem(f"The sheet cannot be read to its end ({exc}).") from None

    def _has_data(self, part: str) -> bool:
        """True when the sheet ``part`` holds any value (reads up to the first one)."""
        assert self.book is not None
        try:
            for _number, cells in self.book.rows(part):
                if any(c[0] is not None and c[0] != "" for c in cells):
                    return True
        except (ElementTree.ParseError, KeyError, ValueError, IndexError):
            return False
        return False

    def rows(self) -> Iterator[Row]:
        """(sheet row, cells as CSV text) per non-empty row, or (row, why it cannot be read)."""
        fields = self._fields
        columns = self.columns
        width = len(fields)
        text_of = self._text
        for number, cells in self._rows:
            texts = [c[0] if c[1] == "t" else text_of(c, f, number, name)
                     for c, f, name in zip(cells, fields, columns, strict=False)]
            beyond = any(c[0] is not None and c[0] != "" for c in cells[width:])
            if not beyond and not any(texts):
                continue  # an empty row
            if beyond:
                yield number, RowProblem(None, width_message(width, len(cells)))
                continue
            problem = next((t for t in texts if isinstance(t, RowProblem)), None)
            if problem is not None:
                yield number, problem
                continue
            if len(texts) < width:
                texts += [""] * (width - len(texts))
            yield number, texts  # type: ignore[misc]

    @staticmethod
    def _text(cell: Any, f: Field | None, number: int, name: str) -> str | RowProblem:
        """The CSV cell a sheet cell stands for (its column's kind decides dates' text)."""
        value = cell[0]
        if value is None:
            return ""
        data_type = cell[1]
        if data_type == "t":  # read as the CSV cell already (``_SheetScanner``)
            return str(value)
        if data_type == "s":
            # Text as given: quoted here when it looks like a formula, so that the
            # import's un-quoting gives it back unchanged.
            return neutralise(unescape(str(value)))
        if data_type in ("f", "e"):
            where = f"row {number}, column {name} (cell {cell[2] or '?'})"
            if data_type == "f":
                return RowProblem(name or None, f"{where}: a formula, not a value.")
            return RowProblem(name or None, f"{where}: an error value ({value}), not a value.")
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return _number_text(value)
        if isinstance(value, datetime):
            return _datetime_text(value, f.kind if f is not None else None)
        if isinstance(value, date | time):
            return value.isoformat()
        if isinstance(value, timedelta):
            return str(value)
        return neutralise(unescape(str(value)))

    def close(self) -> None:
        """Release the workbook (and its spooled copy)."""
        if self.book is not None:
            self.book.close()
            self.book = None
        if self._spool is not None:
            self._spool.close()
            self._spool = None
