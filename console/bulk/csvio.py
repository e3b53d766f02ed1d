"""File details shared by import and export: the CSV header, encodings, progress.

Formula neutralising (``neutralise``, ``unneutralise``) is defined with the kinds.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from console.bulk.fileformat import FileFormat

BOM = b"\xef\xbb\xbf"


class FileProblem(Exception):
    """The file as a whole cannot be imported (not CSV/UTF-8, wrong header...)."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def not_utf8(line: int, csv: bool = True) -> FileProblem:
    """The error for bytes that are not UTF-8."""
    advice = "Save it as 'CSV UTF-8' and upload it again." if csv else "Save it as UTF-8."
    return FileProblem(
        f"The file is not UTF-8 text (bad bytes on or near line {line}). {advice}", line
    )


@dataclass(frozen=True)
class RowProblem:
    """Why one row of a file cannot be read at all (its column, when one is to blame).

    ``more``: further problems of the same row (every NUL cell is named).
    """

    column: str | None
    message: str
    more: tuple[RowProblem, ...] = ()

    def all(self) -> list[RowProblem]:
        """This problem and the row's others, in column order."""
        return [RowProblem(self.column, self.message), *self.more]


NUL_MESSAGE = "Contains a NUL character (no database stores one in text)."


def nul_problem(columns: list[str], cells: list[str]) -> RowProblem | None:
    """The row's NUL cells, one problem each; None when there are none.

    No database stores NUL in text (PostgreSQL refuses it outright), so both import
    paths refuse such a row with the same per-cell messages before reading it.
    """
    bad = [RowProblem(c, NUL_MESSAGE) for c, cell in zip(columns, cells, strict=False)
           if "\x00" in cell]
    if not bad:
        return None
    return RowProblem(bad[0].column, bad[0].message, tuple(bad[1:]))


class CountingReader(io.RawIOBase):
    """A binary stream that reports how many bytes were read (for progress bars)."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.progress = progress
        self.count = 0  # bytes read so far

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self.progress and n:
            self.progress(n)
        return n

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        if self.progress and data:
            self.progress(len(data))
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data = self.raw.readline(-1 if size is None else size)
        self.count += len(data)
        if self.progress and data:
            self.progress(len(data))
        return data


@dataclass
class Header:
    """The parsed header row."""

    columns: list[str]


def read_header(stream: BinaryIO) -> Header:
    """Read the header line (BOM and CRLF accepted), leaving ``stream`` at the first data row."""
    first = stream.readline()
    if first.startswith(BOM):
        first = first[len(BOM):]
    if not first.strip():
        raise FileProblem("The file is empty: it needs a header row naming the columns.")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        raise not_utf8(1) from None
    row = next(csv.reader([text.rstrip("\r\n")]), [])
    return Header([c.strip().lower() for c in row])


def check_header(layout: FileFormat, header: Header) -> None:
    """Reject unknown, repeated or missing columns before any row is read."""
    known = set(layout.columns)
    problems = []
    unknown = [c for c in header.columns if c not in known]
    if unknown:
        problems.append("unknown column(s) " + ", ".join(repr(c) for c in unknown))
    repeated = sorted({c for c in header.columns if header.columns.count(c) > 1})
    if repeated:
        problems.append("repeated column(s) " + ", ".join(repr(c) for c in repeated))
    missing = [c for c in layout.required if c not in header.columns]
    if missing:
        problems.append("missing required column(s) " + ", ".join(repr(c) for c in missing))
    if problems:
        raise FileProblem(
            "Wrong columns: " + "; ".join(problems)
            + f". Expected: {', '.join(layout.columns)} (required: {', '.join(layout.required)})."
        )


def width_message(expected: int, got: int) -> str:
    """The error for a row with too many or too few values."""
    return f"Expected {expected} values (one per header column), got {got}."


def csv_rows(stream: BinaryIO, width: int) -> Iterator[tuple[int, list[str] | RowProblem]]:
    """(line, cells) per non-blank record after the header, or (line, why it is unreadable).

    ``line`` is the physical line the record starts on (a quoted cell may hold line
    breaks): what both import paths report.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    reader = csv.reader(text)
    try:
        ended = 0
        for cells in reader:
            line = ended + 2  # +1: counted from 1; +1: the header was read before the reader
            ended = reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            if len(cells) != width:
                yield line, RowProblem(None, width_message(width, len(cells)))
            else:
                yield line, cells
    except UnicodeDecodeError:
        raise not_utf8(reader.line_num + 2) from None
    except csv.Error as exc:
        raise FileProblem(f"Not a readable CSV file: {exc}.", reader.line_num + 1) from None
    finally:
        text.detach()
