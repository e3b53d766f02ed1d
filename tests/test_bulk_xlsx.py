"""XLSX export and import, the CSV's BOM, formulas after blanks, JSON Lines separators."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl.cell import WriteOnlyCell

from console import kinds
from console.bulk import xlsx
from console.bulk.exporter import BOM, export_chunks
from console.demo.models import Todo, TodoList
from console.extensions import db as _db
from tests import bulk_contract
from tests.bulk_contract import ORDER, Contract
from tests.bulk_helpers import counts, described, errors_of, job_url, run_import, upload
from tests.conftest import count, csrf_token

contract_pg_url = bulk_contract.contract_pg_url
contract = bulk_contract.contract
seeded = bulk_contract.seeded

TODO_HEADER = ["description", "completed", "due_date", "priority", "list", "assignee"]


def export(model: str, fmt: str = "xlsx", **kwargs: Any) -> bytes:
    try:
        return b"".join(export_chunks(_db.session, described(model), fmt, **kwargs))
    finally:
        _db.session.rollback()


def sheet_values(data: bytes) -> list[list[Any]]:
    """Every row of the first sheet, as values (formulas as their text)."""
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


def cells(data: bytes) -> list[list[Any]]:
    """Every cell of the first sheet (a full load: data types and formulas)."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [list(r) for r in book.worksheets[0].iter_rows()]


def workbook(*rows: list[Any], second: list[list[Any]] | None = None,
             formulas: dict[str, str] | None = None) -> bytes:
    """An XLSX of ``rows`` made as a spreadsheet would (formulas by cell name)."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for coordinate, formula in (formulas or {}).items():
        sheet[coordinate] = formula
    if second is not None:
        other = book.create_sheet("Notes")
        for row in second:
            other.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _add_todos(db: Any, sample: dict, texts: list[str]) -> None:
    group = db.session.get(TodoList, sample["groceries"])
    db.session.add_all([Todo(description=t, todo_list=group) for t in texts])
    db.session.commit()


# Text as the rules store it (trimmed), that a spreadsheet or XML would not keep as it is.
TRICKY = ["=1+1", "=  1", "+33", "-x", "@me", "'quoted", "#N/A", "cr\rinside", "bell\x07",
          "_x0041_ literally", "tab\tinside", "plain"]


# -- the demo models ------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["person", "todolist", "todo"])
def test_demo_round_trip(app: Flask, db: Any, sample: dict, model: str) -> None:
    """Export -> import in upsert mode changes nothing; exporting again gives the same cells."""
    _add_todos(db, sample, TRICKY)
    first = export(model)
    result = run_import(model, first, upsert=True)
    assert result.ok, errors_of(result)
    assert result.format == "xlsx"
    rows = len(sheet_values(first)) - 1
    assert rows > 0
    assert counts(result) == (0, 0, rows, 0)
    assert sheet_values(export(model)) == sheet_values(first)


def test_export_cells_are_typed(app: Flask, db: Any, sample: dict) -> None:
    """Dates are dates, booleans booleans, numbers numbers; text is never a formula."""
    _add_todos(db, sample, TRICKY)
    group = db.session.get(TodoList, sample["groceries"])
    db.session.add(Todo(description="Due", todo_list=group, due_date=date(2025, 3, 4),
                        completed=True))
    db.session.commit()
    grid = cells(export("todo"))
    header = [c.value for c in grid[0]]
    assert header[:1] == ["id"] and "description" in header
    col = {name: i for i, name in enumerate(header)}
    due = next(r for r in grid if r[col["description"]].value == "Due")
    assert due[col["due_date"]].is_date and due[col["due_date"]].value == datetime(2025, 3, 4)
    assert due[col["completed"]].data_type == "b" and due[col["completed"]].value is True
    assert due[col["id"]].data_type == "n" and isinstance(due[col["id"]].value, int)
    assert due[col["version"]].value == 1
    texts = {r[col["description"]].value: r[col["description"]] for r in grid[1:]}
    for text in TRICKY:
        shown = xlsx.escape(text)
        assert texts[shown].data_type == "s", text  # not "f" (formula) nor "e" (error)
    # NULL is an empty cell.
    milk = next(r for r in grid if r[col["description"]].value == "Buy milk")
    assert milk[col["due_date"]].value is None


def test_text_is_an_inline_string_not_a_formula(app: Flask, db: Any, sample: dict) -> None:
    """In the sheet's XML: <is><t>=1+1</t></is>, no <f> element."""
    import zipfile

    _add_todos(db, sample, ["=1+1"])
    data = export("todo")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    # PostgreSQL's sheet keeps every text's blanks (the same text to any reader).
    assert 't="inlineStr"' in sheet
    assert "<t>=1+1</t>" in sheet or '<t xml:space="preserve">=1+1</t>' in sheet


def test_import_a_sheet_made_by_hand(app: Flask, db: Any, sample: dict) -> None:
    """A date cell, a number for text, an empty row, a second sheet; a formula is refused."""
    before = count(Todo)
    data = workbook(
        TODO_HEADER,
        ["Dated", False, datetime(2025, 5, 6), "high", "Groceries", None],
        [123, True, None, "low", "Groceries", None],
        [None, None, None, None, None, None],
        [45.5, "no", "2025-01-02", "normal", "Groceries", None],
        second=[["ignored"], ["rows"]],
    )
    result = run_import("todo", data)
    assert result.ok, errors_of(result)
    assert counts(result) == (3, 0, 0, 0) and result.rows == 3
    assert any("Notes" in n and "ignored" in n for n in result.notes)
    db.session.expire_all()
    todos = {t.description: t for t in db.session.query(Todo).all()}
    assert todos["Dated"].due_date == date(2025, 5, 6)
    assert "123" in todos and "45.5" in todos  # 123, not 123.0
    assert count(Todo) == before + 3

    formula = workbook(TODO_HEADER, ["ok", False, None, "low", "Groceries", None],
                       ["x", False, None, "low", "Groceries", None],
                       formulas={"A3": "=1+1"})
    result = run_import("todo", formula)
    assert not result.committed
    assert errors_of(result) == [
        (3, "description", "row 3, column description (cell A3): a formula, not a value.")
    ]
    assert count(Todo) == before + 3  # all or nothing


def test_sheet_rows_are_checked_by_the_column_rules(app: Flask, db: Any, sample: dict) -> None:
    """A number where a date is expected, a date cell in a text column, a bad choice."""
    data = workbook(
        TODO_HEADER,
        ["Bad date", False, 45000, "high", "Groceries", None],
        ["Bad choice", False, None, "urgent", "Groceries", None],
        [datetime(2025, 1, 2), False, None, "low", "Groceries", None],
    )
    result = run_import("todo", data, dry_run=True)
    lines = {(line, column) for line, column, _m in errors_of(result)}
    assert lines == {(2, "due_date"), (3, "priority")}
    assert result.inserted == 1


def test_an_empty_or_broken_workbook_is_refused(app: Flask, db: Any, sample: dict) -> None:
    assert "empty" in errors_of(run_import("todo", workbook()))[0][2]
    broken = run_import("todo", b"PK\x03\x04 not really a zip", file_name="x.xlsx")
    assert "Not a readable XLSX workbook" in errors_of(broken)[0][2]


def test_xlsx_through_the_web(app: Flask, editor_client: FlaskClient, db: Any,
                              sample: dict) -> None:
    """Upload .xlsx, see the dry run, confirm; the Export menu offers XLSX."""
    page = editor_client.get("/admin/todo/").get_data(as_text=True)
    assert "/admin/todo/export/xlsx/" in page and "bom=0" in page
    assert ".xlsx" in editor_client.get("/admin/todo/import/").get_data(as_text=True)
    response = editor_client.get("/admin/todo/export/xlsx/")
    assert response.status_code == 200
    assert response.mimetype == xlsx.CONTENT_TYPE
    assert ".xlsx" in response.headers["Content-Disposition"]
    exported = response.get_data()
    assert exported.startswith(xlsx.ZIP_SIGNATURE)
    rows = len(sheet_values(exported)) - 1

    # Told by the signature, whatever the name.
    status = editor_client.get(job_url(upload(editor_client, "todo", exported, mode="upsert",
                                              name="from-excel.bin")))
    assert status.status_code == 200
    data = workbook(TODO_HEADER, ["From a sheet", True, date(2025, 1, 1), "low",
                                  "Groceries", None])
    before = count(Todo)
    location = job_url(upload(editor_client, "todo", data, name="new.xlsx"))
    page = editor_client.get(location).get_data(as_text=True)
    assert "1 row" in page or "inserted" in page
    assert count(Todo) == before  # a dry run first
    job_id = location.rstrip("/").split("/")[-1]
    token = csrf_token(editor_client, location)
    confirmed = editor_client.post(f"/admin/todo/import/{job_id}/confirm",
                                   data={"csrf_token": token})
    assert confirmed.status_code == 302
    from console.jobs import wait_for_job

    assert wait_for_job(job_id, timeout=60)
    assert count(Todo) == before + 1
    assert rows == before


def test_xlsx_through_the_cli(app: Flask, runner: Any, db: Any, sample: dict,
                              tmp_path: Any) -> None:
    """console export --format xlsx -o FILE, then console import of that file."""
    target = tmp_path / "todos.xlsx"
    result = runner.invoke(args=["export", "todo", "--format", "xlsx", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(xlsx.ZIP_SIGNATURE)
    result = runner.invoke(args=["import", "todo", str(target), "--upsert"])
    assert result.exit_code == 0, result.output
    assert "0 were inserted, 0 were updated" in result.output
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(workbook(TODO_HEADER, ["x", False, None, "low", "Nowhere", None]))
    result = runner.invoke(args=["import", "todo", str(bad)])
    assert result.exit_code == 1
    assert "row 2 [list]" in result.output


# -- the contract models ---------------------------------------------------------------------


def test_contract_round_trip(contract: Contract, seeded: dict) -> None:
    """Every contract model: export -> upsert changes nothing, and the cells come back."""
    for model in ORDER:
        data = contract.export(model, "xlsx")
        rows = len(sheet_values(data)) - 1
        result = contract.run_import(model, data, upsert=True)
        assert result.ok, (model, errors_of(result))
        assert counts(result) == (0, 0, rows, 0), model
        assert sheet_values(contract.export(model, "xlsx")) == sheet_values(data), model


def test_contract_cells_are_typed(contract: Contract, seeded: dict) -> None:
    """Decimals and aware date-times (UTC) are numbers and date-times; "=Ops" is text."""
    task = cells(contract.export("task", "xlsx"))
    header = [c.value for c in task[0]]
    plan = next(r for r in task if r[header.index("title")].value == "Plan")
    assert plan[header.index("due_at")].is_date
    assert plan[header.index("due_at")].value == datetime(2026, 1, 31, 14, 30)
    assert plan[header.index("estimate")].value == 2.5
    build = next(r for r in task if r[header.index("title")].value == "Build, then test")
    assert build[header.index("due_at")].value == datetime(2026, 2, 1, 9, 0, 0, 250000)
    team = cells(contract.export("team", "xlsx"))
    ops = next(r for r in team if r[2].value == "=Ops")
    assert ops[2].data_type == "s"
    project = cells(contract.export("project", "xlsx"))
    apollo = next(r for r in project if r[1].value == "Apollo")
    assert apollo[2].value == 1234.5 and apollo[2].data_type == "n"


def test_values_a_cell_cannot_hold_go_as_text(contract: Contract, seeded: dict) -> None:
    """Microseconds below the millisecond, long decimals: the CSV's text, read back exactly."""
    from datetime import UTC

    from tests.contract.models import Task

    task = contract.session.get(Task, seeded["plan"])
    task.due_at = datetime(2026, 1, 31, 14, 30, 0, 123456, tzinfo=UTC)
    contract.session.commit()
    data = contract.export("task", "xlsx")
    grid = cells(data)
    header = [c.value for c in grid[0]]
    plan = next(r for r in grid if r[header.index("title")].value == "Plan")
    assert plan[header.index("due_at")].value == "2026-01-31T14:30:00.123456+00:00"
    result = contract.run_import("task", data, upsert=True)
    assert result.ok and result.updated == 0, errors_of(result)


# -- the database's sheet (PostgreSQL) --------------------------------------------------------

# Text that takes the careful way in the database's sheet, or looks as if it should.
AWKWARD = [*TRICKY, "  lead", "trail ", "\u3000wide blank\u3000", "a & b < c > d", "a\nb\r\nc",
           "\x01\x02\x1f\ufffe\uffff", "_x005F_x0041_", "_x004", "x_", "\x7f", "emoji \U0001f600",
           "tab\t", "\u2028line", "\u00a0nbsp", "'", "&#10;", "]]>", "\\back\\slash"]


def full_cells(data: bytes) -> list[list[tuple[Any, str, str]]]:
    """Every cell as (value, data type, number format), a full load."""
    return [[(c.value, c.data_type, c.number_format) for c in row] for row in cells(data)]


@pytest.mark.postgres_only
@pytest.mark.parametrize("model", ["person", "todolist", "todo"])
def test_the_databases_sheet_is_pythons(app: Flask, db: Any, sample: dict, model: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL writes the sheet's rows itself: the same cells as Python's writer."""
    from console.bulk import exporter

    _add_todos(db, sample, AWKWARD)
    group = db.session.get(TodoList, sample["groceries"])
    db.session.add_all([
        Todo(description="Old", todo_list=group, due_date=date(1899, 12, 31)),
        Todo(description="Leap", todo_list=group, due_date=date(1900, 3, 1)),
        Todo(description="Later", todo_list=group, due_date=date(9999, 12, 31)),
    ])
    db.session.commit()
    assert exporter.xlsx_by_copy(described(model))
    by_copy = export(model)
    monkeypatch.setattr(exporter, "XLSX_BY_COPY", False)
    by_python = export(model)
    assert full_cells(by_copy) == full_cells(by_python)
    with zipfile.ZipFile(io.BytesIO(by_copy)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml")
    assert sheet.count(b"<row ") == len(sheet_values(by_python))
    # Read back, both say the same (the import trims what these rows stored untrimmed).
    back = [run_import(model, data, upsert=True, dry_run=True) for data in (by_copy, by_python)]
    assert back[0].ok and counts(back[0]) == counts(back[1]), errors_of(back[0])
    assert back[0].changes == back[1].changes


def test_contract_sheet_by_the_database_is_pythons(
    contract: Contract, seeded: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decimals, floats, aware date-times, choices: the same cells by either writer."""
    from datetime import UTC

    from console.bulk import exporter
    from tests.contract.models import Task

    task = contract.session.get(Task, seeded["plan"])
    task.due_at = datetime(2026, 1, 31, 14, 30, 0, 123000, tzinfo=UTC)
    contract.session.commit()
    for model in ORDER:
        by_copy = contract.export(model, "xlsx")
        monkeypatch.setattr(exporter, "XLSX_BY_COPY", False)
        by_python = contract.export(model, "xlsx")
        monkeypatch.setattr(exporter, "XLSX_BY_COPY", True)
        assert full_cells(by_copy) == full_cells(by_python), model


# -- pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [*TRICKY, "", "_x005F_", "a\nb", "\ufffe"])
def test_escape_round_trips(text: str) -> None:
    assert xlsx.unescape(xlsx.escape(text)) == text


def test_text_cell_is_a_string_whatever_it_holds() -> None:
    """openpyxl would make "=1+1" a formula and "#N/A" an error value: ours stay strings."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    plain = WriteOnlyCell(sheet, value="=1+1")
    assert plain.data_type == "f"  # what openpyxl does on its own
    for text in ("=1+1", "#N/A", "x" * 40_000, "a < b & c > d", "  padded "):
        cell = xlsx.text_xml("B7", text)
        assert cell.startswith('<c r="B7" t="inlineStr"><is><t')
        assert ('xml:space="preserve"' in cell) == (text != text.strip())
        assert "<f>" not in cell and xlsx.unescape(
            cell.split(">", 3)[3].rsplit("</t>", 1)[0]
            .replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        ) == text


@pytest.mark.parametrize(("value", "text"), [
    (123, "123"), (123.0, "123"), (45.5, "45.5"), (-0.25, "-0.25"), (1e16, "10000000000000000"),
    (1e-7, "0.0000001"),
])
def test_number_cells_as_text(value: float, text: str) -> None:
    assert xlsx._number_text(value) == text


@pytest.mark.parametrize("text", [
    "  =1+1", "\t=1+1", " \t@x", "\n-1", " +1", "=1", "'quoted", "\rcr", "plain", " plain",
    "  ", "", "'", "''", "' =x", "a=b",
])
def test_neutralise_round_trips(text: str) -> None:
    """unneutralise(neutralise(x)) is x; a formula after blanks gets the quote."""
    quoted = kinds.neutralise(text)
    assert kinds.unneutralise(quoted) == text
    after_blanks = text.lstrip(" \t\r\n")[:1] in ("=", "+", "-", "@")
    assert quoted.startswith("'") == (after_blanks or text[:1] in ("\t", "\r", "'"))


# -- the CSV's BOM, formulas after blanks, JSON Lines separators --------------------------------


def test_csv_exports_start_with_a_bom_unless_told_not_to(
    app: Flask, viewer_client: FlaskClient, runner: Any, db: Any, sample: dict, tmp_path: Any,
) -> None:
    web = viewer_client.get("/admin/todo/export/csv/").get_data()
    assert web.startswith(BOM + b"id,")
    plain = viewer_client.get("/admin/todo/export/csv/?bom=0").get_data()
    assert plain.startswith(b"id,") and plain == web[len(BOM):]
    target = tmp_path / "todos.csv"
    assert runner.invoke(args=["export", "todo", "-o", str(target)]).exit_code == 0
    assert target.read_bytes().startswith(BOM + b"id,")
    assert runner.invoke(args=["export", "todo", "--no-bom", "-o", str(target)]).exit_code == 0
    assert target.read_bytes().startswith(b"id,")
    # JSON Lines never has one.
    assert viewer_client.get("/admin/todo/export/jsonl/").get_data().startswith(b"{")
    # Both import back unchanged.
    for data in (web, plain):
        result = run_import("todo", data, upsert=True)
        assert result.ok and result.updated == 0 and result.inserted == 0, errors_of(result)


def test_formulas_after_blanks_are_neutralised_and_round_trip(
    app: Flask, db: Any, sample: dict
) -> None:
    """Stored untrimmed (by another program), they go out quoted; the import un-quotes them."""
    texts = ["  =1+1", "\t=1+1", " \n@SUM(A1)", "  -2", "'  =1"]
    _add_todos(db, sample, [*texts, " plain"])
    for fmt in ("csv", "xlsx"):
        data = export("todo", fmt)
        if fmt == "csv":
            for text in texts:
                assert kinds.neutralise(text).startswith("'"), text
            assert b"'  =1+1" in data and b"' plain" not in data
        from console.bulk.fileformat import file_format
        from console.bulk.xlsx import XlsxSheet

        if fmt == "xlsx":
            sheet = XlsxSheet(io.BytesIO(data), file_format(described("todo")))
            got = [cells[1] for _line, cells in sheet.rows()]  # type: ignore[index]
            sheet.close()
            assert [kinds.unneutralise(c) for c in got[-6:]] == [*texts, " plain"]
        # The cells come back exactly; the text rule then trims them, as for any cell
        # ("'  =1" has nothing to trim).
        result = run_import("todo", data, upsert=True, dry_run=True)
        assert result.ok and result.updated == len(texts), errors_of(result)
    db.session.query(Todo).filter(Todo.description.in_([*texts, " plain"])).delete()
    db.session.commit()
    _add_todos(db, sample, [t.strip() for t in texts])
    csv_data = export("todo", "csv")
    assert b"'=1+1" in csv_data and b"''  =1" in csv_data
    result = run_import("todo", csv_data, upsert=True)
    assert result.ok and (result.updated, result.inserted) == (0, 0), errors_of(result)


def test_json_lines_escape_line_separators(app: Flask, db: Any, sample: dict) -> None:
    _add_todos(db, sample, ["one\u2028two\u2029three"])
    data = export("todo", "jsonl")
    assert "\u2028".encode() not in data and "\u2029".encode() not in data
    assert b"one\\u2028two\\u2029three" in data
    records = [json.loads(line) for line in data.splitlines()]
    assert any(r["description"] == "one\u2028two\u2029three" for r in records)
    result = run_import("todo", data, upsert=True)
    assert result.ok and result.updated == 0 and result.inserted == 0, errors_of(result)
    # The raw characters are read too.
    raw = data.replace(b"\\u2028", "\u2028".encode())
    result = run_import("todo", raw, upsert=True)
    assert result.ok and result.updated == 0, errors_of(result)


def test_separators_split_between_chunks_are_escaped() -> None:
    from console.bulk.exporter import escaped_separators

    data = '{"a":"x\u2028y\u2029"}\n'.encode()
    for cut in range(1, len(data)):
        out = b"".join(escaped_separators(iter([data[:cut], data[cut:]])))  # type: ignore[arg-type]
        assert out == b'{"a":"x\\u2028y\\u2029"}\n', cut


def test_decimal_and_date_writers() -> None:
    number = xlsx._writer(kinds.NumberKind(precision=30, scale=2))
    assert number("C2", Decimal("12.50")) == '<c r="C2"><v>12.50</v></c>'
    long = number("C2", Decimal("1234567890123456789.01"))
    assert 't="inlineStr"' in long and ">1234567890123456789.01</t>" in long
    day = xlsx._writer(kinds.DateKind())
    assert day("D2", date(2025, 1, 1)) == '<c r="D2" s="1"><v>45658</v></c>'
    assert ">1800-01-01</t>" in day("D2", date(1800, 1, 1))
    assert number("C2", None) == "" and day("D2", None) == ""
    assert [xlsx.column_letters(i) for i in (0, 25, 26, 701, 702)] == [
        "A", "Z", "AA", "ZZ", "AAA"]


# -- the reader's own cases: what spreadsheets write that the console's export does not ------


def zipped(sheet_xml: str, *, workbook_pr: str = "", shared: str | None = None,
           styles: str | None = None, prolog: str = "", sheet: bytes | None = None) -> bytes:
    """A workbook of one sheet, its parts written by hand."""
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rels = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="x/styles" Target="styles.xml"/>'
            '<Relationship Id="rId3" Type="x/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr("[Content_Types].xml", xlsx.CONTENT_TYPES)
        book.writestr("_rels/.rels", xlsx.ROOT_RELS)
        book.writestr("xl/workbook.xml", f'<workbook {ns} xmlns:r="http://schemas.openxmlformats.'
                      f'org/officeDocument/2006/relationships">{workbook_pr}<sheets>'
                      '<sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>')
        book.writestr("xl/_rels/workbook.xml.rels", rels)
        book.writestr("xl/styles.xml", styles or xlsx.STYLES)
        if shared is not None:
            book.writestr("xl/sharedStrings.xml", f"<sst {ns}>{shared}</sst>")
        book.writestr("xl/worksheets/sheet1.xml", sheet or
                      f"{prolog}<worksheet {ns}><sheetData>{sheet_xml}</sheetData></worksheet>")
    return out.getvalue()


def header_row() -> str:
    return "<row>" + "".join(f'<c t="inlineStr"><is><t>{h}</t></is></c>'
                             for h in TODO_HEADER) + "</row>"


def test_cells_without_references_rich_text_and_shared_strings(app, db, sample):
    """Cells without r= (some writers omit it), rich-text runs, phonetic hints, shared strings."""
    data = zipped(
        header_row()
        + '<row><c t="s"><v>0</v></c><c t="b"><v>1</v></c><c/>'
        '<c t="inlineStr"><is><r><t>hi</t></r><r><t>gh</t></r></is></c>'
        '<c t="s"><v>1</v></c></row>',
        shared='<si><r><t>Run </t></r><r><t>one</t></r><rPh><t>ignored</t></rPh></si>'
               "<si><t>Groceries</t></si>",
    )
    result = run_import("todo", data)
    assert result.ok, errors_of(result)
    db.session.expire_all()
    todo = db.session.query(Todo).filter(Todo.description == "Run one").one()
    assert (todo.completed, todo.priority.value, todo.todo_list.name) == (
        True, "high", "Groceries")


def test_a_1904_workbook_and_a_date_style_of_its_own(app, db, sample):
    styles = xlsx.STYLES.replace('formatCode="yyyy-mm-dd"', 'formatCode="dd/mm/yyyy"')
    data = zipped(
        header_row()
        + '<row><c r="A2" t="inlineStr"><is><t>Mac</t></is></c><c r="C2" s="1"><v>366</v></c>'
        '<c r="D2" t="inlineStr"><is><t>low</t></is></c>'
        '<c r="E2" t="inlineStr"><is><t>Groceries</t></is></c></row>',
        workbook_pr='<workbookPr date1904="1"/>', styles=styles,
    )
    result = run_import("todo", data)
    assert result.ok, errors_of(result)
    db.session.expire_all()
    assert db.session.query(Todo).filter(Todo.description == "Mac").one().due_date == date(
        1905, 1, 1)  # 366 days after 1904-01-01 (1900's epoch would give 1900-12-31)


def test_an_entity_bomb_or_a_broken_sheet_is_refused(app, db, sample):
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>')
    data = zipped(header_row() + '<row><c t="inlineStr"><is><t>&b;</t></is></c></row>',
                  prolog=bomb)
    refused = run_import("todo", data)
    assert not refused.ok
    assert errors_of(refused)[0][2].startswith("The sheet cannot be read to its end")
    assert "declares a DTD" in errors_of(refused)[0][2]
    broken = zipped(header_row() + '<row><c t="inlineStr"><is><t>cut')
    result = run_import("todo", broken)
    assert not result.ok
    assert any("cannot be read" in m or "Not a readable" in m for _l, _c, m in errors_of(result))


# -- the sheet scanner: the XML parser's rows, faster ------------------------------------------

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = ('<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>row {n}</t></is></c>'
      '<c r="B{n}"><v>{n}</v></c></row>')
PLAIN = "".join(_R.format(n=n) for n in range(1, 4))
EXCEL_ROOT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    f'<worksheet {_NS} xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac" '
    'mc:Ignorable="x14ac"><dimension ref="A1:D3"/><sheetViews><sheetView workbookViewId="0"/>'
    '</sheetViews><sheetFormatPr defaultRowHeight="15" x14ac:dyDescent="0.25"/><sheetData>'
)
SHEETS = {
    "plain": PLAIN,
    "a formula row": PLAIN + '<row r="4"><c r="A4"><f>1+1</f><v>2</v></c></row>' + PLAIN,
    "rich text": '<row r="1"><c r="A1" t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r></is>'
                 "</c></row>" + PLAIN,
    "a comment mid-way": PLAIN + "<!-- </row> -->" + PLAIN,
    "CDATA": PLAIN + '<row r="9"><c r="A9" t="inlineStr"><is><t><![CDATA[</row>&]]></t></is>'
             "</c></row>",
    "pretty-printed": PLAIN.replace("<c ", "\n    <c ").replace("<row", "\n  <row")
                      .replace("</row>", "\n  </row>"),
    "entities": '<row r="2"><c r="A2" t="inlineStr"><is><t>a &amp; b &lt;&gt; &quot;&apos; '
                "&#10;&#x41;&#128512;</t></is></c><c r=\"B2\"><v>&#49;2</v></c></row>",
    "CR in text": '<row r="2"><c r="A2" t="inlineStr"><is><t>a\r\nb\rc</t></is></c></row>',
    "out of order": '<row r="2"><c r="C2"><v>3</v></c><c r="A2"><v>1</v></c></row>' + PLAIN,
    "empties": '<row r="2"><c r="A2"><v></v></c><c r="B2"/><c r="C2" s="0"></c></row>'
               '<row r="3"/><row r="4" spans="1:3"></row>' + PLAIN,
    "gaps and types": '<row r="5"><c r="B5" t="b"><v>1</v></c><c r="D5" s="1"><v>45000</v></c>'
                      '<c r="E5" t="s"><v>0</v></c><c r="F5" t="str"><v>s</v></c>'
                      '<c r="G5" t="e"><v>#N/A</v></c><c r="H5"><v>-1.5E3</v></c>'
                      '<c r="I5"><v>007</v></c><c r="J5" s="2"><v>45000.5</v></c>'
                      '<c r="K5" t="d"><v>2026-01-02T03:04:05</v></c>'
                      '<c r="AA5" t="inlineStr"><is><t xml:space="preserve"> x </t></is></c></row>',
    "a row number not first": '<row spans="1:2" r="7"><c r="A7"><v>1</v></c></row>' + PLAIN,
    "no row numbers": "<row><c><v>1</v></c></row>" + PLAIN,
}


def as_text(rows: Any) -> list[tuple[int, list[Any]]]:
    """Rows of cells as the CSV cells (or problems) they stand for."""
    return [(n, [xlsx.XlsxSheet._text(c, None, n, "x") for c in cells]) for n, cells in rows]


def _books(xml: str | None = None, raw: bytes | None = None) -> xlsx._Workbook:
    return xlsx._Workbook(io.BytesIO(zipped(xml or "", sheet=raw, shared="<si><t>one</t></si>")))


@pytest.mark.parametrize("name", list(SHEETS))
def test_the_scanner_reads_what_the_parser_reads(name: str) -> None:
    """Whatever the sheet holds, the rows are the parser's (the scanner hands on what it
    does not know: a row, or the rest of the sheet)."""
    book = _books(SHEETS[name])
    part = "xl/worksheets/sheet1.xml"
    assert as_text(book.rows(part)) == as_text(book.parsed_rows(part))
    assert list(book.rows(part))


def test_the_scanner_reads_excels_sheets_and_other_encodings() -> None:
    """Excel's root (prefixes, a CRLF after the declaration) and rows; a UTF-16 sheet."""
    rows = ('<row r="1" spans="1:2" x14ac:dyDescent="0.25"><c r="A1" s="1" t="s"><v>0</v></c>'
            '<c r="B1"><f>1+1</f><v>2</v></c></row><row r="2" x14ac:dyDescent="0.25">'
            '<c r="A2" t="inlineStr"><is><t>x</t></is></c></row>')
    part = "xl/worksheets/sheet1.xml"
    excel = (EXCEL_ROOT + rows + '</sheetData><pageMargins left="0.7"/></worksheet>').encode()
    plain_rows = rows.replace(' x14ac:dyDescent="0.25"', "")
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?>'
             f"<worksheet {_NS}><sheetData>{plain_rows}</sheetData></worksheet>").encode("utf-16")
    for raw in (excel, utf16):
        book = _books(raw=raw)
        assert as_text(book.rows(part)) == as_text(book.parsed_rows(part))
        assert [c[0] for c in next(iter(book.rows(part)))[1]] == ["one", "=1+1"]


@pytest.mark.parametrize("row", [
    '<row r="2"><c r="A2" t="inlineStr"><is><t>a & b</t></is></c></row>',
    '<row r="2"><c r="A2" t="inlineStr"><is><t>&nbsp;</t></is></c></row>',
    '<row r="2"><c r="A2" t="inlineStr"><is><t>bell \x07</t></is></c></row>',
    '<row r="2"><c r="A2" t="inlineStr"><is><t>&#1;</t></is></c></row>',
    '<row r="2"><c r="A2"><v>1</v></c>',
])
def test_what_the_parser_refuses_the_scanner_refuses(row: str) -> None:
    """Bad XML is a problem of the file, whichever reads it."""
    book = _books(PLAIN + row)
    part = "xl/worksheets/sheet1.xml"
    for read in (book.rows, book.parsed_rows):
        with pytest.raises(xlsx.ElementTree.ParseError):
            list(read(part))


def test_our_own_export_never_needs_the_parser(app: Flask, db: Any, sample: dict,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The scanner reads the export's sheets alone (the speed of the XLSX import)."""
    _add_todos(db, sample, AWKWARD)

    def refused(*args: Any) -> Any:
        raise AssertionError("the XML parser was used")

    monkeypatch.setattr(xlsx._Workbook, "parsed_rows", refused)
    monkeypatch.setattr(xlsx._SheetScanner, "_parsed", refused)
    result = run_import("todo", export("todo"), upsert=True, dry_run=True)
    assert result.ok, errors_of(result)


def test_a_row_longer_than_the_scanner_keeps_goes_to_the_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The scanner's buffer stays bounded: a huge row is read by the parser, as before."""
    monkeypatch.setattr(xlsx, "_LONGEST_ROW", 1000)
    monkeypatch.setattr(xlsx, "CHUNK_BYTES", 256)
    long_row = ('<row r="4"><c r="A4"><v>4</v></c><c r="B4" t="inlineStr"><is><t>'
                + "x" * 5000 + "</t></is></c></row>")
    book = _books(PLAIN + long_row + "".join(_R.format(n=n) for n in range(5, 8)))
    part = "xl/worksheets/sheet1.xml"
    expected = as_text(book.parsed_rows(part))
    parsed = []
    real = xlsx._Workbook.parsed_rows

    def spy(self: Any, name: str) -> Any:
        parsed.append(name)
        return real(self, name)

    monkeypatch.setattr(xlsx._Workbook, "parsed_rows", spy)
    assert as_text(book.rows(part)) == expected
    assert len(expected) == 7 and parsed == [part]
