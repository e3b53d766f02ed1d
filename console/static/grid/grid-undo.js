// Undo and redo in the grid (Ctrl+Z; Ctrl+Y or Ctrl+Shift+Z; the toolbar's buttons).
// Unsaved edits (a batch the server refused, or still on its way) are simply dropped,
// the last first. A saved batch is undone on the server, through the grid's own batch
// endpoint: a new batch that sets each cell back to the value it had, checked against
// the version the save produced. If someone else changed a row since, the server
// refuses the whole undo (nothing of it is written) and the cells show theirs and yours,
// as for any conflict. The undo is an edit like any other: it has its own entry in the
// record's History, where it can be reverted too. The stacks live in this tab only.
(function () {
  "use strict";

  var grid = window.consoleGrid;
  if (!grid || !grid.hooks) { return; }
  var state = grid.state;
  var config = grid.config;
  var root = document.getElementById("console-grid");
  var undoButton = document.getElementById("grid-undo");
  var redoButton = document.getElementById("grid-redo");
  var LIMIT = 100;

  var undos = [];   // saved batches and groups of pending edits, the newest last
  var redos = [];
  var pendingGroups = [];  // the pending edits as they were made: [{id, key, cell}]
  var busy = false;
  var replaying = false;   // a redo of dropped edits is not a new edit: keep the redos

  function cellText(data, key) {
    var value = data ? data[key] : null;
    return {value: value === undefined || value === null || value === "" ? null : value,
            label: data && data._labels ? (data._labels[key] || null) : null};
  }

  grid.hooks.edited.push(function (edits) {
    var group = edits.map(function (edit) {
      var row = state.pending.get(edit.id);
      return {id: edit.id, key: edit.key, cell: row ? row[edit.key] : null};
    });
    pendingGroups.push(group);
    if (!replaying) { redos = []; }
    show();
  });

  grid.hooks.saved.push(function (answer, sent, before) {
    // One undo step per saved batch: each row's cells before and after, and its token now.
    var rows = [];
    (answer.rows || []).forEach(function (row) {
      var cells = sent.get(row.id) || {};
      var keys = Object.keys(cells);
      if (!keys.length) { return; }
      var old = before.get(row.id);
      var fresh = {_labels: row.labels || {}};
      Object.keys(row.values || {}).forEach(function (k) { fresh[k] = row.values[k]; });
      var step = {id: row.id, token: row.token, before: {}, after: {}};
      keys.forEach(function (key) {
        step.before[key] = cellText(old, key);
        step.after[key] = cellText(fresh, key);
      });
      rows.push(step);
    });
    // Rows the batch added: their undo is a delete, checked on the server like the rest.
    var created = Object.keys(answer.created || {}).map(function (ref) { return answer.created[ref]; })
      .filter(Boolean).map(function (row) { return {id: row.id, token: row.token}; });
    prune();
    (answer.rows || []).forEach(function (row) { retoken(row.id, row.token); });
    if (rows.length || created.length) {
      undos.push({kind: "saved", rows: rows, created: created});
      if (undos.length > LIMIT) { undos.shift(); }
    }
    show();
  });

  function retoken(id, token) {
    // A row's version moved on by one's own save: every step of that row starts from it
    // now (only someone else's change may refuse an undo, never one's own).
    [undos, redos].forEach(function (stack) {
      stack.forEach(function (entry) {
        (entry.rows || []).concat(entry.created || []).forEach(function (row) {
          if (row.id === id) { row.token = token; }
        });
      });
    });
  }

  function prune() {
    // Groups whose cells are no longer pending (saved, or taken from theirs) are gone.
    pendingGroups = pendingGroups.map(function (group) {
      return group.filter(function (item) {
        var row = state.pending.get(item.id);
        return row && row[item.key] === item.cell;
      });
    }).filter(function (group) { return group.length; });
  }

  function show() {
    prune();
    var canUndo = config.canEdit && (pendingGroups.length > 0 || undos.length > 0);
    var canRedo = config.canEdit && redos.length > 0;
    var u = pendingGroups.length + undos.length;
    if (undoButton) {
      undoButton.disabled = !canUndo || busy;
      undoButton.textContent = u ? "Undo (" + u + ")" : "Undo";
      undoButton.setAttribute("aria-label", u ? "Undo, " + u + (u === 1 ? " step" : " steps") : "Undo: nothing to undo");
    }
    if (redoButton) {
      redoButton.disabled = !canRedo || busy;
      redoButton.textContent = redos.length ? "Redo (" + redos.length + ")" : "Redo";
      redoButton.setAttribute("aria-label", redos.length ? "Redo, " + redos.length + (redos.length === 1 ? " step" : " steps") : "Redo: nothing to redo");
    }
  }

  function afterSaving(work) {
    // Wait for a batch on its way: its answer decides what the last step is.
    return grid.saving().then(function () {
      return state.sending ? afterSaving(work) : work();
    });
  }

  function dropPending() {
    // The last group of unsaved edits goes; what is left is sent again, as after a fix.
    prune();
    var group = pendingGroups.pop();
    var dropped = [];
    var touched = new Set();
    if (group) {
      group.forEach(function (item) {
        var row = state.pending.get(item.id);
        if (!row || row[item.key] !== item.cell) { return; }
        delete row[item.key];
        dropped.push({id: item.id, key: item.key, value: item.cell.value, label: item.cell.label, byKey: item.cell.byKey});
        var problems = state.problems.get(item.id);
        if (problems) { delete problems[item.key]; }
        if (!Object.keys(row).length) {
          state.pending.delete(item.id);
          state.problems.delete(item.id);
          state.conflicts.delete(item.id);
        }
        touched.add(item.id);
      });
    }
    touched.forEach(grid.redrawRow);
    if (dropped.length) { redos.push({kind: "pending", edits: dropped}); }
    grid.say(dropped.length ? "Undone: " + dropped.length + (dropped.length === 1 ? " unsaved edit" : " unsaved edits") + " dropped." : "", true);
    grid.decorateVisible();
    show();
    if (state.pending.size) { return grid.save(); }
    return Promise.resolve();
  }

  function post(body) {
    return fetch(config.saveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": config.csrf},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () {
        return {ok: false, problems: [{row: "", column: null, message: "The server's answer was not understood (" + response.status + ")."}]};
      });
    });
  }

  function removeRows(ids) {
    // Rows an undo deleted leave the grid (and the count).
    var gone = new Set(ids.map(String));
    var focusId = state.order[state.focus.row];
    state.order = state.order.filter(function (id) { return !gone.has(String(id)); });
    state.pos = new Map();
    state.order.forEach(function (id, i) { state.pos.set(id, i); });
    gone.forEach(function (id) {
      var row = grid.table.getRow(id);
      if (row) { row.delete(); }
      state.pending.delete(id);
      state.problems.delete(id);
      state.conflicts.delete(id);
    });
    if (state.count && state.count.exact) { state.count.value -= gone.size; }
    var at = state.pos.get(focusId);
    state.focus = {row: at !== undefined ? at : Math.max(0, Math.min(state.focus.row, state.order.length - 1)),
                   col: state.focus.col};
    state.anchor = null;
    grid.table.getRows().forEach(function (row) { row.reformat(); });
  }

  function showCell(rows) {
    // As in a spreadsheet, the focus goes to what was undone (its first cell, if loaded).
    var first = rows[0];
    var r = first ? state.pos.get(first.id) : undefined;
    if (r === undefined) { return; }
    var keys = Object.keys(first.before);
    var c = grid.columns().map(function (col) { return col.key; }).indexOf(keys[0]);
    if (c >= 0) { grid.moveTo(r, c, false); }
  }

  function replay(entry, backwards) {
    // Send the entry's values from before (undo) or after (redo), at the version it left.
    var from = backwards ? "before" : "after";
    var deletes = backwards ? (entry.created || []).map(function (row) { return {row: row.id, token: row.token}; }) : [];
    var changes = [];
    var edits = [];
    entry.rows.forEach(function (row) {
      Object.keys(row[from]).forEach(function (key) {
        var cell = row[from][key];
        changes.push({row: row.id, token: row.token, column: key, value: cell.value, byKey: false});
        edits.push({id: row.id, key: key, value: cell.value, label: cell.label, byKey: false});
      });
    });
    var word = backwards ? "Undo" : "Redo";
    var request = post({changes: changes, creates: [], deletes: deletes}).then(function (answer) {
      if (answer.ok) {
        var rows = {};
        (answer.rows || []).forEach(function (row) {
          rows[row.id] = row;
          grid.applyRow(row, {});
          retoken(row.id, row.token);
        });
        var deleted = answer.deleted || [];
        if (deleted.length) { removeRows(deleted); }
        showCell(entry.rows);
        // The opposite step starts from the version this one produced. A delete is not
        // redone (the rows would come back under new keys): paste them again.
        var back = {kind: "saved", created: [], rows: entry.rows.map(function (row) {
          var now = rows[row.id];
          return {id: row.id, token: now ? now.token : row.token, before: row.before, after: row.after};
        })};
        if (!deleted.length) { (backwards ? redos : undos).push(back); } else { redos = []; }
        var n = changes.length;
        var cellsText = n ? n + (n === 1 ? " cell" : " cells") + " set back" : "";
        var rowsText = deleted.length ? deleted.length + (deleted.length === 1 ? " added row" : " added rows") + " deleted" : "";
        grid.say((backwards ? "Undone: " : "Redone: ") + [cellsText, rowsText].filter(Boolean).join(" and ") +
                 (deleted.length ? " (redo does not bring rows back: paste them again)." :
                  backwards ? " (Ctrl+Y redoes)." : "."), true);
        grid.decorateVisible();
        return;
      }
      var moved = Object.keys(answer.conflicts || {}).map(function (id) {
        return String(answer.conflicts[id].message || "").replace(/^Not saved: /, "");
      });
      var refusedText = word + " refused, nothing was written: ";
      if (moved.length && !deletes.length) {
        // The step's values become unsaved edits of the rows, so a conflict shows theirs
        // and yours in the cells (Use mine / Take theirs); Ctrl+Z drops them again.
        replaying = true;
        grid.markPending(edits);
        replaying = false;
        grid.refused(answer);
        grid.say(refusedText + moved[0] + (moved.length > 1 ? " (and " + (moved.length - 1) + " more rows)" : "") +
                 " Use yours or take theirs in the cells, or press Ctrl+Z to drop the " + word.toLowerCase() + ".");
        return;
      }
      // Nothing to decide in a cell (or rows to delete that moved on): the step goes, and
      // the message says why; nothing of it stays pending to be sent with a later edit.
      grid.say(refusedText + (moved.length ? moved.join(" ") :
               (answer.problems || []).map(function (p) { return p.message; }).join(" ")) +
               " This step was taken off the undo list.");
    }, function () {
      (backwards ? undos : redos).push(entry);
      grid.say(word + " not done: the server could not be reached. Try again.");
    });
    return request;
  }

  function step(backwards) {
    if (!config.canEdit) { grid.say(config.readOnly); return Promise.resolve(); }
    if (busy) { return Promise.resolve(); }
    busy = true;
    show();
    return afterSaving(function () {
      prune();
      if (backwards && pendingGroups.length) { return dropPending(); }
      var stack = backwards ? undos : redos;
      var entry = stack.pop();
      if (!entry) {
        grid.say(backwards ? "Nothing to undo." : "Nothing to redo.", true);
        return Promise.resolve();
      }
      if (entry.kind === "pending") {
        replaying = true;
        grid.setCells(entry.edits.map(function (e) { return Object.assign({}, e); }));
        replaying = false;
        return grid.saving();
      }
      var run = replay(entry, backwards);
      // Hold the grid's save while this batch is on its way: an edit meanwhile waits for
      // the new versions instead of conflicting with this very undo.
      state.sending = run;
      var release = function () {
        state.sending = null;
        if (state.again) { state.again = false; return grid.save(); }
      };
      return run.then(release, function (error) { release(); throw error; });
    }).then(function () {
      busy = false;
      show();
      grid.showStatus();
    }, function () {
      busy = false;
      show();
    });
  }

  function undo() { return step(true); }
  function redo() { return step(false); }

  root.addEventListener("keydown", function (event) {
    if (state.editor || event.target !== root) { return; }
    if (!(event.ctrlKey || event.metaKey) || event.altKey) { return; }
    var key = event.key.toLowerCase();
    if (key === "z" && !event.shiftKey) { event.preventDefault(); undo(); }
    else if ((key === "z" && event.shiftKey) || (key === "y" && !event.shiftKey)) { event.preventDefault(); redo(); }
  });

  if (undoButton) { undoButton.addEventListener("click", function () { undo().then(function () { root.focus({preventScroll: true}); }); }); }
  if (redoButton) { redoButton.addEventListener("click", function () { redo().then(function () { root.focus({preventScroll: true}); }); }); }
  show();

  grid.undo = undo;
  grid.redo = redo;
  grid.history = {
    undos: function () { return undos.length + pendingGroups.length; },
    redos: function () { return redos.length; },
    busy: function () { return busy; }
  };
}());
