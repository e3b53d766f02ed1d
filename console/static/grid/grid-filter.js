// Filters from the grid's header (templates/admin/grid.html): a funnel button on every
// column the list can filter (console/admin/filters.py, header_filters) opens a small
// form: the operation ("equals", "greater than", ...) and its value, typed by the
// filter's kind (a choice, a date, a date and time, a range, a list). Applying it
// puts the list's own filter arguments (flt<N>_<name>=value) in the grid's query,
// reloads the rows from the start (keyset pages, honest count, "Select all N
// matching" from the same filters) and keeps them in the address bar, so a reload, a
// link, the classic list and a saved view all show the same rows. Alt+ArrowDown opens
// the focused column's filter from the keyboard; Esc closes it. The active filters are
// listed in the status bar, each with a button that removes it.
(function () {
  "use strict";

  var grid = window.consoleGrid;
  if (!grid || !grid.hooks) { return; }
  var config = grid.config;
  var filters = config.headerFilters || {};
  if (!Object.keys(filters).length) { return; }
  var root = grid.root;
  var list = document.getElementById("grid-filters");
  var FLT = /^flt(\d+)_(.+)$/;
  var popup = null;
  var opener = null;

  var byArg = {};
  Object.keys(filters).forEach(function (key) {
    filters[key].forEach(function (flt) { byArg[flt.arg] = {key: key, flt: flt}; });
  });

  function column(key) {
    return grid.allColumns().filter(function (col) { return col.key === key; })[0] || null;
  }

  function active() {
    // The grid's filters, in order: [{arg, value, key, flt}].
    var found = [];
    new URLSearchParams(config.query).forEach(function (value, name) {
      var m = FLT.exec(name);
      if (!m) { return; }
      // A filter of the list on no column of the grid is kept, and listed by its name.
      var known = byArg[m[2]];
      found.push({n: parseInt(m[1], 10), arg: m[2], value: value, key: known ? known.key : null,
                  flt: known ? known.flt : {operation: m[2].replace(/_/g, " "), options: null}});
    });
    return found.sort(function (a, b) { return a.n - b.n; });
  }

  function withFilters(query, kept) {
    // ``query`` with its filter arguments replaced by ``kept``, numbered from 0.
    var params = new URLSearchParams(query);
    var names = [];
    params.forEach(function (value, name) { if (FLT.test(name)) { names.push(name); } });
    names.forEach(function (name) { params.delete(name); });
    ["page", "after", "before"].forEach(function (name) { params.delete(name); });
    kept.forEach(function (f, i) { params.append("flt" + i + "_" + f.arg, f.value); });
    return params.toString();
  }

  function use(kept, done) {
    var before = config.query;
    config.query = withFilters(config.query, kept);
    if (!grid.reload()) { config.query = before; return false; }
    // The address bar: the same filters (its other arguments, sort and search, kept).
    var here = withFilters(window.location.search.replace(/^\?/, ""), kept);
    window.history.replaceState(window.history.state, "", window.location.pathname + (here ? "?" + here : ""));
    // The List tab shows the same rows.
    var tab = document.getElementById("list-link");
    if (tab) {
      var url = new URL(tab.href, window.location.href);
      tab.href = url.pathname + "?" + withFilters(url.search.replace(/^\?/, ""), kept);
    }
    show();
    grid.say(done, true);
    return true;
  }

  function words(f) {
    if (f.key === null) { return f.flt.operation + " " + f.value; }
    var label = (column(f.key) || {label: f.key}).label;
    var value = f.value;
    (f.flt.options || []).forEach(function (pair) { if (pair[0] === value) { value = pair[1]; } });
    return label + " " + f.flt.operation + " " + value;
  }

  // -- the header's buttons -------------------------------------------------------------------

  function decorate() {
    var on = {};
    active().forEach(function (f) { on[f.key] = (on[f.key] ? on[f.key] + "; " : "") + words(f); });
    grid.table.getColumns().forEach(function (col) {
      var key = col.getField();
      if (!filters[key]) { return; }
      var holder = col.getElement().querySelector(".tabulator-col-title-holder") || col.getElement();
      var button = holder.querySelector(".grid-filter-button");
      if (!button) {
        button = document.createElement("button");
        button.type = "button";
        button.className = "grid-filter-button";
        button.id = "grid-filter-" + key;
        button.setAttribute("aria-haspopup", "dialog");
        button.textContent = "\u25BE";  // a small down triangle: Excel's autofilter button
        // Neither a sort (the header's click) nor a column drag (its mousedown).
        button.addEventListener("mousedown", function (event) { event.stopPropagation(); });
        button.addEventListener("click", function (event) {
          event.stopPropagation();
          event.preventDefault();
          open(key, button);
        });
        holder.appendChild(button);
      }
      var label = (column(key) || {label: key}).label;
      button.classList.toggle("grid-filter-on", !!on[key]);
      button.setAttribute("aria-pressed", on[key] ? "true" : "false");
      button.title = on[key] ? "Filtered: " + on[key] + " (change or remove)" : "Filter by " + label;
      button.setAttribute("aria-label", button.title);
    });
  }

  function show() {
    decorate();
    if (!list) { return; }
    list.textContent = "";
    var shown = active();
    if (!shown.length) { list.hidden = true; return; }
    list.hidden = false;
    list.appendChild(document.createTextNode("· Filters: "));
    shown.forEach(function (f, i) {
      var chip = document.createElement("span");
      chip.className = "grid-filter-chip";
      chip.appendChild(document.createTextNode(words(f)));
      var drop = document.createElement("button");
      drop.type = "button";
      drop.className = "grid-filter-remove";
      drop.id = "grid-filter-remove-" + i;
      drop.textContent = "\u00D7";
      drop.setAttribute("aria-label", "Remove the filter " + words(f));
      drop.title = "Remove this filter";
      drop.addEventListener("click", function () {
        var kept = active().filter(function (g) { return !(g.arg === f.arg && g.value === f.value); });
        use(kept, "Filter removed: " + words(f) + ".");
        root.focus({preventScroll: true});
      });
      chip.appendChild(drop);
      list.appendChild(chip);
      if (i < shown.length - 1) { list.appendChild(document.createTextNode(" ")); }
    });
  }

  // -- the form --------------------------------------------------------------------------------

  function close(back) {
    if (!popup) { return; }
    popup.remove();
    popup = null;
    if (back && opener) { opener.focus({preventScroll: true}); }
    opener = null;
  }

  function isoDateTime(text) {
    // datetime-local gives 2026-12-02T10:30; Flask-Admin's filter reads 2026-12-02 10:30:00.
    if (!text) { return ""; }
    var parts = text.split("T");
    var time = parts[1] || "00:00";
    if (time.length === 5) { time += ":00"; }
    return parts[0] + " " + time;
  }

  function valueEditor(flt, current) {
    // The inputs for one filter's value, and how to read them back as the URL's text.
    var box = document.createElement("div");
    box.className = "grid-filter-value";
    var type = flt.type || "";
    function input(kind, value, label) {
      var el = document.createElement("input");
      el.type = kind;
      el.className = "form-control form-control-sm";
      el.setAttribute("aria-label", label);
      if (value) { el.value = value; }
      box.appendChild(el);
      return el;
    }
    if (flt.options && type === "select2-tags") {
      var many = document.createElement("select");
      many.multiple = true;
      many.className = "form-control form-control-sm";
      many.setAttribute("aria-label", "Values");
      var chosen = (current || "").split(",");
      flt.options.forEach(function (pair) {
        var option = new Option(pair[1], pair[0], false, chosen.indexOf(pair[0]) >= 0);
        many.appendChild(option);
      });
      box.appendChild(many);
      return {box: box, focus: many, read: function () {
        return Array.prototype.filter.call(many.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; }).join(",");
      }};
    }
    if (flt.options) {
      var one = document.createElement("select");
      one.className = "form-control form-control-sm";
      one.setAttribute("aria-label", "Value");
      flt.options.forEach(function (pair) { one.appendChild(new Option(pair[1], pair[0], false, pair[0] === current)); });
      box.appendChild(one);
      return {box: box, focus: one, read: function () { return one.value; }};
    }
    if (type === "datepicker" || type === "datetimepicker") {
      var dated = type === "datepicker";
      var at = input(dated ? "date" : "datetime-local", current ? (dated ? current : current.replace(" ", "T").slice(0, 16)) : "", "Value");
      return {box: box, focus: at, read: function () { return dated ? at.value : isoDateTime(at.value); }};
    }
    if (type === "daterangepicker" || type === "datetimerangepicker") {
      var day = type === "daterangepicker";
      var ends = (current || "").split(" to ");
      var from = input(day ? "date" : "datetime-local", ends[0] ? (day ? ends[0] : ends[0].replace(" ", "T").slice(0, 16)) : "", "From");
      box.appendChild(document.createTextNode(" to "));
      var to = input(day ? "date" : "datetime-local", ends[1] ? (day ? ends[1] : ends[1].replace(" ", "T").slice(0, 16)) : "", "To");
      return {box: box, focus: from, read: function () {
        if (!from.value || !to.value) { return ""; }
        return day ? from.value + " to " + to.value : isoDateTime(from.value) + " to " + isoDateTime(to.value);
      }};
    }
    var text = input("text", current, type === "select2-tags" ? "Values, separated by commas" : "Value");
    if (type === "select2-tags") { text.placeholder = "one, another"; }
    return {box: box, focus: text, read: function () { return text.value.trim(); }};
  }

  function open(key, button) {
    close(false);
    var choices = filters[key];
    var label = (column(key) || {label: key}).label;
    var mine = active().filter(function (f) { return f.key === key; });
    var current = mine[0] || null;
    opener = button || root;
    popup = document.createElement("form");
    popup.className = "grid-filter-popup";
    popup.id = "grid-filter-form";
    popup.setAttribute("role", "dialog");
    popup.setAttribute("aria-label", "Filter by " + label);
    var head = document.createElement("div");
    head.className = "grid-filter-head";
    head.textContent = label;
    popup.appendChild(head);
    var operation = document.createElement("select");
    operation.className = "form-control form-control-sm";
    operation.id = "grid-filter-operation";
    operation.setAttribute("aria-label", "Operation");
    choices.forEach(function (flt) {
      operation.appendChild(new Option(flt.operation, flt.arg, false, !!current && current.arg === flt.arg));
    });
    popup.appendChild(operation);
    var holder = document.createElement("div");
    popup.appendChild(holder);
    var editor = null;
    function fill() {
      var flt = choices.filter(function (c) { return c.arg === operation.value; })[0];
      holder.textContent = "";
      editor = valueEditor(flt, current && current.arg === flt.arg ? current.value : "");
      holder.appendChild(editor.box);
    }
    operation.addEventListener("change", fill);
    fill();
    var note = document.createElement("div");
    note.className = "grid-filter-note small text-danger";
    note.setAttribute("role", "alert");
    popup.appendChild(note);
    var buttons = document.createElement("div");
    buttons.className = "grid-filter-buttons";
    var apply = document.createElement("button");
    apply.type = "submit";
    apply.className = "btn btn-sm btn-primary";
    apply.id = "grid-filter-apply";
    apply.textContent = "Apply";
    buttons.appendChild(apply);
    if (mine.length) {
      var clear = document.createElement("button");
      clear.type = "button";
      clear.className = "btn btn-sm btn-outline-secondary";
      clear.id = "grid-filter-clear";
      clear.textContent = "Clear " + label.toLowerCase();
      clear.addEventListener("click", function () {
        var kept = active().filter(function (f) { return f.key !== key; });
        close(false);
        use(kept, "Filter removed: " + label + ".");
        root.focus({preventScroll: true});
      });
      buttons.appendChild(clear);
    }
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "btn btn-sm btn-link";
    cancel.textContent = "Cancel";
    cancel.addEventListener("click", function () { close(true); });
    buttons.appendChild(cancel);
    popup.appendChild(buttons);
    popup.addEventListener("submit", function (event) {
      event.preventDefault();
      var value = editor.read();
      if (value === "") { note.textContent = "Give a value first (or Cancel)."; editor.focus.focus(); return; }
      var flt = byArg[operation.value].flt;
      // One filter per column: this one replaces the column's others.
      var kept = active().filter(function (f) { return f.key !== key; });
      kept.push({arg: flt.arg, value: value, key: key, flt: flt});
      close(false);
      use(kept, "Filtered: " + words({key: key, flt: flt, value: value}) + ".");
      root.focus({preventScroll: true});
    });
    popup.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); close(true); }
      // Enter applies from a choice too (a select does not submit its form by itself).
      else if (event.key === "Enter" && event.target.tagName === "SELECT" && !event.target.multiple) {
        event.preventDefault();
        if (popup.requestSubmit) { popup.requestSubmit(); } else { apply.click(); }
      }
    });
    document.body.appendChild(popup);
    var anchor = (button || root).getBoundingClientRect();
    var box = popup.getBoundingClientRect();
    popup.style.left = Math.max(4, Math.min(anchor.left + window.scrollX, window.scrollX + window.innerWidth - box.width - 8)) + "px";
    popup.style.top = (anchor.bottom + window.scrollY + 2) + "px";
    editor.focus.focus();
  }

  document.addEventListener("mousedown", function (event) {
    if (popup && !popup.contains(event.target) && !(event.target.closest && event.target.closest(".grid-filter-button"))) {
      close(false);
    }
  });

  root.addEventListener("keydown", function (event) {
    // Alt+ArrowDown: the focused column's filter (Excel's key for its autofilter).
    if (grid.state.editor || event.target !== root || !event.altKey || event.key !== "ArrowDown") { return; }
    var col = grid.columns()[grid.state.focus.col];
    if (!col) { return; }
    event.preventDefault();
    event.stopImmediatePropagation();
    if (!filters[col.key]) { grid.say(col.label + " has no filter."); return; }
    var button = document.getElementById("grid-filter-" + col.key);
    open(col.key, button);
  }, true);

  grid.table.on("columnMoved", decorate);
  grid.table.on("columnVisibilityChanged", decorate);
  // Headers Tabulator made again (a layout reset) get their buttons back; the status
  // hook runs on every move, so it only counts them.
  grid.hooks.status.push(function () {
    var shown = grid.columns().filter(function (col) { return filters[col.key]; }).length;
    if (root.querySelectorAll(".grid-filter-button").length < shown) { decorate(); }
  });
  show();

  grid.filters = {active: active, open: open, use: use};
}());
