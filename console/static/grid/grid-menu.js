// The grid's context menu: right-click on a cell, or the Menu key / Shift+F10 on the
// focused one (WAI-ARIA menu: arrows, Home/End, Enter or Space, Esc back to the grid).
// Everything in it is something the grid or the classic pages already do: copy and
// paste, undo and redo, clear, duplicate (new rows through the grid's own batch, as a
// paste's surplus lines are), and links to the row's page, its form, its History and the
// delete preview of the selected rows. The grid itself never deletes a row.
// ``window.consoleGridMenu.attach(grid, options)`` gives a grid its menu: the page's grid
// here, each detail grid from grid-detail.js (with that child model's own pages).
(function () {
  "use strict";

  function attach(grid, options) {
    if (!grid || !grid.hooks) { return null; }
    options = options || {};
    var state = grid.state;
    var config = grid.config;
    var root = options.root || grid.root;
    var menu = null;
    var opener = null;

    function here() { return window.location.pathname + window.location.search; }

    function savedRowIds() {
      // The selection's rows that exist in the database (not rows pasted and not yet saved).
      var rows = new Set(grid.rangeCells().map(function (c) { return c.row; }));
      var ids = [];
      rows.forEach(function (r) {
        var id = state.order[r];
        if (id !== undefined && String(id).indexOf("new-") !== 0) { ids.push(String(id)); }
      });
      return ids;
    }

    function focusedId() {
      var id = state.order[state.focus.row];
      return id === undefined || String(id).indexOf("new-") === 0 ? null : String(id);
    }

    function go(base, ids) {
      var params = new URLSearchParams();
      ids.forEach(function (id) { params.append("id", id); });
      params.set("url", here());
      window.location.assign(base + "?" + params.toString());
    }

    function copy() {
      root.focus({preventScroll: true});
      // The grid's own copy handler fills the clipboard (the same text as Ctrl+C).
      if (!document.execCommand("copy")) { grid.say("Press Ctrl+C in the grid to copy."); }
    }

    function paste() {
      root.focus({preventScroll: true});
      if (!config.canEdit) { grid.say(config.readOnly); return; }
      var refuse = function () {
        grid.say("This browser does not let the page read the clipboard: press Ctrl+V in the grid to paste.");
      };
      if (!navigator.clipboard || !navigator.clipboard.readText) { refuse(); return; }
      navigator.clipboard.readText().then(function (text) {
        if (text) { grid.paste(text); } else { grid.say("The clipboard holds no text to paste."); }
      }, refuse);
    }

    function copyLink(id) {
      // The record's details page, to send to someone (it opens for anyone allowed to look).
      root.focus({preventScroll: true});
      var url = new URL(config.detailsUrl + "?" + new URLSearchParams({id: id}).toString(), window.location.href).href;
      if (!navigator.clipboard || !navigator.clipboard.writeText) { grid.say("The link: " + url, true); return; }
      navigator.clipboard.writeText(url).then(function () { grid.say("Copied the link to the record.", true); },
                                              function () { grid.say("The link: " + url, true); });
    }

    function duplicate() {
      // Each selected saved row again, as new rows just under the selection, with every
      // editable cell it holds (hidden columns too). The server validates them as any
      // new row: a column that must be unique is refused at its cell, for the user to fix.
      root.focus({preventScroll: true});
      if (!config.canEdit) { grid.say(config.readOnly); return; }
      var rows = [];
      new Set(grid.rangeCells().map(function (c) { return c.row; })).forEach(function (r) {
        var id = state.order[r];
        if (id !== undefined && String(id).indexOf("new-") !== 0) { rows.push(r); }
      });
      rows.sort(function (a, b) { return a - b; });
      if (!rows.length) { grid.say("Only saved rows can be duplicated."); return; }
      var sources = rows.map(function (r) { return grid.dataOf(state.order[r]); });
      var col = state.focus.col;
      var made = grid.insertNewRows(rows[rows.length - 1], sources.length);
      var edits = [];
      sources.forEach(function (data, i) {
        grid.allColumns().forEach(function (column) {
          if (!column.editable) { return; }
          var pend = grid.pendingOf(data._id, column.key);
          var value = pend ? pend.value : data[column.key];
          if (value === undefined || value === null || value === "") { return; }
          var reference = column.editor === "reference";
          edits.push({id: made[i], key: column.key, value: value,
                      label: pend ? pend.label : reference ? (data._labels[column.key] || value) : null,
                      byKey: pend ? pend.byKey : false});
        });
      });
      grid.moveTo(state.pos.get(made[0]), col, false);
      if (made.length > 1) { grid.moveTo(state.pos.get(made[made.length - 1]), col, true); }
      grid.setCells(edits);
    }

    function items() {
      var id = focusedId();
      var ids = savedRowIds();
      var undoable = grid.history ? grid.history.undos() > 0 : false;
      var redoable = grid.history ? grid.history.redos() > 0 : false;
      var rowsWord = ids.length === 1 ? "row" : ids.length + " rows";
      // Items of the console's other scripts first (grid-detail.js: "Move 2 to-dos here").
      var extra = [];
      (grid.hooks.menu || []).forEach(function (hook) { extra = extra.concat(hook()); });
      return extra.concat([
        {key: "copy", label: "Copy", keys: "Ctrl+C", act: copy},
        {key: "paste", label: "Paste", keys: "Ctrl+V", act: paste, off: !config.canEdit},
        {separator: true},
        {key: "undo", label: "Undo", keys: "Ctrl+Z", act: function () { root.focus(); grid.undo(); }, off: !config.canEdit || !undoable},
        {key: "redo", label: "Redo", keys: "Ctrl+Y", act: function () { root.focus(); grid.redo(); }, off: !config.canEdit || !redoable},
        {key: "clear", label: "Clear " + (grid.rangeCells().length === 1 ? "cell" : "cells"), keys: "Delete",
         act: function () { root.focus(); grid.clearCells(); }, off: !config.canEdit},
        {separator: true},
        {key: "open", label: "Open record", keys: "",
         act: function () { go(config.detailsUrl, [id]); }, off: !id},
        {key: "edit", label: "Edit in form", keys: "",
         act: function () { go(config.editUrl, [id]); }, off: !id || !config.editUrl},
        {key: "history", label: "Show history", keys: "",
         act: function () { go(config.historyUrl, [id]); }, off: !id},
        {key: "link", label: "Copy link to record", keys: "", act: function () { copyLink(id); }, off: !id},
        {key: "duplicate", label: "Duplicate " + rowsWord, keys: "", act: duplicate,
         off: !config.canEdit || !ids.length, hint: "New rows with the same values, saved like a paste"},
        {separator: true},
        {key: "delete", label: "Delete " + rowsWord + "…", keys: "",
         act: function () { go(config.deleteUrl, ids); }, off: !config.deleteUrl || !ids.length,
         hint: "Shows what the delete takes with it first"}
      ]);
    }

    function entries() { return menu ? Array.prototype.slice.call(menu.querySelectorAll("[role=menuitem]")) : []; }

    function focusItem(el) {
      entries().forEach(function (item) { item.tabIndex = item === el ? 0 : -1; });
      if (el) { el.focus(); }
    }

    function close(back) {
      if (!menu) { return; }
      menu.parentNode.removeChild(menu);
      menu = null;
      document.removeEventListener("mousedown", outside, true);
      if (back && opener) { opener.focus({preventScroll: true}); }
    }

    function outside(event) {
      if (menu && !menu.contains(event.target)) { close(false); }
    }

    function open(x, y) {
      close(false);
      opener = root;
      menu = document.createElement("ul");
      menu.className = "grid-menu";
      menu.id = "grid-menu";
      menu.setAttribute("role", "menu");
      menu.setAttribute("aria-label", "Cell actions");
      items().forEach(function (item) {
        var li = document.createElement("li");
        if (item.separator) {
          li.setAttribute("role", "separator");
          li.className = "grid-menu-separator";
          menu.appendChild(li);
          return;
        }
        li.setAttribute("role", "menuitem");
        li.tabIndex = -1;
        li.id = "grid-menu-" + item.key;
        li.setAttribute("data-action", item.key);
        if (item.off) { li.setAttribute("aria-disabled", "true"); }
        if (item.hint) { li.title = item.hint; }
        var label = document.createElement("span");
        label.textContent = item.label;
        li.appendChild(label);
        if (item.keys) {
          li.setAttribute("aria-keyshortcuts", item.keys.replace("Ctrl", "Control"));
          var keys = document.createElement("span");
          keys.className = "grid-menu-keys";
          keys.setAttribute("aria-hidden", "true");
          keys.textContent = item.keys;
          li.appendChild(keys);
        }
        li.addEventListener("click", function (event) {
          event.preventDefault();
          if (item.off) { return; }
          close(false);
          item.act();
        });
        menu.appendChild(li);
      });
      menu.addEventListener("keydown", menuKey);
      document.body.appendChild(menu);
      // Kept inside the window.
      var box = menu.getBoundingClientRect();
      menu.style.left = Math.max(0, Math.min(x, window.innerWidth - box.width - 4)) + "px";
      menu.style.top = Math.max(0, Math.min(y, window.innerHeight - box.height - 4)) + "px";
      document.addEventListener("mousedown", outside, true);
      focusItem(entries().filter(function (el) { return el.getAttribute("aria-disabled") !== "true"; })[0] || entries()[0]);
    }

    function menuKey(event) {
      var list = entries();
      var at = list.indexOf(document.activeElement);
      var handled = true;
      switch (event.key) {
        case "ArrowDown": focusItem(list[(at + 1) % list.length]); break;
        case "ArrowUp": focusItem(list[(at - 1 + list.length) % list.length]); break;
        case "Home": focusItem(list[0]); break;
        case "End": focusItem(list[list.length - 1]); break;
        case "Enter": case " ":
          if (at >= 0) { list[at].click(); }
          break;
        case "Escape": close(true); break;
        case "Tab": close(true); break;
        default:
          // A letter moves to the next item that starts with it, as menus do.
          if (event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey) {
            var letter = event.key.toLowerCase();
            for (var i = 1; i <= list.length; i++) {
              var el = list[(at + i) % list.length];
              if (el.textContent.trim().toLowerCase().indexOf(letter) === 0) { focusItem(el); break; }
            }
          } else { handled = false; }
      }
      if (handled) { event.preventDefault(); event.stopPropagation(); }
    }

    function inSelection(r, c) {
      var a = state.anchor || state.focus, f = state.focus;
      return r >= Math.min(a.row, f.row) && r <= Math.max(a.row, f.row) &&
        c >= Math.min(a.col, f.col) && c <= Math.max(a.col, f.col);
    }

    root.addEventListener("contextmenu", function (event) {
      if (state.editor) { return; }
      var el = event.target.closest ? event.target.closest(".tabulator-cell[data-row]") : null;
      if (!el) {
        // The Menu key's own event, on the grid itself: the menu of the focused cell.
        if (event.target === root) { event.preventDefault(); if (!menu) { openAtFocus(); } }
        return;
      }
      event.preventDefault();
      var r = parseInt(el.getAttribute("data-row"), 10);
      var c = parseInt(el.getAttribute("data-col"), 10);
      // Right-click inside the selection acts on it; elsewhere it moves there first.
      if (!inSelection(r, c)) { grid.moveTo(r, c, false); }
      root.focus({preventScroll: true});
      open(event.clientX, event.clientY);
    });

    root.addEventListener("keydown", function (event) {
      if (state.editor || event.target !== root) { return; }
      if (event.key === "ContextMenu" || (event.key === "F10" && event.shiftKey)) {
        event.preventDefault();
        openAtFocus();
      }
    });

    function openAtFocus() {
      // By position, not id: each grid names its cells with its own prefix.
      var el = root.querySelector(".tabulator-cell[data-row=\"" + state.focus.row + "\"][data-col=\"" + state.focus.col + "\"]");
      var box = el ? el.getBoundingClientRect() : root.getBoundingClientRect();
      open(box.left + 4, box.bottom);
    }

    document.addEventListener("contextmenu", function (event) {
      if (menu && menu.contains(event.target)) { event.preventDefault(); }
    });

    window.addEventListener("resize", function () { close(false); });
    grid.menu = {open: open, close: close};
    return grid.menu;
  }

  window.consoleGridMenu = {attach: attach};
  if (window.consoleGrid) { attach(window.consoleGrid, {root: document.getElementById("console-grid")}); }
}());
