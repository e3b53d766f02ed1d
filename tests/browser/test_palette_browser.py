"""The command palette in a real Chromium: Ctrl+K, type, arrows, Enter; Esc gives focus back."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.browser.conftest import ARTIFACTS

SHOTS = Path(os.environ.get("CONSOLE_SHOTS") or ARTIFACTS)


def _open(page: Any) -> None:
    page.keyboard.press("Control+k")
    page.wait_for_selector("#console-palette-input:focus")


def _first_is(page: Any, label: str) -> None:
    """Wait until the first option is ``label`` (the answer to the text typed so far)."""
    script = ("() => { const o = document.querySelector('#console-palette-option-0 "
              ".console-palette-label'); return o ? o.textContent : null; }")
    for _ in range(100):
        if page.evaluate(script) == label:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"the first option is {page.evaluate(script)!r}, not {label!r}")


def test_ctrl_k_jumps_to_a_record_by_its_label(editor_page: Any, sample: dict) -> None:
    page = editor_page
    page.goto("/admin/todo/")
    assert page.is_visible("#console-palette-open")
    _open(page)
    assert page.get_attribute("#console-palette", "role") == "dialog"
    page.keyboard.type("milk")
    page.wait_for_selector("#console-palette-list [role=option][data-kind=record]")
    _first_is(page, "Buy milk")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "palette-record.png"))
    # The first option is selected; arrows move until the record, Enter opens it.
    options = page.query_selector_all("#console-palette-list [role=option]")
    kinds = [o.get_attribute("data-kind") for o in options]
    for _ in range(kinds.index("record")):
        page.keyboard.press("ArrowDown")
    selected = page.get_attribute("#console-palette-input", "aria-activedescendant")
    assert page.text_content(f"#{selected} .console-palette-label") == "Buy milk"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/admin/todo/edit/?id={sample['milk']}*")
    assert page.input_value("input[name=description]") == "Buy milk"
    assert page.js_errors == []


def test_the_palette_runs_actions_and_esc_closes_it(editor_page: Any, sample: dict) -> None:
    page = editor_page
    page.goto("/admin/")
    page.focus("#current-account")
    _open(page)
    page.keyboard.type("new to-do")
    _first_is(page, "New to-do")
    page.keyboard.press("Escape")
    assert page.is_hidden("#console-palette")
    assert page.evaluate("() => document.activeElement.id") == "current-account"
    # The button opens it too; Enter takes the first option.
    page.click("#console-palette-open")
    page.wait_for_selector("#console-palette-input:focus")
    page.keyboard.type("import to-dos")
    _first_is(page, "Import to-dos")
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/todo/import/")
    assert page.js_errors == []
