"""CSV details shared by import and export: the header, encodings, formula neutralising."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from console.bulk.spec import ModelSpec

BOM = b"\xef\xbb\xbf"
# Spreadsheets run a cell that starts with one of these as a formula. A quote is
# prefixed on export; a leading quote itself is escaped the same way, so that the
# import can strip exactly one and the round trip is exact.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPED_STARTS = (*FORMULA_STARTS, "'")


class FileProblem(Exception):
    """The file as a whole cannot be imported (not CSV/UTF-8, wrong header...)."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def neutralise(text: str) -> str:
    """Prefix a quote to a cell a spreadsheet would run as a formula."""
    return "'" + text if text.startswith(ESCAPED_STARTS) else text


def unneutralise(text: str) -> str:
    """Undo ``neutralise``: strip the quote put before a formula character (or a quote)."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r'":
        return text[1:]
    return text


def not_utf8(line: int) -> FileProblem:
    """The error for bytes that are not UTF-8."""
    return FileProblem(
        f"The file is not UTF-8 text (bad bytes on or near line {line}). "
        "Save it as 'CSV UTF-8' and upload it again.",
        line,
    )


class CountingReader(io.RawIOBase):
    """A binary stream that reports how many bytes were read (for progress bars)."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if self.progress and n:
            self.progress(n)
        return n

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if self.progress and data:
            self.progress(len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self.raw.readline(size)
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


def check_header(spec: ModelSpec, header: Header) -> None:
    """Reject unknown, repeated or missing columns before any row is read."""
    known = set(spec.columns)
    problems = []
    unknown = [c for c in header.columns if c not in known]
    if unknown:
        problems.append("unknown column(s) " + ", ".join(repr(c) for c in unknown))
    repeated = sorted({c for c in header.columns if header.columns.count(c) > 1})
    if repeated:
        problems.append("repeated column(s) " + ", ".join(repr(c) for c in repeated))
    missing = [c for c in spec.required if c not in header.columns]
    if missing:
        problems.append("missing required column(s) " + ", ".join(repr(c) for c in missing))
    if problems:
        raise FileProblem(
            "Wrong columns: " + "; ".join(problems)
            + f". Expected: {', '.join(spec.columns)} (required: {', '.join(spec.required)})."
        )
