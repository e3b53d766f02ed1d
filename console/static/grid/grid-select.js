// "Select all N matching" and "With selected" in the grid (templates/admin/grid.html).
// A range of rows (Ctrl+A, Shift+arrows, Shift+click) offers, in the status bar, every
// row the grid's filters and search match, loaded or not; the toolbar's "With selected"
// menu then offers the list's own bulk actions (Set <column>, Delete through its
// preview) and exports, of the selected rows or of every matching row. The actions post
// the list's action form (console/admin/bulk_edits.py, deletes.py, matching.py): the ids
// of the selected saved rows (``rowid``), or the grid's filters and search as the list's
// query string (``matching``), so the same confirm pages, limits and fingerprints apply.
// An export of the selected rows posts their ids to export/<kind>/selected (transfer.py).
// Esc or "Clear selection" drops the selection.
(function () {
  "use strict";

  var grid = window.consoleGrid;
  if (!grid || !grid.hooks) { return; }
  var state = grid.state;
  var config = grid.config;
  var root = document.getElementById("console-grid");
  var bar = document.getElementById("grid-select-all");
  var details = document.getElementById("grid-with-selected");
  var box = document.getElementById("grid-with-selected-menu");
  var summary = details ? details.querySelector("summary") : null;
  var actions = config.actions || [];
  var exportUrls = config.exportUrls || {};
  var exports = Object.keys(exportUrls);
  var all = false;   // "all N matching" chosen
  var shownKey = null;

  if (details && !actions.length && !exports.length) { details.parentNode.hidden = true; details = null; }

  function n(value) { return Number(value).toLocaleString("en"); }

  function noun(count) { return count === 1 ? config.singular : config.plural; }

  function selectedRows() {
    // Positions of the rows in the range (or the focused row), in order.
    var rows = new Set(grid.rangeCells().map(function (c) { return c.row; }));
    return Array.from(rows).sort(function (a, b) { return a - b; });
  }

  function selectedIds() {
    // The selection's rows that exist in the database (not new rows still unsaved).
    return selectedRows().map(function (r) { return state.order[r]; }).filter(function (id) {
      return id !== undefined && String(id).indexOf("new-") !== 0;
    }).map(String);
  }

  function everyRowSelected() {
    // The range already holds every matching row: nothing more to offer.
    return !!(state.count && state.count.exact && state.atStart && state.done &&
              selectedIds().length >= state.count.value);
  }

  function total() {
    // As the list says it: "3,000", "about 1,000,000", "more than 10,000".
    return state.count ? state.count.label : "";
  }

  function selectAllText() {
    return state.count && state.count.atLeast ? "Select all matching (" + total() + ")"
      : "Select all " + total() + " matching";
  }

  function allText() {
    return state.count && state.count.atLeast ? "All matching " + config.plural + " (" + total() + ") are selected."
      : "All " + total() + " matching " + noun(state.count && state.count.exact ? state.count.value : 2) + " " +
        (state.count && state.count.exact && state.count.value === 1 ? "is" : "are") + " selected.";
  }

  function link(id, text, act) {
    var a = document.createElement("a");
    a.href = "#";
    a.id = id;
    a.textContent = text;
    a.addEventListener("click", function (event) { event.preventDefault(); act(); });
    return a;
  }

  function chooseAll() {
    all = true;
    shownKey = null;
    render();
    grid.say("");
    root.focus({preventScroll: true});
  }

  function clear() {
    all = false;
    state.anchor = null;
    if (details) { details.open = false; }
    grid.decorateVisible();
    root.focus({preventScroll: true});
  }

  function render() {
    if (!state.anchor) { all = false; }
    var offer = !!(state.anchor && state.count && state.matching !== undefined && !everyRowSelected());
    if (!offer) { all = false; }
    var ids = all ? [] : selectedIds();
    var key = [all, offer, total(), ids.length, state.anchor ? 1 : 0].join("|");
    if (details) {
      summary.textContent = all ? "With all " + total() + " matching" : "With selected (" + n(ids.length) + ")";
      details.classList.toggle("grid-with-all", all);
    }
    if (key === shownKey) { return; }
    shownKey = key;
    bar.textContent = "";
    if (all) {
      var on = document.createElement("span");
      on.className = "grid-select-all-on";
      on.appendChild(document.createTextNode(allText() + " "));
      on.appendChild(link("grid-select-clear", "Clear selection", clear));
      bar.appendChild(document.createTextNode("· "));
      bar.appendChild(on);
    } else if (offer) {
      bar.appendChild(document.createTextNode("· "));
      bar.appendChild(link("grid-select-matching", selectAllText(), chooseAll));
    }
    if (details && details.open) { fillMenu(); }
  }

  function post(name, ids) {
    // The list's action form, as its "With selected" posts it (CSRF token included).
    var fields = [["csrf_token", config.actionCsrf], ["url", window.location.pathname + window.location.search],
                  ["action", name]];
    if (all) { fields.push(["matching", state.matching || ""]); }
    else { ids.forEach(function (id) { fields.push(["rowid", id]); }); }
    submit(config.actionUrl, fields);
  }

  function exportSelected(kind, ids) {
    // The selected rows by id, in the grid's sort: a POST (a thousand ids do not fit in
    // every server's request line); the download leaves this page as it is.
    var fields = [["csrf_token", config.exportCsrf], ["url", window.location.pathname + window.location.search]];
    ids.forEach(function (id) { fields.push(["rowid", id]); });
    var query = sortQuery().toString();
    submit(exportUrls[kind] + "selected" + (query ? "?" + query : ""), fields);
  }

  function submit(action, fields) {
    var form = document.createElement("form");
    form.method = "POST";
    form.action = action;
    form.hidden = true;
    fields.forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = pair[0];
      input.value = pair[1];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
    form.remove();
  }

  function sortQuery(params) {
    // The grid's sort as the list's arguments (``sort`` is the column's index there).
    params = params || new URLSearchParams();
    var col = state.sort ? grid.columns().concat(grid.allColumns()).filter(function (c) { return c.key === state.sort; })[0] : null;
    if (col && col.sortIndex !== null) {
      params.set("sort", String(col.sortIndex));
      if (state.descending) { params.set("desc", "1"); }
    }
    return params;
  }

  function exportUrl(kind) {
    // Every matching row, in the grid's sort (the export reads the list's arguments).
    var query = sortQuery(new URLSearchParams(state.matching || "")).toString();
    return exportUrls[kind] + (query ? "?" + query : "");
  }

  function item(id, text, act, off, hint) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "dropdown-item";
    button.id = id;
    button.textContent = text;
    if (off) { button.disabled = true; }
    if (hint) { button.title = hint; }
    button.addEventListener("click", function () {
      if (button.disabled) { return; }
      details.open = false;
      act();
    });
    box.appendChild(button);
    return button;
  }

  function fillMenu() {
    box.textContent = "";
    var ids = all ? [] : selectedIds();
    var head = document.createElement("h6");
    head.className = "dropdown-header";
    head.id = "grid-with-selected-head";
    head.textContent = all ? "For all " + total() + " matching " + config.plural
      : ids.length ? "For the " + n(ids.length) + " selected " + noun(ids.length)
      : "Select saved rows first";
    box.appendChild(head);
    var tooMany = !all && ids.length > config.maxSelection;
    actions.forEach(function (action) {
      item("grid-action-" + action.name.replace(/[^\w-]/g, "-"), action.label + (action.name === "delete" ? "…" : ""),
           function () { post(action.name, ids); }, !all && (!ids.length || tooMany),
           tooMany ? "At most " + n(config.maxSelection) + " rows by their ids: use Select all matching" : "");
    });
    if (exports.length) {
      if (actions.length) {
        var line = document.createElement("div");
        line.className = "dropdown-divider";
        box.appendChild(line);
      }
      exports.forEach(function (kind) {
        var upper = kind.toUpperCase();
        if (all) {
          item("grid-export-" + kind, "Export all matching as " + upper,
               function () { window.location.assign(exportUrl(kind)); }, false, "");
        } else {
          item("grid-export-" + kind, "Export " + (ids.length ? "the " + n(ids.length) + " selected" : "selected") + " as " + upper,
               function () { exportSelected(kind, ids); }, !ids.length || tooMany,
               tooMany ? "At most " + n(config.maxSelection) + " rows by their ids: use Select all matching" : "");
        }
      });
    }
  }

  if (details) {
    // Filled as it opens (the click comes before the toggle event), never stale.
    summary.addEventListener("click", function () { if (!details.open) { fillMenu(); } });
    details.addEventListener("toggle", function () { if (details.open) { fillMenu(); } });
    details.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { details.open = false; summary.focus(); event.stopPropagation(); }
    });
    document.addEventListener("mousedown", function (event) {
      if (details.open && !details.contains(event.target)) { details.open = false; }
    });
  }

  grid.hooks.status.push(render);
  grid.selection = {
    all: function () { return all; },
    chooseAll: chooseAll,
    clear: clear,
    ids: selectedIds
  };
  render();
}());
