// Master-detail (console/admin/grid_details.py): under the grid of a model with children,
// one tab per one-to-many relationship holds a second grid (grid.js's createConsoleGrid)
// over the child model's own grid/rows, narrowed to the children of the focused row
// (parent=<reference column>&parent_id=<its key>). It follows the focus, waiting until
// the focus rests (holding the down arrow asks once, at the end). F6 moves between the
// two grids. Children move to another parent by Ctrl+X in the detail grid then Ctrl+V
// (or the context menu) on the other parent, or by dragging them onto it: one batch to
// the child's grid/save that sets their reference, checked against each child's loaded
// token, so a child someone changed meanwhile stops the whole move (nothing moved).
// The pane then shows the children where they are, the changed ones' reference cells as
// conflicts (theirs and yours): Use mine moves them with the new version. Each detail
// grid has the page's undo (grid-undo.js: one history for the page, so Ctrl+Z undoes a
// move too, version-checked) and its own context menu (grid-menu.js, the child's pages).
(function () {
  "use strict";

  var parent = window.consoleGrid;
  var section = document.getElementById("grid-detail");
  if (!parent || !window.createConsoleGrid || !section) { return; }
  var config = parent.config;
  var tabs = config.details || [];
  if (!tabs.length) { return; }
  var DEBOUNCE_MS = 250;
  var PARENT_HEIGHT = "calc(50vh - 6rem)";
  var DETAIL_HEIGHT = "calc(50vh - 10rem)";
  var FULL_HEIGHT = "calc(100vh - 12rem)";
  var storeKey = "console.grid.detail:" + config.rowsUrl;
  var MOVE_TYPE = "application/x-console-children";

  var active = 0;
  var focusedId;       // the parent row the pane is asked to show
  var timer = null;
  var cut = null;      // {tab, ids, tokens, from}: rows cut by Ctrl+X, waiting for Ctrl+V
  var dragging = null; // the same, for rows being dragged
  var dropRow = null;

  // -- the pane ------------------------------------------------------------------------------

  var bar = document.createElement("div");
  bar.className = "grid-detail-bar";
  var tabList = document.createElement("div");
  tabList.className = "nav nav-tabs grid-detail-tabs";
  tabList.setAttribute("role", "tablist");
  tabList.setAttribute("aria-label", "Children of the focused " + config.singular);
  var caption = document.createElement("span");
  caption.className = "grid-detail-caption small text-muted";
  caption.id = "grid-detail-caption";
  var help = document.createElement("span");
  help.className = "grid-detail-help small text-muted";
  help.textContent = "F6 switches grids" + (tabs.some(function (t) { return t.movable; }) ?
    " · Ctrl+X then Ctrl+V on another " + config.singular + ", or drag rows onto it, moves them · Esc cancels" : "");
  var toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "btn btn-sm btn-outline-secondary grid-detail-toggle";
  toggle.id = "grid-detail-toggle";
  toggle.setAttribute("aria-controls", "grid-detail-body");
  var body = document.createElement("div");
  body.id = "grid-detail-body";
  body.className = "grid-detail-body";
  bar.appendChild(tabList);
  bar.appendChild(caption);
  bar.appendChild(help);
  bar.appendChild(toggle);
  section.appendChild(bar);
  section.appendChild(body);
  section.hidden = false;

  tabs.forEach(function (tab, i) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "nav-link";
    button.id = "grid-detail-tab-" + i;
    button.setAttribute("role", "tab");
    button.setAttribute("aria-controls", "grid-detail-panel-" + i);
    button.textContent = tab.label;
    button.addEventListener("click", function () { choose(i); });
    button.addEventListener("keydown", function (event) {
      // Arrows move between the tabs (WAI-ARIA tabs).
      var step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
      if (!step) { return; }
      event.preventDefault();
      var next = (i + step + tabs.length) % tabs.length;
      choose(next);
      document.getElementById("grid-detail-tab-" + next).focus();
    });
    tabList.appendChild(button);
    var panel = document.createElement("div");
    panel.className = "grid-detail-panel";
    panel.id = "grid-detail-panel-" + i;
    panel.setAttribute("role", "tabpanel");
    panel.setAttribute("aria-labelledby", button.id);
    panel.hidden = true;
    var status = document.createElement("div");
    status.className = "grid-status small text-muted mt-1 mb-1";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    var parts = {prefix: "grid-detail-" + i, height: DETAIL_HEIGHT};
    ["count", "selection", "pending", "message"].forEach(function (name) {
      var span = document.createElement("span");
      span.id = "grid-detail-" + i + "-" + name;
      if (name === "message") { span.className = "text-danger"; }
      status.appendChild(span);
      parts[name] = span;
    });
    var root = document.createElement("div");
    root.className = "console-grid grid-detail-grid";
    root.id = "grid-detail-grid-" + i;
    root.setAttribute("aria-label", tab.label);
    panel.appendChild(status);
    panel.appendChild(root);
    body.appendChild(panel);
    tab.button = button;
    tab.panel = panel;
    tab.root = root;
    tab.parts = parts;
    tab.config = Object.assign({}, tab.grid); // the child's grid, as grid_details.py gave it
    tab.grid = null;     // made when first shown (Tabulator cannot lay out a hidden table)
    tab.shownFor = null; // the parent whose children it holds
  });

  function isHidden() { return window.localStorage.getItem(storeKey) === "hidden"; }

  function showPane(shown) {
    if (shown) { window.localStorage.removeItem(storeKey); } else { window.localStorage.setItem(storeKey, "hidden"); }
    body.hidden = !shown;
    section.classList.toggle("grid-detail-collapsed", !shown);
    toggle.textContent = shown ? "Hide" : "Show " + tabs[active].label.toLowerCase();
    toggle.setAttribute("aria-expanded", shown ? "true" : "false");
    var height = shown ? PARENT_HEIGHT : FULL_HEIGHT;
    if (parent.table.initialized) { parent.table.setHeight(height); }
    else { parent.table.on("tableBuilt", function () { parent.table.setHeight(height); }); }
    if (shown) { refresh(false); }
  }

  toggle.addEventListener("click", function () { showPane(body.hidden); });

  function choose(i) {
    active = i;
    tabs.forEach(function (tab, j) {
      tab.button.classList.toggle("active", j === i);
      tab.button.setAttribute("aria-selected", j === i ? "true" : "false");
      tab.button.tabIndex = j === i ? 0 : -1;
      tab.panel.hidden = j !== i;
    });
    if (body.hidden) { toggle.textContent = "Show " + tabs[active].label.toLowerCase(); }
    refresh(false);
  }

  // -- following the parent's focus ---------------------------------------------------------

  function parentLabel(id) {
    var data = parent.dataOf(id);
    var label = data && config.labelKey ? data[config.labelKey] : "";
    return label || config.singular + " " + id;
  }

  function isNew(id) { return String(id).indexOf("new-") === 0; }

  function queryFor(tab, id) {
    return new URLSearchParams({parent: tab.fk, parent_id: String(id)}).toString();
  }

  function refresh(force) {
    // The active tab, showing the children of the focused parent (made on first use).
    var tab = tabs[active];
    var id = focusedId;
    if (body.hidden) { return; }
    if (id === undefined || isNew(id)) {
      caption.textContent = id === undefined ? "" : "Save this " + config.singular + " to give it " + tab.config.plural + ".";
      tab.root.style.visibility = "hidden";
      return;
    }
    tab.root.style.visibility = "";
    if (!force && tab.shownFor === String(id)) { return; }
    if (!tab.grid) {
      tab.config.query = queryFor(tab, id);
      tab.grid = window.createConsoleGrid(tab.root, tab.config, tab.parts);
      wire(tab);
    } else {
      var before = tab.config.query;
      tab.config.query = queryFor(tab, id);
      if (!tab.grid.reload()) { tab.config.query = before; return; }
    }
    tab.shownFor = String(id);
    caption.textContent = "of " + parentLabel(id);
    tab.root.setAttribute("aria-label", tab.label + " of " + parentLabel(id));
  }

  parent.hooks.focused.push(function (id) {
    // Asked once the focus rests: holding an arrow key down sends no request per row.
    focusedId = id;
    clearTimeout(timer);
    timer = setTimeout(function () { timer = null; refresh(false); }, DEBOUNCE_MS);
  });

  // -- the detail grid's own wiring ---------------------------------------------------------

  function wire(tab) {
    var grid = tab.grid;
    if (window.consoleGridUndo) {
      window.consoleGridUndo.attach(grid, {root: tab.root, replayed: function (entry) {
        // An undo or redo that changed children's parent: the pane shows where they are now.
        var moved = entry.rows.some(function (row) { return Object.prototype.hasOwnProperty.call(row.before, tab.fk); });
        if (moved && !grid.state.pending.size) { refresh(true); }
      }});
    }
    if (window.consoleGridMenu) {
      grid.hooks.menu = [function () {
        var n = pick(tab, selectedRows(grid)).ids.length;
        return [{key: "cut", label: "Cut " + (n ? words(tab, n) : tab.config.plural) + " to move", keys: "Ctrl+X",
                 act: function () { tab.root.focus({preventScroll: true}); cutRows(tab); }, off: !tab.movable || !n,
                 hint: "Then Ctrl+V on another " + config.singular + " moves them there"}, {separator: true}];
      }];
      window.consoleGridMenu.attach(grid, {root: tab.root});
    }
    grid.hooks.saved.push(function (answer, sent) {
      // Children saved with another parent (Use mine after a refused move, or an edit of
      // the reference cell) have left this parent: the pane shows who is here now.
      var gone = (answer.rows || []).filter(function (row) {
        var cells = sent.get(row.id) || {};
        return Object.prototype.hasOwnProperty.call(cells, tab.fk) && row.values && tab.shownFor &&
          String(row.values[tab.fk]) !== tab.shownFor;
      });
      if (!gone.length) { return; }
      var to = gone[0].values[tab.fk];
      var same = gone.every(function (row) { return row.values[tab.fk] === to; });
      setTimeout(function () {
        if (grid.state.pending.size) { return; }
        refresh(true);
        var text = "Moved " + words(tab, gone.length) + (same && to ? " to " + parentLabel(to) : "") + ".";
        grid.say(text, true);
        parent.say(text, true);
      }, 0);
    });
    grid.hooks.edited.push(function (edits) {
      // A row added in the detail grid belongs to the parent it is shown under.
      edits.forEach(function (edit) {
        if (!isNew(edit.id) || grid.pendingOf(edit.id, tab.fk) || !tab.shownFor) { return; }
        grid.markPending([{id: edit.id, key: tab.fk, value: tab.shownFor, label: parentLabel(tab.shownFor), byKey: false}]);
      });
    });
    tab.root.addEventListener("keydown", function (event) {
      if (grid.state.editor || event.target !== tab.root) { return; }
      if ((event.ctrlKey || event.metaKey) && (event.key === "x" || event.key === "X")) {
        event.preventDefault();
        cutRows(tab);
      }
    });
    // Rows are dragged by any cell; only where moving is allowed.
    tab.root.addEventListener("mousedown", function (event) {
      var row = event.target.closest ? event.target.closest(".tabulator-row") : null;
      if (row && tab.movable) { row.setAttribute("draggable", "true"); }
    }, true);
    tab.root.addEventListener("dragstart", function (event) {
      var cell = event.target.querySelector ? event.target.querySelector(".tabulator-cell[data-row]") : null;
      if (!tab.movable || !cell) { event.preventDefault(); return; }
      var r = parseInt(cell.getAttribute("data-row"), 10);
      var rows = selectedRows(grid);
      if (rows.indexOf(r) < 0) { rows = [r]; }
      var picked = pick(tab, rows);
      if (!picked.ids.length) { event.preventDefault(); return; }
      dragging = picked;
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData(MOVE_TYPE, picked.ids.join(","));
      event.dataTransfer.setData("text/plain", picked.ids.map(function (id) { return rowLabel(tab, id); }).join("\n"));
    });
    tab.root.addEventListener("dragend", function () { dragging = null; markDrop(null); });
    grid.table.on("renderComplete", function () { markCut(); });
    grid.table.on("scrollVertical", function () { markCut(); });
  }

  function selectedRows(grid) {
    var rows = [];
    grid.rangeCells().forEach(function (spot) { if (rows.indexOf(spot.row) < 0) { rows.push(spot.row); } });
    return rows;
  }

  function rowLabel(tab, id) {
    var data = tab.grid.dataOf(id);
    var first = tab.config.columns.filter(function (c) { return c.editor === "text"; })[0];
    return (data && first && data[first.key]) || tab.config.singular + " " + id;
  }

  function pick(tab, rows) {
    // The saved rows among ``rows`` (positions), with the tokens they were loaded at and
    // their names (the pane may show another parent's children by the time they move).
    var ids = [];
    var tokens = {};
    var labels = {};
    rows.forEach(function (r) {
      var id = tab.grid.state.order[r];
      if (id === undefined || isNew(id)) { return; }
      ids.push(String(id));
      tokens[String(id)] = tab.grid.dataOf(id)._token;
      labels[String(id)] = rowLabel(tab, id);
    });
    return {tab: tab, ids: ids, tokens: tokens, labels: labels, from: tab.shownFor};
  }

  function words(tab, n) { return n + " " + (n === 1 ? tab.config.singular : tab.config.plural); }

  function cutRows(tab) {
    if (!tab.movable) {
      tab.grid.say(tab.config.canEdit ? tab.fkLabel + " cannot be changed here, so " + tab.config.plural + " cannot move." : tab.config.readOnly);
      return;
    }
    var picked = pick(tab, selectedRows(tab.grid));
    if (!picked.ids.length) { tab.grid.say("Only saved rows can be moved."); return; }
    cut = picked;
    markCut();
    var text = words(tab, picked.ids.length) + " cut: focus another " + config.singular +
      " (F6) and press Ctrl+V to move them there. Esc cancels.";
    tab.grid.say(text, true);
    parent.say(text, true);
  }

  function cancelCut(message) {
    if (!cut) { return; }
    var tab = cut.tab;
    cut = null;
    markCut(tab);
    if (message) { parent.say(message, true); tab.grid.say(message, true); }
  }

  function markCut(only) {
    tabs.forEach(function (tab) {
      if (!tab.grid || (only && tab !== only)) { return; }
      tab.grid.table.getRows().forEach(function (row) {
        var id = String(row.getData()._id);
        var el = row.getElement();
        var marked = !!cut && cut.tab === tab && cut.ids.indexOf(id) >= 0;
        el.classList.toggle("grid-cut", marked);
        if (marked) { el.setAttribute("data-cut", "true"); } else { el.removeAttribute("data-cut"); }
      });
    });
  }

  // -- moving to another parent ---------------------------------------------------------------

  function focusedParent() {
    var id = parent.state.order[parent.state.focus.row];
    return id === undefined ? null : String(id);
  }

  function move(picked, target) {
    var tab = picked.tab;
    if (target === null || isNew(target)) { parent.say("Save this " + config.singular + " before moving " + tab.config.plural + " to it."); return Promise.resolve(false); }
    if (target === picked.from) { parent.say("They are on this " + config.singular + " already."); return Promise.resolve(false); }
    var body = {changes: picked.ids.map(function (id) {
      return {row: id, token: picked.tokens[id], column: tab.fk, value: target, byKey: false};
    })};
    var what = words(tab, picked.ids.length);
    parent.say("Moving " + what + "…", true);
    return fetch(tab.config.saveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": tab.config.csrf},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {ok: false, problems: [{message: "The server's answer was not understood (" + response.status + ")."}]}; });
    }).then(function (answer) {
      if (cut === picked) { cut = null; }
      markCut(tab);
      if (answer.ok) {
        var done = "Moved " + what + " to " + parentLabel(target) + ".";
        parent.say(done, true);
        remember(picked, target, answer);
        refresh(true);
        tab.grid.say(done, true);
        return true;
      }
      var reasons = [];
      Object.keys(answer.conflicts || {}).forEach(function (id) {
        reasons.push((picked.labels[id] || rowLabel(tab, id)) + ": " + answer.conflicts[id].message);
      });
      (answer.problems || []).forEach(function (problem) {
        if (!problem.conflict) { reasons.push(problem.message); }
      });
      var refusal = "Nothing was moved. " + reasons.join(" ");
      parent.say(refusal);
      if (Object.keys(answer.conflicts || {}).length) { return showRefused(picked, target, answer, refusal); }
      // What is there now, under the parent in focus.
      refresh(true);
      tab.grid.say(refusal);
      return false;
    }, function () {
      parent.say("Nothing was moved: the server could not be reached.");
      return false;
    });
  }

  function remember(picked, target, answer) {
    // The move as one step of the page's undo: each child's parent before and after, at
    // the version the move gave it (so only someone else's change refuses the undo).
    if (!window.consoleGridUndo) { return; }
    var tab = picked.tab;
    var from = {value: picked.from, label: parentLabel(picked.from)};
    var to = {value: target, label: parentLabel(target)};
    var rows = (answer.rows || []).map(function (row) {
      var before = {};
      var after = {};
      before[tab.fk] = from;
      after[tab.fk] = to;
      return {id: row.id, token: row.token, before: before, after: after};
    });
    if (!rows.length) { return; }
    var what = words(tab, rows.length);
    window.consoleGridUndo.record(tab.grid, {rows: rows, what: {
      undone: what + " back on " + from.label, redone: what + " moved to " + to.label + " again"}});
  }

  function showRefused(picked, target, answer, refusal) {
    // A move refused because children changed meanwhile: the pane goes back to the parent
    // they are on, where the move waits as unsaved edits of their reference cells; the
    // changed ones show theirs and yours (grid.js's conflicts), and Use mine sends the
    // move again at the version they have now. Ctrl+Z (or Take theirs) drops it.
    var tab = picked.tab;
    var at = parent.state.pos.get(picked.from);
    if (at !== undefined) { parent.moveTo(at, parent.state.focus.col, false); }
    focusedId = picked.from;
    clearTimeout(timer);
    timer = null;
    refresh(true);
    if (tab.shownFor !== picked.from) { tab.grid.say(refusal); return Promise.resolve(false); }
    return Promise.resolve(tab.grid.state.loading).then(function () {
      var edits = picked.ids.filter(function (id) { return tab.grid.state.pos.has(id); }).map(function (id) {
        return {id: id, key: tab.fk, value: target, label: parentLabel(target), byKey: false};
      });
      if (edits.length) {
        tab.grid.markPending(edits);
        tab.grid.refused(answer);
      }
      tab.grid.say(refusal + (edits.length ? " Use mine in a marked cell moves it anyway; Take theirs keeps it here (the others move); Ctrl+Z drops the move." : ""));
      return false;
    });
  }

  parent.root.addEventListener("keydown", function (event) {
    if (!cut || parent.state.editor || event.target !== parent.root) { return; }
    if ((event.ctrlKey || event.metaKey) && (event.key === "v" || event.key === "V")) {
      // Instead of pasting the clipboard: the cut rows come here.
      event.preventDefault();
      event.stopImmediatePropagation();
      move(cut, focusedParent());
    }
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && cut && !parent.state.editor && !(cut.tab.grid && cut.tab.grid.state.editor)) {
      cancelCut("Cut cancelled: nothing moved.");
      return;
    }
    if (event.key !== "F6") { return; }
    var inParent = parent.root.contains(document.activeElement);
    var inDetail = section.contains(document.activeElement);
    if (!inParent && !inDetail) { return; }
    if ((inParent && parent.state.editor) || (inDetail && tabs[active].grid && tabs[active].grid.state.editor)) { return; }
    event.preventDefault();
    if (inParent) {
      if (body.hidden) { showPane(true); }
      refresh(false);
      tabs[active].root.focus({preventScroll: true});
      tabs[active].root.scrollIntoView({block: "nearest"});
    } else {
      parent.root.focus({preventScroll: true});
    }
  });

  // Dropping dragged children on a parent row moves them there.
  function rowAt(event) {
    var el = event.target.closest ? event.target.closest(".tabulator-cell[data-row]") : null;
    if (!el) { return null; }
    var r = parseInt(el.getAttribute("data-row"), 10);
    var id = parent.state.order[r];
    return id === undefined ? null : {r: r, id: String(id), row: el.closest(".tabulator-row")};
  }

  function markDrop(rowEl) {
    if (dropRow && dropRow !== rowEl) { dropRow.classList.remove("grid-drop-target"); }
    dropRow = rowEl;
    if (rowEl) { rowEl.classList.add("grid-drop-target"); }
  }

  parent.root.addEventListener("dragover", function (event) {
    if (!dragging) { return; }
    var spot = rowAt(event);
    if (!spot || isNew(spot.id)) { markDrop(null); return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    markDrop(spot.row);
  });
  parent.root.addEventListener("dragleave", function (event) {
    if (!parent.root.contains(event.relatedTarget)) { markDrop(null); }
  });
  parent.root.addEventListener("drop", function (event) {
    if (!dragging) { return; }
    event.preventDefault();
    var spot = rowAt(event);
    var picked = dragging;
    dragging = null;
    markDrop(null);
    if (!spot) { return; }
    // The drop target becomes the focused parent: the pane then shows the moved rows there.
    parent.moveTo(spot.r, parent.state.focus.col, false);
    focusedId = spot.id;
    clearTimeout(timer);
    timer = null;
    move(picked, spot.id);
  });

  // The parent grid's context menu (grid-menu.js) offers the move while rows are cut.
  parent.hooks.menu = parent.hooks.menu || [];
  parent.hooks.menu.push(function () {
    if (!cut) { return []; }
    var target = focusedParent();
    return [{key: "move-here", label: "Move " + words(cut.tab, cut.ids.length) + " here", keys: "Ctrl+V",
             act: function () { parent.root.focus({preventScroll: true}); move(cut, target); },
             off: target === null || isNew(target) || target === cut.from}, {separator: true}];
  });

  window.consoleGridDetail = {
    tabs: tabs,
    active: function () { return tabs[active]; },
    cut: function () { return cut; },
    choose: choose,
    move: move
  };

  choose(0);
  showPane(!isHidden());
}());
