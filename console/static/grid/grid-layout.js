// The grid's columns and saved views (templates/admin/grid.html, after grid.js), and fill
// down / fill right. A *Columns* menu hides, shows and moves columns (checkboxes and
// move buttons: all of it by keyboard); dragging a header moves a column, dragging its
// edge resizes it. The layout (order, hidden columns, widths set by hand) is saved on
// the server for the account and the model (console/admin/grid_layouts.py), so the grid
// opens with it again in any browser. A *Views* menu saves the layout with the grid's
// search, filters and sort under a name, opens one, deletes one. Ctrl+D copies the top
// cell of each column of the selected range into the cells below it (Ctrl+R: the left
// cell into the cells to its right), as pending edits saved in one batch like a paste.
(function () {
  "use strict";

  var grid = window.consoleGrid;
  if (!grid || !grid.config.layouts) { return; }
  var config = grid.config;
  var settings = config.layouts;
  var table = grid.table;
  var root = document.getElementById("console-grid");
  var defaultOrder = config.columns.map(function (col) { return col.key; });
  var labels = {};
  config.columns.forEach(function (col) { labels[col.key] = col.label; });
  var widths = {};
  if (settings.current && settings.current.widths) {
    Object.keys(settings.current.widths).forEach(function (k) { widths[k] = settings.current.widths[k]; });
  }
  var applying = false;  // moves made here, not by the user: no save per step
  var saveTimer = null;

  // -- talking to the server ------------------------------------------------------------------

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": settings.csrf},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {ok: false, error: "The server's answer was not understood (" + response.status + ")."}; })
        .then(function (answer) {
          if (!response.ok || answer.ok === false) { throw new Error(answer.error || "Not saved (" + response.status + ")."); }
          return answer;
        });
    });
  }

  function currentLayout() {
    var cols = table.getColumns();
    var shown = {};
    cols.forEach(function (c) { shown[c.getField()] = true; });
    var kept = {};
    Object.keys(widths).forEach(function (k) { if (shown[k]) { kept[k] = widths[k]; } });
    return {
      order: cols.map(function (c) { return c.getField(); }),
      hidden: cols.filter(function (c) { return !c.isVisible(); }).map(function (c) { return c.getField(); }),
      widths: kept
    };
  }

  function saveLayout() {
    clearTimeout(saveTimer);
    saveTimer = null;
    grid.state.layoutSaving = post(settings.layoutUrl, {layout: currentLayout()})
      .then(function () { grid.state.layoutSaving = null; },
            function (error) { grid.state.layoutSaving = null; grid.say("Layout not saved: " + error.message); });
    return grid.state.layoutSaving;
  }

  function changed() {
    // A move, hide, show or resize: the grid's positions follow, the server hears soon.
    if (applying) { return; }
    grid.useColumns();
    renderColumnsMenu();
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveLayout, 300);
  }

  grid.layoutSaved = function () {
    // For the browser tests: resolves once the layout is on the server.
    if (saveTimer) { return saveLayout(); }
    return grid.state.layoutSaving || Promise.resolve();
  };

  table.on("columnMoved", changed);
  table.on("columnVisibilityChanged", changed);
  table.on("columnResized", function (column) {
    widths[column.getField()] = Math.round(column.getWidth());
    changed();
  });

  // -- the toolbar: Columns and Views menus -------------------------------------------------------

  var nav = document.getElementById("grid-search");
  var bar = document.createElement("li");
  bar.className = "nav-item ml-2 grid-tools";
  if (nav && nav.parentNode && nav.parentNode.parentNode) {
    nav.parentNode.parentNode.insertBefore(bar, nav.parentNode.nextSibling);
  } else {
    root.parentNode.insertBefore(bar, root);
  }

  function menu(id, title) {
    var holder = document.createElement("div");
    holder.className = "grid-tool-menu";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-sm btn-outline-secondary";
    button.id = id + "-button";
    button.textContent = title;
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", id);
    var panel = document.createElement("div");
    panel.className = "grid-tool-panel";
    panel.id = id;
    panel.setAttribute("role", "group");
    panel.setAttribute("aria-label", title);
    panel.hidden = true;
    holder.appendChild(button);
    holder.appendChild(panel);
    bar.appendChild(holder);
    var api = {button: button, panel: panel, onOpen: null};
    api.open = function () {
      closeAll(api);
      panel.hidden = false;
      button.setAttribute("aria-expanded", "true");
      if (api.onOpen) { api.onOpen(); }
      var first = panel.querySelector("input, button:not([disabled])");
      if (first) { first.focus(); }
    };
    api.close = function (refocus) {
      if (panel.hidden) { return; }
      panel.hidden = true;
      button.setAttribute("aria-expanded", "false");
      if (refocus) { button.focus(); }
    };
    button.addEventListener("click", function () { if (panel.hidden) { api.open(); } else { api.close(false); } });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); api.close(true); }
    });
    menus.push(api);
    return api;
  }

  var menus = [];
  function closeAll(except) { menus.forEach(function (m) { if (m !== except) { m.close(false); } }); }
  document.addEventListener("mousedown", function (event) {
    if (!bar.contains(event.target)) { closeAll(null); }
  });

  // -- Columns -------------------------------------------------------------------------------------

  var columnsMenu = menu("grid-columns", "Columns");

  function renderColumnsMenu(focusKey, focusWhat) {
    var panel = columnsMenu.panel;
    panel.textContent = "";
    var list = document.createElement("ul");
    list.className = "grid-column-list";
    var cols = table.getColumns();
    var shownCount = cols.filter(function (c) { return c.isVisible(); }).length;
    cols.forEach(function (column) {
      var key = column.getField();
      var item = document.createElement("li");
      var box = document.createElement("input");
      box.type = "checkbox";
      box.id = "grid-show-" + key;
      box.checked = column.isVisible();
      box.setAttribute("data-key", key);
      // The last shown column stays: a grid needs one.
      box.disabled = box.checked && shownCount === 1;
      box.addEventListener("change", function () {
        if (box.checked) { column.show(); } else { column.hide(); }
        renderColumnsMenu(key, "box");
      });
      var label = document.createElement("label");
      label.setAttribute("for", box.id);
      label.textContent = labels[key] || key;
      item.appendChild(box);
      item.appendChild(label);
      // The first column stays first (it is frozen at the left edge).
      var left = moveButton(key, "left", "\u2190", !target(key, "left"));
      var right = moveButton(key, "right", "\u2192", !target(key, "right"));
      item.appendChild(left);
      item.appendChild(right);
      list.appendChild(item);
    });
    panel.appendChild(list);
    var reset = document.createElement("button");
    reset.type = "button";
    reset.className = "btn btn-sm btn-link p-0";
    reset.id = "grid-reset-layout";
    reset.textContent = "Reset layout";
    reset.addEventListener("click", resetLayout);
    panel.appendChild(reset);
    if (focusKey) {
      var again = focusWhat === "box" ? document.getElementById("grid-show-" + focusKey)
        : panel.querySelector("[data-move='" + focusWhat + "'][data-key='" + focusKey + "']");
      if (again && again.disabled) {
        again = panel.querySelector("[data-key='" + focusKey + "']:not([disabled])");
      }
      if (again) { again.focus(); }
    }
  }

  function moveButton(key, side, symbol, disabled) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-sm btn-light grid-move";
    button.textContent = symbol;
    button.disabled = disabled;
    button.setAttribute("data-key", key);
    button.setAttribute("data-move", side);
    button.setAttribute("aria-label", "Move " + (labels[key] || key) + " " + side);
    button.title = "Move " + side;
    button.addEventListener("click", function () { move(key, side); });
    return button;
  }

  function target(key, side) {
    // The column to move past: a shown column skips the hidden ones (a move the user
    // sees); the first column stays first (frozen at the left edge). Null: none.
    var cols = table.getColumns();
    var at = cols.findIndex(function (c) { return c.getField() === key; });
    if (at < 1) { return null; }
    var visible = cols[at].isVisible();
    for (var i = at + (side === "left" ? -1 : 1); i >= 1 && i < cols.length; i += side === "left" ? -1 : 1) {
      if (!visible || cols[i].isVisible()) { return cols[i].getField(); }
    }
    return null;
  }

  function move(key, side) {
    var past = target(key, side);
    if (!past) { return; }
    table.moveColumn(key, past, side === "right");
    renderColumnsMenu(key, side);
    grid.say((labels[key] || key) + " moved " + side + ".", true);
  }

  columnsMenu.onOpen = function () { renderColumnsMenu(); };
  columnsMenu.panel.addEventListener("keydown", function (event) {
    // Up and down move between the columns' rows, keeping to the same control.
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") { return; }
    var items = Array.prototype.slice.call(columnsMenu.panel.querySelectorAll("li"));
    var item = event.target.closest("li");
    var at = items.indexOf(item);
    if (at < 0) { return; }
    var next = items[at + (event.key === "ArrowDown" ? 1 : -1)];
    if (!next) { return; }
    event.preventDefault();
    var kind = event.target.getAttribute("data-move");
    var control = kind ? next.querySelector("[data-move='" + kind + "']") : next.querySelector("input");
    if (!control || control.disabled) { control = next.querySelector("input"); }
    control.focus();
  });

  function applyLayout(wanted) {
    // Order, shown columns and widths as ``wanted`` says, without a save per step.
    applying = true;
    try {
      var order = wanted.order && wanted.order.length ? wanted.order : defaultOrder;
      for (var i = 1; i < order.length; i++) {
        if (table.getColumn(order[i]) && table.getColumn(order[i - 1])) { table.moveColumn(order[i], order[i - 1], true); }
      }
      table.getColumns().forEach(function (column) {
        var key = column.getField();
        var hide = (wanted.hidden || []).indexOf(key) >= 0;
        if (hide && column.isVisible()) { column.hide(); }
        if (!hide && !column.isVisible()) { column.show(); }
        var width = (wanted.widths || {})[key];
        if (width) { column.setWidth(width); } else if (widths[key]) { column.setWidth(true); }
      });
      widths = {};
      Object.keys(wanted.widths || {}).forEach(function (k) { widths[k] = wanted.widths[k]; });
    } finally {
      applying = false;
    }
    grid.useColumns();
  }

  function resetLayout() {
    clearTimeout(saveTimer);
    saveTimer = null;
    applyLayout({order: defaultOrder, hidden: [], widths: {}});
    renderColumnsMenu();
    var focus = document.getElementById("grid-reset-layout");
    if (focus) { focus.focus(); }
    grid.state.layoutSaving = post(settings.layoutUrl, {layout: null}).then(function () {
      grid.state.layoutSaving = null;
      grid.say("The columns are back as they were.", true);
    }, function (error) { grid.state.layoutSaving = null; grid.say("Not reset: " + error.message); });
  }

  // -- Views ----------------------------------------------------------------------------------------

  var viewsMenu = menu("grid-views", "Views");
  var views = null;

  function listArgs() {
    // The grid's search, filters and sort as the list's URL arguments (what a view keeps).
    var params = new URLSearchParams(config.query);
    ["page", "after", "before", "limit", "sort", "desc", "search"].forEach(function (k) { params.delete(k); });
    var state = grid.state;
    var byKey = {};
    config.columns.forEach(function (col) { byKey[col.key] = col; });
    if (state.sort && byKey[state.sort]) {
      params.set("sort", String(byKey[state.sort].sortIndex));
      if (state.descending) { params.set("desc", "1"); }
    }
    if (state.search) { params.set("search", state.search); }
    var args = [];
    params.forEach(function (value, name) { args.push([name, value]); });
    return args;
  }

  function loadViews() {
    return fetch(settings.listUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (answer) { views = answer.views || []; renderViewsMenu(); });
  }

  function renderViewsMenu(focusId) {
    var panel = viewsMenu.panel;
    panel.textContent = "";
    var list = document.createElement("ul");
    list.className = "grid-view-list";
    list.id = "grid-view-list";
    if (views === null) {
      list.appendChild(note("Loading…"));
    } else if (!views.length) {
      list.appendChild(note("No saved views yet."));
    }
    (views || []).forEach(function (view, i) {
      var item = document.createElement("li");
      var open = document.createElement("button");
      open.type = "button";
      open.className = "btn btn-sm btn-link grid-view-open";
      open.textContent = view.name;
      open.id = "grid-view-open-" + i;
      open.title = "Open " + view.name;
      open.addEventListener("click", function () { openView(view); });
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn btn-sm btn-light grid-view-delete";
      remove.textContent = "\u00d7";
      remove.setAttribute("aria-label", "Delete view " + view.name);
      remove.title = "Delete";
      remove.addEventListener("click", function () { deleteView(view); });
      item.appendChild(open);
      item.appendChild(remove);
      list.appendChild(item);
    });
    panel.appendChild(list);
    var form = document.createElement("form");
    form.className = "grid-view-form";
    var label = document.createElement("label");
    label.setAttribute("for", "grid-view-name");
    label.className = "small mb-0";
    label.textContent = "Save the columns, search, filters and sort as";
    var input = document.createElement("input");
    input.type = "text";
    input.id = "grid-view-name";
    input.className = "form-control form-control-sm";
    input.maxLength = settings.nameMax || 100;
    input.placeholder = "A name";
    input.required = true;
    var submit = document.createElement("button");
    submit.type = "submit";
    submit.className = "btn btn-sm btn-primary";
    submit.id = "grid-view-save";
    submit.textContent = "Save view";
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(submit);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      saveView(input.value);
    });
    panel.appendChild(form);
    var target = focusId ? document.getElementById(focusId) : null;
    if (target) { target.focus(); }
  }

  function note(text) {
    var item = document.createElement("li");
    item.className = "text-muted small";
    item.textContent = text;
    return item;
  }

  function saveView(name) {
    name = (name || "").trim();
    if (!name) { grid.say("A view needs a name."); return Promise.resolve(); }
    return post(settings.viewsUrl, {name: name, layout: currentLayout(), args: listArgs()}).then(function (answer) {
      views = answer.views;
      renderViewsMenu("grid-view-name");
      grid.say("View \u201c" + name + "\u201d saved.", true);
    }, function (error) { grid.say("View not saved: " + error.message); });
  }

  function deleteView(view) {
    return post(settings.deleteUrl, {name: view.name}).then(function (answer) {
      views = answer.views;
      renderViewsMenu("grid-view-name");
      grid.say("View \u201c" + view.name + "\u201d deleted.", true);
    }, function (error) { grid.say("Not deleted: " + error.message); });
  }

  function openView(view) {
    // The view's layout becomes the one the grid opens with; then its search and filters.
    return post(settings.layoutUrl, {layout: view.layout}).then(function () {
      var query = new URLSearchParams();
      view.args.forEach(function (pair) { query.append(pair[0], pair[1]); });
      var text = query.toString();
      window.location.assign(settings.gridUrl + (text ? "?" + text : ""));
    }, function (error) { grid.say("Not opened: " + error.message); });
  }

  viewsMenu.onOpen = function () {
    renderViewsMenu();
    loadViews().then(function () {
      var first = viewsMenu.panel.querySelector(".grid-view-open") || document.getElementById("grid-view-name");
      if (first && !viewsMenu.panel.hidden) { first.focus(); }
    });
  };

  // -- fill down and fill right -------------------------------------------------------------------

  function sourceOf(id, col) {
    // The cell's value as an edit: its pending one, else what the row holds.
    var pend = grid.pendingOf(id, col.key);
    if (pend) { return {value: pend.value, label: pend.label, byKey: pend.byKey}; }
    var data = grid.dataOf(id) || {};
    var value = data[col.key];
    value = value === undefined || value === null || value === "" ? null : value;
    if (col.editor === "reference") {
      return {value: value, label: value === null ? "" : ((data._labels && data._labels[col.key]) || value), byKey: false};
    }
    return {value: value, label: null, byKey: false};
  }

  function textOf(id, col) {
    // A value carried to another column: the text a copy of the cell gives (references
    // by their natural key), read as a paste of it would be.
    var source = sourceOf(id, col);
    if (col.editor !== "reference" || source.byKey || source.value === null) { return source.value; }
    var data = grid.dataOf(id) || {};
    return grid.pendingOf(id, col.key) ? source.label : ((data._keys && data._keys[col.key]) || source.value);
  }

  function fill(down) {
    if (!config.canEdit) { grid.say(config.readOnly); return Promise.resolve(); }
    var state = grid.state;
    if (state.editor || !state.order.length) { return Promise.resolve(); }
    var cols = grid.columns();
    var a = state.anchor || state.focus, f = state.focus;
    var top = Math.min(a.row, f.row), bottom = Math.max(a.row, f.row);
    var left = Math.min(a.col, f.col), right = Math.max(a.col, f.col);
    // A range one row high (one column wide, for Ctrl+R) fills from the cells above
    // (to the left), as in a spreadsheet: a single cell copies the one above it.
    if (down ? bottom === top : right === left) {
      if (down ? top === 0 : left === 0) {
        grid.say("Nothing " + (down ? "above" : "to the left") + " to fill from.");
        return Promise.resolve();
      }
      if (down) { top -= 1; } else { left -= 1; }
    }
    var edits = [];
    var readOnly = [];
    function refuse(col) { if (readOnly.indexOf(col.label) < 0) { readOnly.push(col.label); } }
    for (var r = top; r <= bottom; r++) {
      var id = state.order[r];
      if (id === undefined) { continue; }
      for (var c = left; c <= right; c++) {
        if (down ? r === top : c === left) { continue; }
        var col = cols[c];
        if (!col.editable) { refuse(col); continue; }
        var from = down ? col : cols[left];
        var fromId = down ? state.order[top] : id;
        if (from.key === col.key || (from.editor === "reference" && col.editor === "reference" && from.lookup === col.lookup)) {
          var source = sourceOf(fromId, from);
          edits.push({id: id, key: col.key, value: source.value, label: source.label, byKey: source.byKey});
        } else {
          var text = textOf(fromId, from);
          var reference = col.editor === "reference";
          edits.push({id: id, key: col.key, value: text === "" ? null : text,
                      label: reference ? (text || "") : null, byKey: reference && !!text});
        }
      }
    }
    // Cells that already hold the value are not edits (nor history).
    edits = edits.filter(function (edit) {
      var now = sourceOf(edit.id, grid.columns()[colOf(edit.key)]);
      return now.value !== edit.value || !!now.byKey !== !!edit.byKey;
    });
    var leftOut = readOnly.length ? readOnly.join(", ") + " cannot be edited here: left out of the fill. " : "";
    if (!edits.length) { grid.say(leftOut || "Nothing to fill: the cells already hold those values.", !leftOut); return Promise.resolve(); }
    grid.setCells(edits);
    return Promise.resolve(grid.saving()).then(function () {
      // A refused batch says so itself (and marks the cells).
      if (!state.problems.size && !state.conflicts.size) {
        grid.say(leftOut + "Filled " + edits.length + (edits.length === 1 ? " cell." : " cells."), true);
      }
    });
  }

  function colOf(key) {
    var cols = grid.columns();
    for (var i = 0; i < cols.length; i++) { if (cols[i].key === key) { return i; } }
    return -1;
  }

  grid.fill = fill;
  root.addEventListener("keydown", function (event) {
    if (event.target !== root || grid.state.editor) { return; }
    if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) { return; }
    var key = event.key.toLowerCase();
    if (key !== "d" && key !== "r") { return; }
    event.preventDefault();
    fill(key === "d");
  });
}());
