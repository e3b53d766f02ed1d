"""Filters from the grid's header in a real Chromium: by mouse and by Alt+ArrowDown,
kept in the address bar, listed with a remove button, and not a sort."""

from __future__ import annotations

from typing import Any

from tests.browser.test_grid_browser import GRID, cell, column, shoot
from tests.browser.test_grid_select_browser import open_grid, poll, seed_many, words


def count(page: Any) -> int:
    return int(poll(page, "!window.consoleGrid.state.loading && window.consoleGrid.state.count"
                          " && window.consoleGrid.state.count.value + 1") - 1)


def test_a_header_filter_narrows_the_rows_and_stays_in_the_url(editor_page: Any) -> None:
    page = editor_page
    seed_many(120, outside=40)
    open_grid(page)
    assert count(page) == 160
    page.click("#grid-filter-list_id")
    page.locator("#grid-filter-form").wait_for()
    page.select_option("#grid-filter-operation", "list_name_equals")
    page.fill("#grid-filter-form input[aria-label=Value]", "Work")
    shoot(page, "grid-header-filter-form.png")
    page.click("#grid-filter-apply")
    poll(page, "window.consoleGrid.state.count && window.consoleGrid.state.count.value === 40")
    assert count(page) == 40
    assert "flt0_list_name_equals=Work" in page.url
    assert words(page, "#grid-filters") == "· Filters: List equals Work \u00d7"
    assert "grid-filter-on" in (page.get_attribute("#grid-filter-list_id", "class") or "")
    assert page.evaluate("window.consoleGrid.state.sort") is None  # the button is no sort
    assert page.locator(f"{GRID} #grid-cell-0-{column(page, 'description')}").inner_text() == (
        "Report 0")
    shoot(page, "grid-header-filter.png")
    # A reload shows the same rows; so does the List tab.
    page.reload()
    page.wait_for_selector(f"{GRID} .tabulator-row")
    assert count(page) == 40
    assert "flt0_list_name_equals=Work" in (page.get_attribute("#list-link", "href") or "")
    # From the keyboard: Alt+ArrowDown on a Completed cell, a choice, Enter applies.
    cell(page, 0, column(page, "completed")).click()
    page.keyboard.press("Alt+ArrowDown")
    page.locator("#grid-filter-form").wait_for()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Value"
    page.select_option("#grid-filter-form select[aria-label=Value]", "0")
    page.keyboard.press("Enter")
    poll(page, "new URLSearchParams(location.search).get('flt1_completed_equals') === '0'")
    assert count(page) == 40
    assert page.evaluate("document.activeElement.id") == "console-grid"
    assert words(page, "#grid-filters") == (
        "· Filters: List equals Work \u00d7 Completed equals No \u00d7")
    # Removing the list's filter: every to-do not done.
    page.click("#grid-filter-remove-0")
    poll(page, "window.consoleGrid.state.count && window.consoleGrid.state.count.value === 160")
    assert "list_name" not in page.url and "flt0_completed_equals=0" in page.url
    # Esc closes the form without a change.
    page.click("#grid-filter-completed")
    page.locator("#grid-filter-form").wait_for()
    page.keyboard.press("Escape")
    assert page.locator("#grid-filter-form").count() == 0
    assert page.evaluate("document.activeElement.id") == "grid-filter-completed"
    assert page.js_errors == []


def test_a_column_without_a_filter_says_so_and_an_empty_value_is_refused(
    editor_page: Any,
) -> None:
    page = editor_page
    seed_many(5, outside=0)
    open_grid(page)
    cell(page, 0, column(page, "description")).click()
    page.keyboard.press("Alt+ArrowDown")
    assert words(page, "#grid-message") == "Description has no filter."
    assert page.locator("#grid-filter-form").count() == 0
    page.click("#grid-filter-due_date")
    page.select_option("#grid-filter-operation", "due_date_greater_than")
    page.click("#grid-filter-apply")
    assert words(page, "#grid-filter-form .grid-filter-note") == "Give a value first (or Cancel)."
    page.fill("#grid-filter-form input[type=date]", "2030-01-31")
    page.click("#grid-filter-apply")
    poll(page, "window.consoleGrid.state.count && window.consoleGrid.state.count.value === 0")
    assert "flt0_due_date_greater_than=2030-01-31" in page.url
    assert page.js_errors == []


def test_a_saved_view_keeps_the_header_filters(editor_page: Any) -> None:
    page = editor_page
    seed_many(30, outside=10)
    open_grid(page)
    page.click("#grid-filter-list_id")
    page.select_option("#grid-filter-operation", "list_name_equals")
    page.fill("#grid-filter-form input[aria-label=Value]", "Work")
    page.click("#grid-filter-apply")
    poll(page, "window.consoleGrid.state.count && window.consoleGrid.state.count.value === 10")
    page.click("#grid-views-button")
    page.wait_for_selector("#grid-view-list li")
    page.fill("#grid-view-name", "Work only")
    page.press("#grid-view-name", "Enter")
    page.wait_for_selector("#grid-view-list .grid-view-open")
    page.goto("/admin/todo/grid/")
    page.wait_for_selector(f"{GRID} .tabulator-row")
    assert count(page) == 40
    page.click("#grid-views-button")
    page.click("#grid-view-list .grid-view-open:has-text('Work only')")
    page.wait_for_url(lambda url: "list_name_equals=Work" in url)
    page.wait_for_selector(f"{GRID} .tabulator-row")
    assert count(page) == 10
    assert words(page, "#grid-filters") == "· Filters: List equals Work \u00d7"
    assert page.js_errors == []
