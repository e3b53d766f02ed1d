// A parent's edit form (templates/admin/console/edit.html): each inline collection that
// console/admin/inline_grids.py describes becomes a compact grid (grid.js's
// createConsoleGrid) over the child's own grid/rows, narrowed to this parent's children,
// in place of the classic inline table. Edits there save at once, row by row, as in the
// model's grid; a row pasted below the last one gets this parent's reference. The classic
// table goes with its inputs, so the form's Save writes the parent's own fields only and
// a stale inline row can never overwrite a grid edit. Save while a grid still holds
// unsaved or refused edits asks first; leaving the page asks too (grid.js's beforeunload).
// Without JavaScript none of this runs: the classic table, a page at a time, stays.
(function () {
  "use strict";

  var element = document.getElementById("inline-grids-config");
  if (!element || !window.createConsoleGrid) { return; }
  var entries = JSON.parse(element.textContent);
  // As tall as its rows, up to about ten; more rows load by keyset as the grid scrolls.
  var HEIGHT = "min(21rem, 60vh)";
  var grids = [];

  function isNew(id) { return String(id).indexOf("new-") === 0; }

  function stop(event) {
    // The grid's own editors are no changes of the parent form (console-page.js watches
    // the form's inputs to warn before leaving): the grid says itself what is unsaved.
    event.stopPropagation();
  }

  entries.forEach(function (entry) {
    var table = document.getElementById(entry.field);
    if (!table || table.tagName !== "TABLE") { return; }
    var classic = table.closest(".table-responsive") || table;
    var form = classic.closest("form");
    var config = Object.assign({}, entry.grid);
    var prefix = "inline-" + entry.field;

    var section = document.createElement("div");
    section.className = "console-inline-grid";
    section.id = prefix + "-section";
    var caption = document.createElement("p");
    caption.className = "small text-muted mb-1";
    caption.id = prefix + "-caption";
    caption.textContent = "Edits here save at once, row by row, like the grid; the form's Save is for the " +
      "fields above; Ctrl+Z undoes, Shift+F10 opens a row's menu. Add " + config.singular +
      " makes a new row to type in or paste spreadsheet rows into.";
    var status = document.createElement("div");
    status.className = "grid-status small text-muted mb-1";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    var parts = {prefix: prefix, maxHeight: HEIGHT};
    ["count", "selection", "pending", "message"].forEach(function (name) {
      var span = document.createElement("span");
      span.id = prefix + "-" + name;
      if (name === "message") { span.className = "text-danger"; }
      status.appendChild(span);
      status.appendChild(document.createTextNode(" "));
      parts[name] = span;
    });
    var root = document.createElement("div");
    root.className = "console-grid console-inline-grid-grid";
    root.id = prefix + "-grid";
    root.setAttribute("aria-label", entry.label + " of " + entry.parentLabel);
    root.setAttribute("aria-describedby", caption.id);
    section.appendChild(caption);
    section.appendChild(status);
    section.appendChild(root);
    // A parent without children has no row for a paste to start from: Add makes one.
    var add = document.createElement("button");
    add.type = "button";
    add.className = "btn btn-sm btn-primary mt-1";
    add.id = prefix + "-add";
    add.textContent = "Add " + config.singular;
    add.title = "An empty row below the last one: type in it, or paste rows from a spreadsheet there";
    section.appendChild(add);
    // The classic table, for this page (it pages the children in the form itself).
    var classicUrl = new URL(window.location.href);
    classicUrl.searchParams.set("inline", "classic");
    var back = document.createElement("a");
    back.className = "btn btn-sm btn-link mt-1";
    back.id = prefix + "-classic";
    back.href = classicUrl.pathname + classicUrl.search;
    back.textContent = "Use the form's table instead";
    section.appendChild(back);
    // The classic table and its inputs leave the form (not only hidden: not submitted).
    classic.parentNode.replaceChild(section, classic);
    Array.prototype.forEach.call(document.querySelectorAll("[data-console-inline]"), function (note) {
      // The form's paging of these children: the grid pages itself.
      if (note.getAttribute("data-console-inline") === entry.field) { note.hidden = true; }
    });
    section.addEventListener("input", stop);
    section.addEventListener("change", stop);

    var grid = window.createConsoleGrid(root, config, parts);
    grid.hooks.edited.push(function (edits) {
      // A row added here belongs to this parent (its reference column is hidden here).
      edits.forEach(function (edit) {
        if (!isNew(edit.id) || grid.pendingOf(edit.id, entry.fk)) { return; }
        grid.markPending([{id: edit.id, key: entry.fk, value: entry.parentValue, label: entry.parentLabel, byKey: false}]);
      });
    });
    // Undo and redo (one history for the page's grids) and the context menu, as in the
    // model's grid (grid-undo.js, grid-menu.js).
    if (window.consoleGridUndo) { window.consoleGridUndo.attach(grid, {root: root}); }
    if (window.consoleGridMenu) { window.consoleGridMenu.attach(grid, {root: root}); }
    add.addEventListener("click", function () { grid.appendRow(); });
    grids.push({entry: entry, grid: grid, form: form});
  });

  function unsaved(item) {
    return item.grid.state.pending.size > 0;
  }

  function busy(item) {
    // An editor still open (a click on Save commits it, grid.js, a moment later) or a
    // batch on its way: the form waits for them before it decides.
    return !!item.grid.state.editor || !!item.grid.state.sending;
  }

  function settle(items, tries) {
    return new Promise(function (resolve) {
      (function poll(left) {
        if (!left || !items.some(busy)) { resolve(); return; }
        setTimeout(function () { poll(left - 1); }, 50);
      }(tries));
    });
  }

  var forms = [];
  grids.forEach(function (item) { if (item.form && forms.indexOf(item.form) < 0) { forms.push(item.form); } });
  forms.forEach(function (form) {
    var mine = grids.filter(function (item) { return item.form === form; });
    form.addEventListener("submit", function (event) {
      if (mine.some(busy)) {
        // Submitted again (with the same button) once the grid's edit is saved or refused.
        event.preventDefault();
        event.stopImmediatePropagation();
        var submitter = event.submitter || null;
        settle(mine, 100).then(function () {
          if (form.requestSubmit) { form.requestSubmit(submitter); } else { form.submit(); }
        });
        return;
      }
      var waiting = mine.filter(unsaved);
      if (!waiting.length) { return; }
      var what = waiting.map(function (item) { return item.entry.label.toLowerCase(); }).join(" and ");
      if (!window.confirm("The grid of " + what + " has edits that are not saved (or were refused): " +
                          "saving this form loses them. Save the form anyway?")) {
        event.preventDefault();
        event.stopImmediatePropagation();
        return;
      }
      // Given up: the grid's own warning on leaving would only ask again.
      waiting.forEach(function (item) { item.grid.state.pending.clear(); });
    });
  });

  window.consoleInlineGrids = grids;
}());
