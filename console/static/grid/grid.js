// The grid of a model (templates/admin/grid.html): the vendored Tabulator draws the rows
// (virtual DOM, frozen header, resizable columns); this file adds what a spreadsheet
// user expects and what the console promises: a focused cell moved by Excel's keys,
// typed editors per column kind, copy and paste of tab-separated blocks, keyset pages
// loaded as the user scrolls, and every edit sent to the server as one batch that is
// saved whole or not at all (console/admin/grid.py). Rows keep the token of what was
// loaded; a save hands back each row's new token, so consecutive edits never conflict
// with oneself.
(function () {
  "use strict";

  // One grid on ``root``. The page's grid is made at the end of this file; grid-detail.js
  // makes its children's grid with the same function. ``parts``: the grid's status
  // elements, the prefix of its element ids, its height. (The body is not indented
  // under it, so that this file's history stays readable.)
  function createGrid(root, config, parts) {
  // Every column, in the account's saved order (grid-layout.js keeps the layout); the
  // grid's positions (``columns``, ``colIndex``) count only the shown ones.
  var layout = (config.layouts && config.layouts.current) || {order: [], hidden: [], widths: {}};
  var byKey = {};
  config.columns.forEach(function (col) { byKey[col.key] = col; });
  var allColumns = layout.order.filter(function (key) { return byKey[key]; }).map(function (key) { return byKey[key]; });
  config.columns.forEach(function (col) { if (allColumns.indexOf(col) < 0) { allColumns.push(col); } });
  var columns = allColumns.filter(function (col) { return layout.hidden.indexOf(col.key) < 0; });
  var colIndex = {};
  columns.forEach(function (col, i) { colIndex[col.key] = i; });

  var state = {
    order: [],            // row ids in display order
    pos: new Map(),       // row id -> index in order
    next: null,           // keyset cursor of the next page (null: none asked yet)
    done: false,
    // After a jump to the end (Ctrl+End): the loaded rows are a window of the ordering.
    prev: null,           // keyset cursor of the page before the first loaded row
    atStart: true,        // the first loaded row is the first row of the ordering
    offset: 0,            // the real position of the first loaded row (null: not known)
    loadingBefore: null,
    generation: 0,        // bumped whenever the loaded rows are dropped
    loading: null,
    count: null,
    focus: {row: 0, col: 0},
    anchor: null,         // the other corner of a range selection, or null
    pending: new Map(),   // row id -> {column key -> {value, label, byKey}}
    problems: new Map(),  // row id -> {column key or "" -> message}
    conflicts: new Map(), // row id -> {message, theirs}
    sending: null,
    again: false,
    newRows: 0,
    editor: null,
    sort: config.sort,
    descending: config.descending,
    search: config.search
  };

  var MIN_WIDTHS = {text: 160, reference: 150, datetime: 140, date: 110, choice: 90, boolean: 90, number: 70};
  var TRUE_WORDS = ["true", "yes", "1", "y", "t", "on"];
  var FALSE_WORDS = ["false", "no", "0", "n", "f", "off"];
  var ids = parts.prefix;
  var statusCount = parts.count;
  var statusSelection = parts.selection;
  var statusPending = parts.pending;
  var statusMessage = parts.message;
  var wrap = document.createElement("div");
  wrap.className = "console-grid-wrap";
  root.parentNode.insertBefore(wrap, root);
  wrap.appendChild(root);
  var panel = document.createElement("div");
  panel.className = "grid-panel";
  panel.id = ids + "-panel";
  panel.setAttribute("role", "alert");
  panel.hidden = true;
  wrap.appendChild(panel);

  // -- what a cell shows ------------------------------------------------------------------

  function pendingOf(id, key) {
    var row = state.pending.get(id);
    return row && Object.prototype.hasOwnProperty.call(row, key) ? row[key] : null;
  }

  function shown(col, data, key) {
    var pend = pendingOf(data._id, key);
    if (pend && col.editor === "boolean") {
      // Shown as the rule will read it (rules.parse_bool); the server still decides.
      var word = String(pend.value || "").trim().toLowerCase();
      return TRUE_WORDS.indexOf(word) >= 0 ? "Yes" : FALSE_WORDS.indexOf(word) >= 0 || !word ? "No" : pend.value;
    }
    if (pend) { return pend.label !== undefined && pend.label !== null ? pend.label : (pend.value || ""); }
    return plain(col, data, key);
  }

  function plain(col, data, key) {
    // What the row holds as loaded (or saved), without the user's unsaved edits.
    var value = data[key];
    if (value === undefined || value === null) { return ""; }
    if (col.editor === "reference") { return (data._labels && data._labels[key]) || value; }
    if (col.editor === "boolean") { return value === "true" ? "Yes" : value === "false" ? "No" : value; }
    if (col.editor === "datetime") { return value.replace("T", " ").slice(0, 16); }
    return value;
  }

  function copied(col, data, key) {
    // What the clipboard gets: what a paste (or an import) reads back.
    var pend = pendingOf(data._id, key);
    if (pend) { return pend.byKey || col.editor !== "reference" ? (pend.value || "") : (pend.label || ""); }
    if (col.editor === "reference") { return (data._keys && data._keys[key]) || ""; }
    var value = data[key];
    return value === undefined || value === null ? "" : value;
  }

  function cellId(row, col) { return ids + "-cell-" + row + "-" + col; }

  function problemOf(id, key) {
    var found = state.problems.get(id);
    if (!found) { return null; }
    if (found[key]) { return found[key]; }
    if (found[""] && pendingOf(id, key)) { return found[""]; }
    return null;
  }

  function inRange(r, c) {
    if (!state.anchor) { return false; }
    var a = state.anchor, f = state.focus;
    return r >= Math.min(a.row, f.row) && r <= Math.max(a.row, f.row) &&
      c >= Math.min(a.col, f.col) && c <= Math.max(a.col, f.col);
  }

  function decorate(el, id, c) {
    var r = state.pos.get(id);
    var col = columns[c];
    var key = col.key;
    var focused = r === state.focus.row && c === state.focus.col;
    var problem = problemOf(id, key);
    var conflict = state.conflicts.get(id);
    var conflicted = !!(conflict && pendingOf(id, key));
    el.id = cellId(r, c);
    el.setAttribute("data-id", String(id));
    el.setAttribute("data-row", String(r));
    el.setAttribute("data-col", String(c));
    el.setAttribute("aria-colindex", String(c + 1));
    el.setAttribute("aria-selected", focused || inRange(r, c) ? "true" : "false");
    if (!col.editable) { el.setAttribute("aria-readonly", "true"); } else { el.removeAttribute("aria-readonly"); }
    el.classList.toggle("grid-focus", focused);
    el.classList.toggle("grid-in-range", inRange(r, c));
    el.classList.toggle("grid-pending", !!pendingOf(id, key));
    el.classList.toggle("grid-problem", !!problem && !conflicted);
    el.classList.toggle("grid-conflict", conflicted);
    if (problem && !conflicted) { el.setAttribute("title", problem); }
    else if (conflicted) { el.setAttribute("title", conflict.message); }
    else { el.removeAttribute("title"); }
    if (problem) { el.setAttribute("aria-invalid", "true"); } else { el.removeAttribute("aria-invalid"); }
  }

  function formatCell(cell) {
    var data = cell.getRow().getData();
    var key = cell.getField();
    var c = colIndex[key];
    var col = byKey[key];
    var el = cell.getElement();
    if (c !== undefined) { decorate(el, data._id, c); }
    else { el.setAttribute("data-col", ""); el.setAttribute("data-id", String(data._id)); el.setAttribute("data-row", String(state.pos.get(data._id))); }
    var text = shown(col, data, key);
    var conflict = state.conflicts.get(data._id);
    if (conflict && conflict.theirs && pendingOf(data._id, key)) {
      // Theirs next to yours, inside the cell's own width (the panel has the details).
      var box = document.createElement("span");
      box.className = "grid-versions";
      var yours = document.createElement("span");
      yours.className = "grid-yours";
      yours.textContent = text;
      var theirs = document.createElement("span");
      theirs.className = "grid-theirs";
      theirs.textContent = "theirs: " + (plain(col, toData(conflict.theirs), key) || "(empty)");
      box.appendChild(yours);
      box.appendChild(theirs);
      return box;
    }
    return document.createTextNode(text);
  }

  function toData(row) {
    var data = {_id: row.id, _token: row.token, _labels: row.labels || {}, _keys: row.keys || {}};
    allColumns.forEach(function (col) { data[col.key] = row.values ? row.values[col.key] : ""; });
    return data;
  }

  function decorateVisible() {
    Array.prototype.forEach.call(root.querySelectorAll(".tabulator-cell[data-col]"), function (el) {
      // By the cell's row id and field: rows loaded above, or a moved or hidden column,
      // change the positions.
      var id = el.getAttribute("data-id");
      var r = state.pos.get(id);
      var c = colIndex[el.getAttribute("tabulator-field")];
      if (r !== undefined && c !== undefined) { decorate(el, id, c); }
      else if (c === undefined) { el.removeAttribute("id"); }
      if (r !== undefined && el.parentNode) { rowIndex(el.parentNode, r); }
    });
    var el = document.getElementById(cellId(state.focus.row, state.focus.col));
    if (el) { root.setAttribute("aria-activedescendant", el.id); } else { root.removeAttribute("aria-activedescendant"); }
    showPanel();
    showStatus();
    var now = state.order[state.focus.row];
    if (now !== focusedRow) {
      focusedRow = now;
      hooks.focused.forEach(function (hook) { hook(now); });
    }
  }

  function rowIndex(el, r) {
    // aria-rowindex is the real position (the header is 1); unknown in a window at the
    // end of an estimated count, where it is left out rather than made up.
    if (state.offset === null) { el.removeAttribute("aria-rowindex"); }
    else { el.setAttribute("aria-rowindex", String(state.offset + r + 2)); }
  }

  function redrawRow(id) {
    var row = table.getRow(id);
    if (row) { row.reformat(); }
  }

  // -- the table ----------------------------------------------------------------------------

  var table = new Tabulator(root, {
    // ``parts.maxHeight`` instead: as tall as its rows up to that (grid-inline.js's grids).
    height: parts.maxHeight ? undefined : parts.height || "calc(100vh - 12rem)",
    maxHeight: parts.maxHeight,
    layout: "fitDataFill",
    index: "_id",
    data: [],
    placeholder: "No rows match.",
    renderVertical: "virtual",
    keybindings: false,
    movableColumns: true,
    columnDefaults: {headerSort: false, resizable: true, minWidth: 60, maxWidth: 480},
    columns: allColumns.map(function (col, i) {
      return {
        visible: layout.hidden.indexOf(col.key) < 0,
        width: layout.widths[col.key],
        title: col.label,
        field: col.key,
        formatter: formatCell,
        hozAlign: col.numeric ? "right" : "left",
        frozen: i === 0,
        // Widths for what an edit or a paste may put there, not only what was loaded.
        minWidth: MIN_WIDTHS[col.editor] || 80,
        cssClass: "grid-col-" + col.editor
      };
    }),
    rowFormatter: function (row) {
      var id = row.getData()._id;
      var r = state.pos.get(id);
      if (r !== undefined) { rowIndex(row.getElement(), r); }
    }
  });

  table.on("tableBuilt", function () {
    root.setAttribute("tabindex", "0");
    root.setAttribute("aria-multiselectable", "true");
    root.setAttribute("aria-colcount", String(columns.length));
    var holder = root.querySelector(".tabulator-tableholder");
    // One tab stop for the whole grid (WAI-ARIA): the holder is reached through it.
    if (holder) { holder.setAttribute("tabindex", "-1"); }
    var headerRow = root.querySelector(".tabulator-headers");
    if (headerRow) { headerRow.setAttribute("aria-rowindex", "1"); }
    markHeaders();
    loadPage();
  });

  table.on("cellClick", function (event, cell) {
    var r = state.pos.get(cell.getRow().getData()._id);
    var c = colIndex[cell.getField()];
    if (r === undefined || c === undefined) { return; }
    finishEdit(true);
    moveTo(r, c, event.shiftKey);
    root.focus({preventScroll: true});
  });

  table.on("cellDblClick", function (event, cell) {
    var r = state.pos.get(cell.getRow().getData()._id);
    var c = colIndex[cell.getField()];
    if (r === undefined || c === undefined) { return; }
    moveTo(r, c, false);
    startEdit(null);
  });

  table.on("headerClick", function (event, column) {
    var col = columns[colIndex[column.getField()]];
    if (!col || !col.sortable) { return; }
    if (state.sort === col.key) { state.descending = !state.descending; }
    else { state.sort = col.key; state.descending = false; }
    reload();
  });

  table.on("scrollVertical", function () {
    positionEditor();
    var holder = root.querySelector(".tabulator-tableholder");
    if (holder && holder.scrollHeight - holder.scrollTop - holder.clientHeight < holder.clientHeight * 2) {
      loadPage();
    }
    if (holder && holder.scrollTop < holder.clientHeight * 2) { loadBefore(); }
    decorateVisible();
  });
  table.on("scrollHorizontal", positionEditor);
  table.on("renderComplete", decorateVisible);

  function markHeaders() {
    table.getColumns().forEach(function (column) {
      var c = colIndex[column.getField()];
      var el = column.getElement();
      var col = columns[c];
      if (!col) { return; }
      el.setAttribute("aria-colindex", String(c + 1));
      el.classList.toggle("grid-sortable", !!col.sortable);
      if (col.sortable && state.sort === col.key) {
        el.setAttribute("aria-sort", state.descending ? "descending" : "ascending");
      } else {
        el.removeAttribute("aria-sort");
      }
      var title = el.querySelector(".tabulator-col-title");
      if (title) {
        title.textContent = col.label + (col.sortable && state.sort === col.key ? (state.descending ? " ▼" : " ▲") : "");
        el.setAttribute("title", col.sortable ? "Sort by " + col.label : col.label);
      }
    });
  }

  // -- loading keyset pages -------------------------------------------------------------------

  function rowsUrl(extra) {
    var params = new URLSearchParams(config.query);
    params.delete("page");
    params.delete("after");
    params.delete("before");
    if (state.sort) {
      params.set("sort", String(byKey[state.sort].sortIndex));
      if (state.descending) { params.set("desc", "1"); } else { params.delete("desc"); }
    } else {
      params.delete("sort");
      params.delete("desc");
    }
    if (state.search) { params.set("search", state.search); } else { params.delete("search"); }
    params.set("limit", String(config.pageSize));
    params.delete("last");
    if (extra) { Object.keys(extra).forEach(function (k) { params.set(k, extra[k]); }); }
    else if (state.next) { params.set("after", state.next); }
    return config.rowsUrl + "?" + params.toString();
  }

  function remember(ids) {
    ids.forEach(function (id) {
      state.pos.set(id, state.order.length);
      state.order.push(id);
    });
  }

  function loadPage() {
    if (state.loading) { return state.loading; }
    if (state.done) { return Promise.resolve(false); }
    var first = state.next === null && state.order.length === 0;
    var round = reloads;
    state.loading = fetch(rowsUrl(), {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.error || "The rows could not be loaded."); }
          return body;
        });
      })
      .then(function (body) {
        // A page asked before a reload (another sort, search or parent) is not these rows.
        if (round !== reloads) { return false; }
        var data = body.rows.map(toData);
        remember(data.map(function (d) { return d._id; }));
        if (body.count) { state.count = body.count; state.matching = body.matching; }
        state.next = body.next;
        state.done = !body.next;
        root.setAttribute("aria-rowcount", state.count && state.count.exact ? String(state.count.value + 1) : "-1");
        var added = first ? table.setData(data) : table.addData(data, false);
        return Promise.resolve(added).then(function () {
          if (round !== reloads) { return false; }
          state.loading = null;
          decorateVisible();
          var holder = root.querySelector(".tabulator-tableholder");
          if (!state.done && holder && holder.scrollHeight <= holder.clientHeight * 2) { return loadPage(); }
          return true;
        });
      })
      .catch(function (error) {
        if (round !== reloads) { return false; }
        state.loading = null;
        say(error.message || "The rows could not be loaded.");
        return false;
      });
    return state.loading;
  }

  function fetchRows(url) {
    return fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.error || "The rows could not be loaded."); }
          return body;
        });
      });
  }

  function loadBefore() {
    // The page before the first loaded row, after a jump to the end: put above, with
    // every position (focus, range, editor) moved down by the rows it brings.
    if (state.loadingBefore || state.atStart || !state.prev || state.loading) { return state.loadingBefore || Promise.resolve(false); }
    var holder = root.querySelector(".tabulator-tableholder");
    var rows = state.generation;
    state.loadingBefore = fetchRows(rowsUrl({before: state.prev})).then(function (body) {
      // The rows were dropped meanwhile (Ctrl+Home, a new search): this page is not theirs.
      if (rows !== state.generation) { return false; }
      var data = body.rows.map(toData);
      var k = data.length;
      var ids = data.map(function (d) { return d._id; });
      state.order = ids.concat(state.order);
      state.pos = new Map();
      state.order.forEach(function (id, i) { state.pos.set(id, i); });
      state.focus = {row: state.focus.row + k, col: state.focus.col};
      if (state.anchor) { state.anchor = {row: state.anchor.row + k, col: state.anchor.col}; }
      if (state.editor) { state.editor.row += k; }
      if (state.offset !== null) { state.offset = Math.max(0, state.offset - k); }
      state.prev = body.prev;
      state.atStart = !body.prev;
      if (state.atStart) { state.offset = 0; }
      var top = holder ? holder.scrollTop : 0;
      var height = holder ? holder.scrollHeight : 0;
      return Promise.resolve(table.addData(data, true)).then(function () {
        // Keep the rows in view where they were (the new ones are above them).
        if (holder) { holder.scrollTop = top + (holder.scrollHeight - height); }
        state.loadingBefore = null;
        decorateVisible();
        return true;
      });
    }).catch(function (error) {
      state.loadingBefore = null;
      say(error.message || "The rows could not be loaded.");
      return false;
    });
    return state.loadingBefore;
  }

  function dropRows() {
    // Forget the loaded rows (a reload, a jump); false when the user keeps unsaved edits.
    if (state.pending.size && !window.confirm("Unsaved changes will be lost. Continue?")) { return false; }
    finishEdit(false);
    // A page still on its way (loadPage) belongs to the rows dropped here.
    reloads += 1;
    state.loading = null;
    state.generation += 1;
    state.loadingBefore = null;
    state.order = [];
    state.pos = new Map();
    state.next = null;
    state.done = false;
    state.prev = null;
    state.atStart = true;
    state.offset = 0;
    state.count = null;
    state.pending.clear();
    state.problems.clear();
    state.conflicts.clear();
    state.focus = {row: 0, col: 0};
    state.anchor = null;
    state.newRows = 0;
    return true;
  }

  function jumpToEnd(col) {
    // Ctrl+End: the real last row, without loading the rows between (``last=1``).
    if (state.done) { moveTo(lastRow(), col, false); return Promise.resolve(true); }
    if (state.loading || state.loadingBefore) {
      return Promise.resolve(state.loading || state.loadingBefore).then(function () { return jumpToEnd(col); });
    }
    var url = rowsUrl({last: "1"});
    if (!dropRows()) { return Promise.resolve(false); }
    say("");
    state.loading = fetchRows(url).then(function (body) {
      var data = body.rows.map(toData);
      remember(data.map(function (d) { return d._id; }));
      state.count = body.count || null;
      state.matching = body.matching;
      state.done = true;
      state.prev = body.prev;
      state.atStart = !body.prev;
      state.offset = state.atStart ? 0 : state.count && state.count.exact ? state.count.value - data.length : null;
      return Promise.resolve(table.setData(data)).then(function () {
        state.loading = null;
        moveTo(lastRow(), col, false);
        return true;
      });
    }).catch(function (error) {
      state.loading = null;
      say(error.message || "The rows could not be loaded.");
      return false;
    });
    return state.loading;
  }

  // A range stretched to an end by Ctrl+Shift+End / Ctrl+Shift+Home loads the rows up to
  // it, at most this many rows in all: beyond, "Select all N matching" is the selection.
  var RANGE_LIMIT = config.rangeLimit || 10000;

  function rangeStopped() {
    var rows = Math.abs(state.focus.row - state.anchor.row) + 1;
    say("The range stops at " + rows.toLocaleString("en") + " rows"
        + (state.matching !== undefined ? ": \"Select all matching\" takes every row." : "."));
  }

  function selectToEnd() {
    // Ctrl+Shift+End: from the anchor (or the focused cell) to the real last row and column.
    // The anchor is set first: rows loaded meanwhile keep it; a move meanwhile drops it,
    // and then the range is not stretched.
    if (!state.order.length) { return Promise.resolve(false); }
    state.anchor = state.anchor || {row: state.focus.row, col: state.focus.col};
    var rows = state.generation;
    if (!state.done) { say("Loading the rows to the end…", true); }
    return ensureRows(RANGE_LIMIT).then(function () {
      if (rows !== state.generation || !state.anchor) { return false; }
      moveTo(lastRow(), columns.length - 1, true);
      if (state.done) { say(""); } else { rangeStopped(); }
      return true;
    });
  }

  function ensureBefore(limit) {
    // Load pages above the window (after Ctrl+End) until its start or ``limit`` rows.
    if (state.atStart || state.order.length >= limit) { return Promise.resolve(); }
    if (state.loading) { return Promise.resolve(state.loading).then(function () { return ensureBefore(limit); }); }
    return loadBefore().then(function (ok) { return ok === false ? null : ensureBefore(limit); });
  }

  function selectToStart() {
    // Ctrl+Shift+Home: from the anchor (or the focused cell) to the real first row and column.
    // Rows loaded above move the anchor down with them (loadBefore).
    if (!state.order.length) { return Promise.resolve(false); }
    state.anchor = state.anchor || {row: state.focus.row, col: state.focus.col};
    var rows = state.generation;
    if (!state.atStart) { say("Loading the rows to the start…", true); }
    return ensureBefore(RANGE_LIMIT).then(function () {
      if (rows !== state.generation || !state.anchor) { return false; }
      moveTo(0, 0, true);
      if (state.atStart) { say(""); } else { rangeStopped(); }
      return true;
    });
  }

  function jumpToStart(col) {
    // Ctrl+Home: the first row; after a jump to the end, the list read again from its start.
    if (state.atStart) { moveTo(0, col, false); return Promise.resolve(true); }
    if (!dropRows()) { return Promise.resolve(false); }
    table.clearData();
    return loadPage().then(function () { moveTo(0, col, false); return true; });
  }

  var rowData = new Map();
  var reloads = 0;
  // Listeners of grid-undo.js: every edit made pending, every batch saved (with the rows before).
  // And of grid-detail.js: the focus moved to another row (its id, or undefined).
  var hooks = {edited: [], saved: [], status: [], focused: []};
  var focusedRow;
  function dataOf(id) { var row = table.getRow(id); return row ? row.getData() : rowData.get(id); }

  function ensureRows(n) {
    // Load pages until ``n`` rows are loaded or there are no more.
    if (state.order.length >= n || state.done) { return Promise.resolve(); }
    return loadPage().then(function (ok) { return ok === false ? null : ensureRows(n); });
  }

  function reload() {
    if (!dropRows()) { return false; }
    markHeaders();
    table.clearData();
    loadPage();
    return true;
  }

  // -- focus and movement ---------------------------------------------------------------------

  function lastRow() { return state.order.length - 1; }

  function moveTo(r, c, extend) {
    if (!state.order.length) { return; }
    r = Math.max(0, Math.min(lastRow(), r));
    c = Math.max(0, Math.min(columns.length - 1, c));
    if (extend) { if (!state.anchor) { state.anchor = {row: state.focus.row, col: state.focus.col}; } }
    else { state.anchor = null; }
    state.focus = {row: r, col: c};
    scrollToFocus();
    decorateVisible();
    if (r >= lastRow() - 5) { loadPage(); }
    if (r <= 5) { loadBefore(); }
  }

  function scrollToFocus() {
    var id = state.order[state.focus.row];
    if (id === undefined) { return; }
    var done = function () {
      var el = document.getElementById(cellId(state.focus.row, state.focus.col));
      if (el) { el.scrollIntoView({block: "nearest", inline: "nearest"}); }
      decorateVisible();
    };
    Promise.resolve(table.scrollToRow(id, "nearest", false)).then(done, done);
  }

  function pageRows() {
    var holder = root.querySelector(".tabulator-tableholder");
    var row = root.querySelector(".tabulator-row");
    var height = row ? row.offsetHeight : 28;
    return Math.max(1, Math.floor((holder ? holder.clientHeight : 400) / height) - 1);
  }

  function currentData() {
    var id = state.order[state.focus.row];
    return id === undefined ? null : dataOf(id);
  }

  root.addEventListener("keydown", function (event) {
    if (state.editor || event.target !== root) { return; }
    var f = state.focus;
    var ctrl = event.ctrlKey || event.metaKey;
    var handled = true;
    switch (event.key) {
      case "ArrowUp":
        if (!ctrl && f.row === 0 && !state.atStart) {
          loadBefore().then(function () { moveTo(state.focus.row - 1, state.focus.col, event.shiftKey); });
        } else if (ctrl && !event.shiftKey) { jumpToStart(f.col); }
        else { moveTo(ctrl ? 0 : f.row - 1, f.col, event.shiftKey); }
        break;
      case "ArrowDown":
        if (!ctrl && f.row >= lastRow() && !state.done) {
          loadPage().then(function () { moveTo(f.row + 1, f.col, event.shiftKey); });
        } else if (!ctrl && !event.shiftKey && f.row >= lastRow() && roomBelow()) {
          // Below the real last row: a new empty row, as a spreadsheet has one there.
          addNewRow();
          moveTo(lastRow(), state.order.length === 1 ? firstEditable() : f.col, false);
          showStatus();
        } else if (ctrl && !event.shiftKey) { jumpToEnd(f.col); }
        else { moveTo(ctrl ? lastRow() : f.row + 1, f.col, event.shiftKey); }
        break;
      case "ArrowLeft": moveTo(f.row, ctrl ? 0 : f.col - 1, event.shiftKey); break;
      case "ArrowRight": moveTo(f.row, ctrl ? columns.length - 1 : f.col + 1, event.shiftKey); break;
      case "Tab":
        // Tab moves right (Shift+Tab left); from the last (first) column it leaves the grid.
        if (event.shiftKey ? f.col === 0 : f.col === columns.length - 1) { handled = false; break; }
        moveTo(f.row, f.col + (event.shiftKey ? -1 : 1), false);
        break;
      // Ctrl+Home / Ctrl+End: the real first and last rows (Shift: the range to them).
      case "Home":
        if (ctrl && !event.shiftKey) { jumpToStart(0); }
        else if (ctrl) { selectToStart(); }
        else { moveTo(f.row, 0, event.shiftKey); }
        break;
      case "End":
        if (ctrl && !event.shiftKey) { jumpToEnd(columns.length - 1); }
        else if (ctrl) { selectToEnd(); }
        else { moveTo(f.row, columns.length - 1, event.shiftKey); }
        break;
      case "PageDown": moveTo(f.row + pageRows(), f.col, event.shiftKey); break;
      case "PageUp":
        if (f.row - pageRows() < 0 && !state.atStart) {
          loadBefore().then(function () { moveTo(state.focus.row - pageRows(), state.focus.col, event.shiftKey); });
        } else { moveTo(f.row - pageRows(), f.col, event.shiftKey); }
        break;
      case "Enter": case "F2":
        if (!state.order.length && roomBelow()) { addNewRow(); moveTo(0, firstEditable(), false); showStatus(); }
        else { startEdit(null); }
        break;
      case "Escape":
        state.anchor = null;
        decorateVisible();
        break;
      case " ":
        if (columns[f.col].editor === "boolean") { toggle(); } else { startEdit(" "); }
        break;
      case "Delete": case "Backspace": clearCells(); break;
      case "a": case "A":
        if (ctrl) {
          state.anchor = {row: 0, col: 0};
          state.focus = {row: lastRow(), col: columns.length - 1};
          decorateVisible();
        } else { handled = typed(event); }
        break;
      default:
        handled = !ctrl && !event.altKey && typed(event);
    }
    if (handled) { event.preventDefault(); }
  });

  function typed(event) {
    if (event.key.length !== 1 || event.ctrlKey || event.metaKey || event.altKey) { return false; }
    startEdit(event.key);
    return true;
  }

  // -- editing ----------------------------------------------------------------------------------

  function say(message, good) {
    // Refusals in red; "Saved." and "Copied" are news, not alarms.
    statusMessage.textContent = message || "";
    statusMessage.className = good ? "text-success" : "text-danger";
  }

  function editableHere(c, id) {
    var col = columns[c];
    if (!config.canEdit) { say(config.readOnly); return false; }
    if (!col.editable) { say(col.label + " cannot be edited here."); return false; }
    if (id === undefined) { return false; }
    return true;
  }

  function currentText(col, data) {
    var pend = pendingOf(data._id, col.key);
    if (pend) { return col.editor === "reference" ? (pend.label || "") : (pend.value || ""); }
    if (col.editor === "reference") { return (data._labels && data._labels[col.key]) || ""; }
    var value = data[col.key];
    return value === undefined || value === null ? "" : value;
  }

  function startEdit(initial) {
    var f = state.focus;
    var id = state.order[f.row];
    if (!editableHere(f.col, id)) { return; }
    var col = columns[f.col];
    var data = dataOf(id);
    var start = currentText(col, data);
    var box = document.createElement("div");
    box.className = "grid-editor-box";
    var input;
    if (col.editor === "choice" || col.editor === "boolean") {
      input = document.createElement("select");
      var options = col.editor === "boolean" ? [["true", "Yes"], ["false", "No"]] :
        col.choices.map(function (c) { return [c, c]; });
      if (col.nullable && col.editor !== "boolean") { options.unshift(["", "(empty)"]); }
      options.forEach(function (pair) {
        var option = document.createElement("option");
        option.value = pair[0];
        option.textContent = pair[1];
        input.appendChild(option);
      });
      input.value = start;
      if (initial && initial.trim()) {
        var wanted = initial.toLowerCase();
        var match = options.filter(function (p) { return p[1].toLowerCase().indexOf(wanted) === 0; })[0];
        if (match) { input.value = match[0]; }
      }
    } else {
      input = document.createElement("input");
      input.type = "text";
      input.value = initial !== null ? initial : start;
      input.setAttribute("placeholder", col.editor === "date" ? "YYYY-MM-DD" : col.hint);
      input.setAttribute("autocomplete", "off");
    }
    input.className = "grid-editor form-control form-control-sm";
    input.setAttribute("aria-label", col.label);
    box.appendChild(input);
    var editor = {row: f.row, col: f.col, id: id, input: input, box: box, start: start, choice: null, list: null};
    if (col.editor === "date") { addDatePicker(editor); }
    if (col.editor === "reference") { addLookup(editor, col); }
    state.editor = editor;
    wrap.appendChild(box);
    positionEditor();
    input.focus();
    if (initial === null && input.select) { input.select(); }
    if (initial !== null && input.setSelectionRange) { input.setSelectionRange(input.value.length, input.value.length); }
    if (col.editor === "reference" && initial !== null) { editor.search(); }
    input.addEventListener("keydown", function (event) { editorKey(event, editor); });
    input.addEventListener("blur", function () {
      // A click elsewhere commits, as in a spreadsheet (not a click in its own list).
      setTimeout(function () {
        if (state.editor === editor && !box.contains(document.activeElement)) { finishEdit(true); }
      }, 150);
    });
  }

  function positionEditor() {
    var editor = state.editor;
    if (!editor) { return; }
    var el = document.getElementById(cellId(editor.row, editor.col));
    if (!el) { editor.box.style.display = "none"; return; }
    var cell = el.getBoundingClientRect();
    var outer = wrap.getBoundingClientRect();
    editor.box.style.display = "";
    editor.box.style.left = (cell.left - outer.left) + "px";
    editor.box.style.top = (cell.top - outer.top) + "px";
    editor.box.style.minWidth = Math.max(cell.width, 140) + "px";
    editor.box.style.height = cell.height + "px";
  }

  function editorKey(event, editor) {
    var col = columns[editor.col];
    if (editor.list && !editor.list.hidden && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      editor.highlight(event.key === "ArrowDown" ? 1 : -1);
      event.preventDefault();
      return;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      finishEdit(false);
      root.focus({preventScroll: true});
      return;
    }
    if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      if (col.editor === "reference" && !editor.resolve()) { return; }
      finishEdit(true);
      var f = state.focus;
      if (event.key === "Enter") {
        var down = f.row + (event.shiftKey ? -1 : 1);
        if (!event.shiftKey && down > lastRow() && !state.done) {
          loadPage().then(function () { moveTo(down, f.col, false); });
        } else {
          moveTo(down, f.col, false);
        }
      } else {
        moveTo(f.row, f.col + (event.shiftKey ? -1 : 1), false);
      }
      root.focus({preventScroll: true});
    }
  }

  function finishEdit(commit) {
    var editor = state.editor;
    if (!editor) { return; }
    state.editor = null;
    if (editor.box.parentNode) { editor.box.parentNode.removeChild(editor.box); }
    if (!commit) { return; }
    var col = columns[editor.col];
    if (col.editor === "reference") {
      // Leaving the cell by a click commits what was typed, as Enter would.
      if (!editor.choice && editor.resolve) { editor.resolve(); }
      if (!editor.choice) { return; }
      setCells([{id: editor.id, key: col.key, value: editor.choice.value, label: editor.choice.label,
                 byKey: editor.choice.byKey}]);
      return;
    }
    var value = editor.input.value;
    if (value === editor.start) { return; }
    setCells([{id: editor.id, key: col.key, value: value === "" ? null : value, label: null, byKey: false}]);
  }

  function addDatePicker(editor) {
    // Typed ISO dates are what the cell reads; the browser's picker is a shortcut to one.
    var picker = document.createElement("input");
    picker.type = "date";
    picker.className = "grid-date-picker";
    picker.tabIndex = -1;
    picker.setAttribute("aria-label", "Pick a date");
    if (/^\d{4}-\d{2}-\d{2}$/.test(editor.input.value)) { picker.value = editor.input.value; }
    picker.addEventListener("change", function () {
      editor.input.value = picker.value;
      editor.input.focus();
    });
    editor.box.appendChild(picker);
  }

  function addLookup(editor, col) {
    var list = document.createElement("ul");
    list.className = "grid-lookup";
    list.setAttribute("role", "listbox");
    list.id = ids + "-lookup";
    list.hidden = true;
    editor.box.appendChild(list);
    editor.list = list;
    editor.options = [];
    editor.active = -1;
    editor.input.setAttribute("role", "combobox");
    editor.input.setAttribute("aria-controls", list.id);
    editor.input.setAttribute("aria-expanded", "false");
    editor.input.setAttribute("aria-autocomplete", "list");
    var timer = null;
    var asked = 0;
    editor.search = function () {
      if (!col.lookup) { return; }
      var query = editor.input.value;
      var ticket = ++asked;
      fetch(config.lookupUrl + "?" + new URLSearchParams({name: col.lookup, query: query, limit: "10"}),
            {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (found) {
          if (ticket !== asked || state.editor !== editor) { return; }
          editor.options = found;
          editor.active = found.length ? 0 : -1;
          render();
        })
        .catch(function () { /* the typed text still resolves by the parent's key on save */ });
    };
    function render() {
      list.textContent = "";
      editor.options.forEach(function (pair, i) {
        var item = document.createElement("li");
        item.setAttribute("role", "option");
        item.id = ids + "-lookup-" + i;
        item.textContent = pair[1];
        item.setAttribute("aria-selected", i === editor.active ? "true" : "false");
        item.addEventListener("mousedown", function (event) {
          event.preventDefault();
          editor.active = i;
          editor.resolve();
          finishEdit(true);
          root.focus({preventScroll: true});
        });
        list.appendChild(item);
      });
      list.hidden = !editor.options.length;
      editor.input.setAttribute("aria-expanded", list.hidden ? "false" : "true");
      if (editor.active >= 0) { editor.input.setAttribute("aria-activedescendant", ids + "-lookup-" + editor.active); }
      else { editor.input.removeAttribute("aria-activedescendant"); }
    }
    editor.highlight = function (step) {
      if (!editor.options.length) { return; }
      editor.active = (editor.active + step + editor.options.length) % editor.options.length;
      render();
    };
    editor.resolve = function () {
      // The highlighted match, an emptied cell, or the text as the parent's natural key.
      var text = editor.input.value.trim();
      if (text === editor.start) { editor.choice = null; return true; }
      if (!text) { editor.choice = {value: null, label: "", byKey: false}; return true; }
      var pick = editor.options[editor.active];
      if (pick && !list.hidden) {
        editor.choice = {value: String(pick[0]), label: pick[1], byKey: false};
        return true;
      }
      editor.choice = {value: text, label: text, byKey: true};
      return true;
    };
    editor.input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(editor.search, 150);
    });
  }

  function toggle() {
    var f = state.focus;
    var id = state.order[f.row];
    if (!editableHere(f.col, id)) { return; }
    var col = columns[f.col];
    var now = currentText(col, dataOf(id));
    setCells([{id: id, key: col.key, value: now === "true" ? "false" : "true", label: null, byKey: false}]);
  }

  function rangeCells() {
    var a = state.anchor || state.focus, f = state.focus;
    var out = [];
    for (var r = Math.min(a.row, f.row); r <= Math.max(a.row, f.row); r++) {
      for (var c = Math.min(a.col, f.col); c <= Math.max(a.col, f.col); c++) { out.push({row: r, col: c}); }
    }
    return out;
  }

  function clearCells() {
    if (!config.canEdit) { say(config.readOnly); return; }
    var edits = [];
    var refused = [];
    rangeCells().forEach(function (spot) {
      var col = columns[spot.col];
      var id = state.order[spot.row];
      if (!col.editable || id === undefined) { return; }
      if (!col.nullable) { if (refused.indexOf(col.label) < 0) { refused.push(col.label); } return; }
      edits.push({id: id, key: col.key, value: null, label: "", byKey: false});
    });
    if (refused.length) { say(refused.join(", ") + " cannot be empty."); }
    if (edits.length) { setCells(edits); }
  }

  // -- the batch ----------------------------------------------------------------------------------

  function setCells(edits) {
    markPending(edits);
    save();
  }

  function markPending(edits) {
    // The edits as unsaved cells, without sending them (an undo refused keeps its values so).
    var touched = new Set();
    edits.forEach(function (edit) {
      var row = state.pending.get(edit.id) || {};
      row[edit.key] = {value: edit.value, label: edit.label, byKey: edit.byKey};
      state.pending.set(edit.id, row);
      var problems = state.problems.get(edit.id);
      if (problems) { delete problems[edit.key]; delete problems[""]; }
      touched.add(edit.id);
    });
    touched.forEach(redrawRow);
    hooks.edited.forEach(function (hook) { hook(edits); });
  }

  function batchBody() {
    var changes = [];
    var creates = [];
    state.pending.forEach(function (cells, id) {
      var data = dataOf(id);
      if (String(id).indexOf("new-") === 0) {
        var values = {};
        var byKey = [];
        Object.keys(cells).forEach(function (key) {
          values[key] = cells[key].value;
          if (cells[key].byKey) { byKey.push(key); }
        });
        creates.push({ref: id, values: values, byKey: byKey});
        return;
      }
      Object.keys(cells).forEach(function (key) {
        changes.push({row: id, token: data._token, column: key, value: cells[key].value, byKey: cells[key].byKey});
      });
    });
    return {changes: changes, creates: creates};
  }

  function save() {
    if (state.sending) { state.again = true; return state.sending; }
    if (!state.pending.size) { showStatus(); return Promise.resolve(); }
    var body = batchBody();
    var sent = new Map();
    state.pending.forEach(function (cells, id) {
      var copy = {};
      Object.keys(cells).forEach(function (k) { copy[k] = cells[k]; });
      sent.set(id, copy);
    });
    say("");
    state.sending = fetch(config.saveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": config.csrf},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {ok: false, problems: [{row: "", column: null, message: "The server's answer was not understood (" + response.status + ")."}]}; });
    }).then(function (answer) {
      state.sending = null;
      if (answer.ok) { saved(answer, sent); } else { refused(answer); }
      if (state.again) { state.again = false; return save(); }
      showStatus();
    }, function () {
      state.sending = null;
      state.again = false;
      say("Not saved: the server could not be reached. Your changes are kept; edit a cell to try again.");
      showStatus();
    });
    showStatus();
    return state.sending;
  }

  function forget(id, sentCells) {
    // Only what was sent is saved: a cell edited again meanwhile stays pending.
    var cells = state.pending.get(id);
    if (!cells) { return; }
    Object.keys(sentCells).forEach(function (key) {
      if (cells[key] === sentCells[key]) { delete cells[key]; }
    });
    if (!Object.keys(cells).length) { state.pending.delete(id); }
  }

  function applyRow(row, sentCells) {
    // A row as the server saved it: its values and new token (no conflict with oneself).
    var table_row = table.getRow(row.id);
    if (table_row) { table_row.update(toData(row)); }
    forget(row.id, sentCells);
    state.problems.delete(row.id);
    state.conflicts.delete(row.id);
    redrawRow(row.id);
  }

  function saved(answer, sent) {
    var before = new Map();
    (answer.rows || []).forEach(function (row) {
      var data = dataOf(row.id);
      if (data) { before.set(row.id, Object.assign({}, data)); }
      applyRow(row, sent.get(row.id) || {});
    });
    Object.keys(answer.created || {}).forEach(function (ref) {
      var row = answer.created[ref];
      var at = state.pos.get(ref);
      var old = table.getRow(ref);
      if (!row || at === undefined) { return; }
      var still = state.pending.get(ref);
      forget(ref, sent.get(ref) || {});
      var left = state.pending.get(ref);
      state.pending.delete(ref);
      state.problems.delete(ref);
      state.order[at] = row.id;
      state.pos.delete(ref);
      state.pos.set(row.id, at);
      if (old) { old.update(toData(row)); }
      if (left && still) { state.pending.set(row.id, left); }
      redrawRow(row.id);
    });
    say(answer.rows && answer.rows.length + Object.keys(answer.created || {}).length ? "Saved." : "", true);
    decorateVisible();
    hooks.saved.forEach(function (hook) { hook(answer, sent, before); });
  }

  function refused(answer) {
    var general = [];
    var touched = new Set();
    (answer.problems || []).forEach(function (problem) {
      if (!problem.row) { general.push(problem.message); return; }
      var found = state.problems.get(problem.row) || {};
      if (problem.conflict) {
        found[""] = (answer.conflicts && answer.conflicts[problem.row] && answer.conflicts[problem.row].message) || problem.message;
      } else {
        found[problem.column || ""] = problem.message;
      }
      state.problems.set(problem.row, found);
      touched.add(problem.row);
    });
    Object.keys(answer.conflicts || {}).forEach(function (id) {
      state.conflicts.set(id, answer.conflicts[id]);
      touched.add(id);
    });
    touched.forEach(redrawRow);
    var cells = 0;
    state.problems.forEach(function (found, id) {
      if (!state.conflicts.has(id)) { cells += Object.keys(found).length; }
    });
    var moved = Object.keys(answer.conflicts || {}).length;
    say("Nothing was saved: " + (general.length ? general.join(" ") + " " : "") +
        (cells ? cells + (cells === 1 ? " cell needs" : " cells need") + " a look (marked). " : "") +
        (moved ? moved + (moved === 1 ? " row was" : " rows were") +
         " changed by someone else since you loaded it: use yours or take theirs." : ""));
    decorateVisible();
  }

  function showStatus() {
    if (state.count) {
      var n = state.count.value + state.newRows;
      root.setAttribute("aria-rowcount", state.count.exact ? String(n + 1) : "-1");
      var label = state.count.exact ? n.toLocaleString("en") : state.count.label;
      var loaded = state.order.length.toLocaleString("en") + " loaded";
      if (!state.atStart) {
        // A window at the end: which rows, where that is known.
        loaded = state.offset !== null ? "rows " + (state.offset + 1).toLocaleString("en") + "–" +
          (state.offset + state.order.length).toLocaleString("en") + " loaded" : "the last " + loaded;
      }
      statusCount.textContent = label + " " + (state.count.exact && n === 1 ? config.singular : config.plural) +
        (state.done && state.atStart ? "" : " · " + loaded);
    }
    var cells = rangeCells();
    var rows = new Set(cells.map(function (c) { return c.row; })).size;
    statusSelection.textContent = state.anchor ? "· Selected: " + rows.toLocaleString("en") + " × " + (cells.length / rows) + " cells" : "";
    var count = 0;
    state.pending.forEach(function (c) { count += Object.keys(c).length; });
    statusPending.textContent = state.sending ? "· Saving…" : count ? "· " + count + " unsaved" : "";
    hooks.status.forEach(function (hook) { hook(); });
  }

  function showPanel() {
    // The focused cell's problem or conflict, under the cell (the cell keeps its width).
    var id = state.order[state.focus.row];
    var col = columns[state.focus.col];
    var problem = id === undefined ? null : problemOf(id, col.key);
    var conflict = id === undefined ? null : state.conflicts.get(id);
    var el = document.getElementById(cellId(state.focus.row, state.focus.col));
    if ((!problem && !conflict) || !el || state.editor) { panel.hidden = true; return; }
    panel.textContent = "";
    var text = document.createElement("div");
    text.textContent = conflict ? conflict.message : problem;
    panel.appendChild(text);
    if (conflict) {
      var mine = document.createElement("button");
      mine.type = "button";
      mine.className = "btn btn-sm btn-outline-primary mr-1";
      mine.textContent = "Use mine";
      mine.id = ids + "-use-mine";
      mine.addEventListener("click", function () { useMine(id); });
      var theirs = document.createElement("button");
      theirs.type = "button";
      theirs.className = "btn btn-sm btn-outline-secondary";
      theirs.textContent = "Take theirs";
      theirs.id = ids + "-take-theirs";
      theirs.addEventListener("click", function () { takeTheirs(id); });
      var buttons = document.createElement("div");
      buttons.className = "mt-1";
      if (conflict.theirs) {
        buttons.appendChild(mine);
      } else {
        // Deleted meanwhile: there is nothing to save over, only edits to drop.
        theirs.textContent = "Drop my edits";
      }
      buttons.appendChild(theirs);
      panel.appendChild(buttons);
    }
    var cell = el.getBoundingClientRect();
    var outer = wrap.getBoundingClientRect();
    panel.style.left = Math.max(0, cell.left - outer.left) + "px";
    panel.style.top = (cell.bottom - outer.top + 2) + "px";
    panel.hidden = false;
  }

  function useMine(id) {
    var conflict = state.conflicts.get(id);
    var row = table.getRow(id);
    state.conflicts.delete(id);
    state.problems.delete(id);
    if (conflict && conflict.theirs && row) { row.update(toData(conflict.theirs)); }
    redrawRow(id);
    save();
    root.focus({preventScroll: true});
  }

  function takeTheirs(id) {
    var conflict = state.conflicts.get(id);
    var row = table.getRow(id);
    state.conflicts.delete(id);
    state.problems.delete(id);
    state.pending.delete(id);
    if (conflict && conflict.theirs && row) { row.update(toData(conflict.theirs)); }
    redrawRow(id);
    decorateVisible();
    if (state.pending.size) { save(); }
    root.focus({preventScroll: true});
  }

  // -- copy and paste ---------------------------------------------------------------------------

  function tsvCell(text) {
    return /[\t\n\r"]/.test(text) ? "\"" + text.replace(/"/g, "\"\"") + "\"" : text;
  }

  function parseTsv(text) {
    // Spreadsheets quote a cell that holds a tab, a line break or a quote.
    var rows = [];
    var row = [];
    var cell = "";
    var i = 0;
    var quoted = false;
    text = text.replace(/\r\n?/g, "\n");
    if (text.slice(-1) === "\n") { text = text.slice(0, -1); }
    while (i < text.length) {
      var ch = text[i];
      if (quoted) {
        if (ch === "\"" && text[i + 1] === "\"") { cell += "\""; i += 2; continue; }
        if (ch === "\"") { quoted = false; i++; continue; }
        cell += ch; i++; continue;
      }
      if (ch === "\"" && cell === "") { quoted = true; i++; continue; }
      if (ch === "\t") { row.push(cell); cell = ""; i++; continue; }
      if (ch === "\n") { row.push(cell); rows.push(row); row = []; cell = ""; i++; continue; }
      cell += ch; i++;
    }
    row.push(cell);
    rows.push(row);
    return rows;
  }

  document.addEventListener("copy", function (event) {
    if (document.activeElement !== root || state.editor) { return; }
    var a = state.anchor || state.focus, f = state.focus;
    var lines = [];
    for (var r = Math.min(a.row, f.row); r <= Math.max(a.row, f.row); r++) {
      var data = dataOf(state.order[r]);
      var cells = [];
      for (var c = Math.min(a.col, f.col); c <= Math.max(a.col, f.col); c++) {
        cells.push(tsvCell(copied(columns[c], data, columns[c].key)));
      }
      lines.push(cells.join("\t"));
    }
    event.clipboardData.setData("text/plain", lines.join("\r\n"));
    event.preventDefault();
    say("Copied " + lines.length + (lines.length === 1 ? " row." : " rows."), true);
  });

  document.addEventListener("paste", function (event) {
    if (document.activeElement !== root || state.editor) { return; }
    var text = event.clipboardData ? event.clipboardData.getData("text/plain") : "";
    event.preventDefault();
    if (!text) { return; }
    paste(parseTsv(text));
  });

  function paste(block) {
    if (!config.canEdit) { say(config.readOnly); return Promise.resolve(); }
    var top = state.focus.row, left = state.focus.col;
    return ensureRows(top + block.length).then(function () {
      var edits = [];
      var skipped = 0;
      block.forEach(function (line, i) {
        var r = top + i;
        var id = state.order[r];
        if (id === undefined) { id = addNewRow(); }
        line.forEach(function (text, j) {
          var col = columns[left + j];
          if (!col) { skipped++; return; }
          if (!col.editable) { skipped++; return; }
          var reference = col.editor === "reference";
          edits.push({id: id, key: col.key, value: text === "" ? null : text,
                      label: reference ? text : null, byKey: reference});
        });
      });
      if (skipped) { say(skipped + " pasted " + (skipped === 1 ? "cell falls" : "cells fall") + " on columns that cannot be edited: left out."); }
      state.anchor = {row: top, col: left};
      state.focus = {row: Math.min(lastRow(), top + block.length - 1),
                     col: Math.min(columns.length - 1, left + block[0].length - 1)};
      decorateVisible();
      if (edits.length) { setCells(edits); }
    });
  }

  function addNewRow() {
    state.newRows += 1;
    var id = "new-" + state.newRows;
    var data = {_id: id, _token: null, _labels: {}, _keys: {}};
    allColumns.forEach(function (col) { data[col.key] = ""; });
    remember([id]);
    rowData.set(id, data);
    table.addData([data], false);
    return id;
  }

  function firstEditable() {
    var first = columns.findIndex(function (col) { return col.editable; });
    return first < 0 ? 0 : first;
  }

  function roomBelow() {
    // Whether a new row may open below the last one: every row is loaded, the grid edits,
    // and the last row is not already a new one left empty.
    if (!state.done || !config.canEdit || state.loading) { return false; }
    var last = state.order[lastRow()];
    return last === undefined || String(last).indexOf("new-") !== 0 || state.pending.has(last);
  }

  function appendRow() {
    // An empty new row after the real last one (the pages still to load are loaded first),
    // focused on its first editable cell: grid-inline.js's "Add" button, for a parent with
    // no children yet, where a paste has no row to start from. Its id, or null.
    if (!config.canEdit) { say(config.readOnly); return Promise.resolve(null); }
    return ensureRows(Infinity).then(function () {
      if (!state.done) { return null; }
      var id = addNewRow();
      moveTo(lastRow(), firstEditable(), false);
      root.focus({preventScroll: true});
      showStatus();
      return id;
    });
  }

  function insertNewRows(afterRow, n) {
    // ``n`` empty new rows just below row ``afterRow`` (a duplicate goes under its
    // original, even when more rows are still to load); their ids, in order.
    var after = state.order[afterRow];
    var ids = [];
    var rows = [];
    for (var i = 0; i < n; i++) {
      state.newRows += 1;
      var id = "new-" + state.newRows;
      var data = {_id: id, _token: null, _labels: {}, _keys: {}};
      allColumns.forEach(function (col) { data[col.key] = ""; });
      rowData.set(id, data);
      ids.push(id);
      rows.push(data);
    }
    table.addData(rows, false, after);
    Array.prototype.splice.apply(state.order, [afterRow + 1, 0].concat(ids));
    state.pos = new Map();
    state.order.forEach(function (id, r) { state.pos.set(id, r); });
    if (state.focus.row > afterRow) { state.focus = {row: state.focus.row + n, col: state.focus.col}; }
    if (state.anchor && state.anchor.row > afterRow) { state.anchor = {row: state.anchor.row + n, col: state.anchor.col}; }
    return ids;
  }

  window.addEventListener("beforeunload", function (event) {
    if (state.pending.size) { event.preventDefault(); event.returnValue = ""; }
  });

  var searchForm = parts.search;
  if (searchForm) {
    searchForm.addEventListener("submit", function (event) {
      event.preventDefault();
      state.search = document.getElementById("grid-search-input").value.trim();
      reload();
    });
  }

  function useColumns() {
    // After a column is moved, hidden or shown (grid-layout.js): the shown ones, in order.
    finishEdit(true);
    var key = columns[state.focus.col] && columns[state.focus.col].key;
    columns = table.getColumns().filter(function (c) { return c.isVisible(); })
      .map(function (c) { return byKey[c.getField()]; }).filter(Boolean);
    allColumns = table.getColumns().map(function (c) { return byKey[c.getField()]; }).filter(Boolean);
    colIndex = {};
    columns.forEach(function (col, i) { colIndex[col.key] = i; });
    root.setAttribute("aria-colcount", String(columns.length));
    var c = colIndex[key];
    state.focus = {row: state.focus.row, col: c !== undefined ? c : Math.min(state.focus.col, columns.length - 1)};
    state.anchor = null;
    markHeaders();
    decorateVisible();
  }

  // For the browser tests and the console's other scripts (grid-layout.js): views of the
  // state, and the few ways in that they need.
  return {
    root: root,
    reload: reload,
    table: table,
    state: state,
    config: config,
    columns: function () { return columns; },
    allColumns: function () { return allColumns; },
    useColumns: useColumns,
    dataOf: dataOf,
    pendingOf: pendingOf,
    setCells: setCells,
    say: say,
    lastRow: lastRow,
    paste: function (text) { return paste(parseTsv(text)); },
    saving: function () { return state.sending || Promise.resolve(); },
    // For grid-undo.js and grid-menu.js (loaded after this file).
    hooks: hooks,
    markPending: markPending,
    applyRow: applyRow,
    refused: refused,
    save: save,
    showStatus: showStatus,
    decorateVisible: decorateVisible,
    redrawRow: redrawRow,
    rangeCells: rangeCells,
    moveTo: moveTo,
    clearCells: clearCells,
    // For grid-menu.js (Duplicate) and grid-select.js.
    insertNewRows: insertNewRows,
    // For grid-inline.js (an Add button under a parent's inline children).
    appendRow: appendRow,
    jumpToEnd: jumpToEnd,
    jumpToStart: jumpToStart
  };
  }

  // Exported wherever this file is loaded, with or without a page grid: the edit page's
  // inline children (grid-inline.js) make grids of their own and have no #console-grid.
  if (typeof Tabulator !== "undefined") { window.createConsoleGrid = createGrid; }
  var root = document.getElementById("console-grid");
  var configElement = document.getElementById("grid-config");
  if (!root || !configElement || typeof Tabulator === "undefined") { return; }
  window.consoleGrid = createGrid(root, JSON.parse(configElement.textContent), {
    prefix: "grid",
    count: document.getElementById("grid-count"),
    selection: document.getElementById("grid-selection"),
    pending: document.getElementById("grid-pending"),
    message: document.getElementById("grid-message"),
    search: document.getElementById("grid-search")
  });
}());
