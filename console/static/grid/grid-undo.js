// Undo and redo in the grids of a page (Ctrl+Z; Ctrl+Y or Ctrl+Shift+Z; the toolbar's
// buttons). One history per workspace: the page's grid and the detail grids under it
// (grid-detail.js) share it, so Ctrl+Z in either undoes the user's last change on the
// page, whichever grid it was made in, and says what it undid. Each step remembers its
// grid (and so its model's save endpoint). Unsaved edits (a batch the server refused, or
// still on its way) are simply dropped, the last first. A saved batch is undone on the
// server, through its grid's own batch endpoint: a new batch that sets each cell back to
// the value it had, checked against the version the save produced. If someone else
// changed a row since, the server refuses the whole undo (nothing of it is written) and
// the cells show theirs and yours, as for any conflict. The undo is an edit like any
// other: it has its own entry in the record's History, where it can be reverted too.
// Other scripts add steps of their own (a move of children: ``record``). The history
// lives in this tab only.
(function () {
  "use strict";

  var LIMIT = 100;
  var undos = [];   // saved batches, the newest last: {slot, seq, rows, created, what}
  var redos = [];
  var slots = [];   // one per attached grid: {grid, pendingGroups, replaying}
  var seq = 0;      // orders steps across grids: the newest is undone first
  var busy = false;
  var lastSlot = null; // the grid last used: the toolbar's buttons give the focus back to it
  var undoButton = null;
  var redoButton = null;

  function cellText(data, key) {
    var value = data ? data[key] : null;
    return {value: value === undefined || value === null || value === "" ? null : value,
            label: data && data._labels ? (data._labels[key] || null) : null};
  }

  function retoken(slot, id, token) {
    // A row's version moved on by one's own save: every step of that row starts from it
    // now (only someone else's change may refuse an undo, never one's own). Ids are per
    // grid (a list and a to-do may share one).
    [undos, redos].forEach(function (stack) {
      stack.forEach(function (entry) {
        if (entry.slot !== slot) { return; }
        (entry.rows || []).concat(entry.created || []).forEach(function (row) {
          if (String(row.id) === String(id)) { row.token = token; }
        });
      });
    });
  }

  function prune(slot) {
    // Groups whose cells are no longer pending (saved, or taken from theirs) are gone.
    var state = slot.grid.state;
    slot.pendingGroups = slot.pendingGroups.map(function (group) {
      return {seq: group.seq, items: group.items.filter(function (item) {
        var row = state.pending.get(item.id);
        return row && row[item.key] === item.cell;
      })};
    }).filter(function (group) { return group.items.length; });
  }

  function pendingCount() {
    var n = 0;
    slots.forEach(function (slot) { prune(slot); n += slot.pendingGroups.length; });
    return n;
  }

  function canEditAny() { return slots.some(function (slot) { return slot.grid.config.canEdit; }); }

  function show() {
    var u = pendingCount() + undos.length;
    var canUndo = canEditAny() && u > 0;
    var canRedo = canEditAny() && redos.length > 0;
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

  function push(entry) {
    entry.seq = ++seq;
    undos.push(entry);
    if (undos.length > LIMIT) { undos.shift(); }
  }

  function afterSaving(work) {
    // Wait for any batch on its way, in any grid: its answer decides what the last step is.
    return Promise.all(slots.map(function (slot) { return slot.grid.saving(); })).then(function () {
      var sending = slots.some(function (slot) { return slot.grid.state.sending; });
      return sending ? afterSaving(work) : work();
    });
  }

  function dropPending(slot, from) {
    // The last group of unsaved edits goes; what is left is sent again, as after a fix.
    var grid = slot.grid;
    var state = grid.state;
    prune(slot);
    var group = slot.pendingGroups.pop();
    var dropped = [];
    var touched = new Set();
    if (group) {
      group.items.forEach(function (item) {
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
    if (dropped.length) { redos.push({kind: "pending", slot: slot, edits: dropped}); }
    tell(slot, from, dropped.length ? "Undone" + where(slot, from) + ": " + dropped.length +
         (dropped.length === 1 ? " unsaved edit" : " unsaved edits") + " dropped." : "", true);
    grid.decorateVisible();
    show();
    if (state.pending.size) { return grid.save(); }
    return Promise.resolve();
  }

  function where(slot, from) {
    // A step done in the other grid says which: "Undone in to-dos: …".
    return slot === from ? "" : " in " + slot.grid.config.plural;
  }

  function tell(slot, from, message, good) {
    slot.grid.say(message, good);
    if (from && from !== slot) { from.grid.say(message, good); }
  }

  function post(grid, body) {
    return fetch(grid.config.saveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": grid.config.csrf},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () {
        return {ok: false, problems: [{row: "", column: null, message: "The server's answer was not understood (" + response.status + ")."}]};
      });
    });
  }

  function removeRows(grid, ids) {
    // Rows an undo deleted leave the grid (and the count).
    var state = grid.state;
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

  function showCell(grid, rows) {
    // As in a spreadsheet, the focus goes to what was undone (its first cell, if loaded).
    var first = rows[0];
    var r = first ? grid.state.pos.get(first.id) : undefined;
    if (r === undefined) { return; }
    var keys = Object.keys(first.before);
    var c = grid.columns().map(function (col) { return col.key; }).indexOf(keys[0]);
    if (c >= 0) { grid.moveTo(r, c, false); }
  }

  function replay(entry, backwards, from) {
    // Send the entry's values from before (undo) or after (redo), at the version it left.
    var slot = entry.slot;
    var grid = slot.grid;
    var field = backwards ? "before" : "after";
    var deletes = backwards ? (entry.created || []).map(function (row) { return {row: row.id, token: row.token}; }) : [];
    var changes = [];
    var edits = [];
    entry.rows.forEach(function (row) {
      Object.keys(row[field]).forEach(function (key) {
        var cell = row[field][key];
        changes.push({row: row.id, token: row.token, column: key, value: cell.value, byKey: false});
        edits.push({id: row.id, key: key, value: cell.value, label: cell.label, byKey: false});
      });
    });
    var word = backwards ? "Undo" : "Redo";
    var request = post(grid, {changes: changes, creates: [], deletes: deletes}).then(function (answer) {
      if (answer.ok) {
        var rows = {};
        (answer.rows || []).forEach(function (row) {
          rows[row.id] = row;
          grid.applyRow(row, {});
          retoken(slot, row.id, row.token);
        });
        var deleted = answer.deleted || [];
        if (deleted.length) { removeRows(grid, deleted); }
        showCell(grid, entry.rows);
        // The opposite step starts from the version this one produced. A delete is not
        // redone (the rows would come back under new keys): paste them again.
        var back = {kind: "saved", slot: slot, created: [], what: entry.what,
                    rows: entry.rows.map(function (row) {
                      var now = rows[row.id];
                      return {id: row.id, token: now ? now.token : row.token, before: row.before, after: row.after};
                    })};
        if (!deleted.length) {
          if (backwards) { redos.push(back); } else { push(back); }
        } else { redos = []; }
        var n = changes.length;
        var text;
        if (entry.what) {
          text = (backwards ? "Undone: " + entry.what.undone + " (Ctrl+Y redoes)." : "Redone: " + entry.what.redone + ".");
        } else {
          var cellsText = n ? n + (n === 1 ? " cell" : " cells") + " set back" : "";
          var rowsText = deleted.length ? deleted.length + (deleted.length === 1 ? " added row" : " added rows") + " deleted" : "";
          text = (backwards ? "Undone" : "Redone") + where(slot, from) + ": " + [cellsText, rowsText].filter(Boolean).join(" and ") +
            (deleted.length ? " (redo does not bring rows back: paste them again)." :
             backwards ? " (Ctrl+Y redoes)." : ".");
        }
        if (slot.replayed) { slot.replayed(entry, backwards); }
        tell(slot, from, text, true);
        grid.decorateVisible();
        return;
      }
      var moved = Object.keys(answer.conflicts || {}).map(function (id) {
        return String(answer.conflicts[id].message || "").replace(/^Not saved: /, "");
      });
      var refusedText = word + " refused" + where(slot, from) + ", nothing was written: ";
      // Only rows the grid holds now can show theirs and yours (a detail grid may show
      // another parent's children by now).
      var loaded = edits.filter(function (edit) { return grid.state.pos.has(edit.id); });
      if (moved.length && !deletes.length && loaded.length) {
        // The step's values become unsaved edits of the rows, so a conflict shows theirs
        // and yours in the cells (Use mine / Take theirs); Ctrl+Z drops them again.
        slot.replaying = true;
        grid.markPending(loaded);
        slot.replaying = false;
        grid.refused(answer);
        tell(slot, from, refusedText + moved[0] + (moved.length > 1 ? " (and " + (moved.length - 1) + " more rows)" : "") +
             " Use yours or take theirs in the cells, or press Ctrl+Z to drop the " + word.toLowerCase() + ".");
        return;
      }
      // Nothing to decide in a cell (or rows to delete that moved on): the step goes, and
      // the message says why; nothing of it stays pending to be sent with a later edit.
      tell(slot, from, refusedText + (moved.length ? moved.join(" ") :
           (answer.problems || []).map(function (p) { return p.message; }).join(" ")) +
           " This step was taken off the undo list.");
    }, function () {
      (backwards ? undos : redos).push(entry);
      tell(slot, from, word + " not done: the server could not be reached. Try again.");
    });
    return request;
  }

  function newestPending() {
    // The grid whose last group of unsaved edits is the newest, and that group's order.
    var best = null;
    slots.forEach(function (slot) {
      prune(slot);
      var last = slot.pendingGroups[slot.pendingGroups.length - 1];
      if (last && (!best || last.seq > best.seq)) { best = {slot: slot, seq: last.seq}; }
    });
    return best;
  }

  function step(backwards, from) {
    var grid = from.grid;
    if (!grid.config.canEdit && !canEditAny()) { grid.say(grid.config.readOnly); return Promise.resolve(); }
    if (busy) { return Promise.resolve(); }
    busy = true;
    show();
    var held = null;
    return afterSaving(function () {
      var pending = backwards ? newestPending() : null;
      var top = undos[undos.length - 1];
      if (pending && (!top || pending.seq > top.seq)) { return dropPending(pending.slot, from); }
      var stack = backwards ? undos : redos;
      var entry = stack.pop();
      if (!entry) {
        grid.say(backwards ? "Nothing to undo." : "Nothing to redo.", true);
        return Promise.resolve();
      }
      var target = entry.slot;
      if (entry.kind === "pending") {
        target.replaying = true;
        target.grid.setCells(entry.edits.map(function (e) { return Object.assign({}, e); }));
        target.replaying = false;
        return target.grid.saving();
      }
      var run = replay(entry, backwards, from);
      // Hold the grid's save while this batch is on its way: an edit meanwhile waits for
      // the new versions instead of conflicting with this very undo.
      held = target.grid;
      held.state.sending = run;
      var release = function () {
        held.state.sending = null;
        if (held.state.again) { held.state.again = false; return held.save(); }
      };
      return run.then(release, function (error) { release(); throw error; });
    }).then(function () {
      busy = false;
      show();
      slots.forEach(function (slot) { slot.grid.showStatus(); });
    }, function () {
      busy = false;
      show();
    });
  }

  function attach(grid, options) {
    // Undo and redo for ``grid`` (its keys, its hooks), in the page's one history.
    // options: {root (default grid.root), undoButton, redoButton, replayed: function
    // (entry, backwards) called once an undo or redo of this grid is written}.
    if (!grid || !grid.hooks) { return null; }
    options = options || {};
    var root = options.root || grid.root;
    var slot = {grid: grid, pendingGroups: [], replaying: false, replayed: options.replayed || null};
    slots.push(slot);
    if (!lastSlot) { lastSlot = slot; }

    grid.hooks.edited.push(function (edits) {
      var items = edits.map(function (edit) {
        var row = grid.state.pending.get(edit.id);
        return {id: edit.id, key: edit.key, cell: row ? row[edit.key] : null};
      });
      slot.pendingGroups.push({seq: ++seq, items: items});
      if (!slot.replaying) { redos = []; }
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
        var change = {id: row.id, token: row.token, before: {}, after: {}};
        keys.forEach(function (key) {
          change.before[key] = cellText(old, key);
          change.after[key] = cellText(fresh, key);
        });
        rows.push(change);
      });
      // Rows the batch added: their undo is a delete, checked on the server like the rest.
      var created = Object.keys(answer.created || {}).map(function (ref) { return answer.created[ref]; })
        .filter(Boolean).map(function (row) { return {id: row.id, token: row.token}; });
      prune(slot);
      (answer.rows || []).forEach(function (row) { retoken(slot, row.id, row.token); });
      if (rows.length || created.length) { push({kind: "saved", slot: slot, rows: rows, created: created}); }
      show();
    });

    root.addEventListener("focus", function () { lastSlot = slot; });
    root.addEventListener("keydown", function (event) {
      if (grid.state.editor || event.target !== root) { return; }
      if (!(event.ctrlKey || event.metaKey) || event.altKey) { return; }
      var key = event.key.toLowerCase();
      if (key === "z" && !event.shiftKey) { event.preventDefault(); step(true, slot); }
      else if ((key === "z" && event.shiftKey) || (key === "y" && !event.shiftKey)) { event.preventDefault(); step(false, slot); }
    });

    if (options.undoButton) { undoButton = options.undoButton; }
    if (options.redoButton) { redoButton = options.redoButton; }
    [[options.undoButton, true], [options.redoButton, false]].forEach(function (pair) {
      if (!pair[0]) { return; }
      pair[0].addEventListener("click", function () {
        var back = lastSlot || slot;
        step(pair[1], back).then(function () { back.grid.root.focus({preventScroll: true}); });
      });
    });
    show();

    grid.undo = function () { return step(true, slot); };
    grid.redo = function () { return step(false, slot); };
    grid.history = {
      undos: function () { return undos.length + pendingCount(); },
      redos: function () { return redos.length; },
      busy: function () { return busy; }
    };
    return slot;
  }

  function record(grid, entry) {
    // A step made outside the grid's own batches (grid-detail.js: a move of children):
    // {rows: [{id, token, before: {key: {value, label}}, after: {…}}], what: {undone,
    // redone}: what the status line says it undid or redid}.
    var slot = slots.filter(function (s) { return s.grid === grid; })[0];
    if (!slot) { return; }
    push({kind: "saved", slot: slot, rows: entry.rows, created: [], what: entry.what});
    redos = [];
    show();
  }

  window.consoleGridUndo = {
    attach: attach,
    record: record,
    undos: function () { return undos.length + pendingCount(); },
    redos: function () { return redos.length; },
    busy: function () { return busy; }
  };

  var page = window.consoleGrid;
  if (page && page.hooks) {
    attach(page, {root: document.getElementById("console-grid"),
                  undoButton: document.getElementById("grid-undo"),
                  redoButton: document.getElementById("grid-redo")});
  }
}());
