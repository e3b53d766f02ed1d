// Desktop-style use of the console's list views: keyboard shortcuts, shift-click
// range selection, and in-place toggles. Everything here is an enhancement: with
// JavaScript off, the same links and forms still work.
(function () {
  "use strict";

  var table = document.querySelector("table.model-list");
  var help = document.getElementById("console-shortcuts");
  var current = -1;

  function rows() {
    if (!table) { return []; }
    return Array.prototype.filter.call(table.querySelectorAll("tbody tr, tr"), function (tr) {
      return tr.querySelector("input.action-checkbox, td.list-buttons-column") !== null;
    });
  }

  function setCurrent(index) {
    var all = rows();
    if (!all.length) { return; }
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (tr) { tr.classList.remove("console-current"); tr.removeAttribute("aria-current"); });
    var tr = all[index];
    tr.classList.add("console-current");
    tr.setAttribute("aria-current", "true");
    if (tr.scrollIntoView) { tr.scrollIntoView({block: "nearest"}); }
    current = index;
  }

  function currentRow() {
    var all = rows();
    return current >= 0 && current < all.length ? all[current] : null;
  }

  function typing(target) {
    if (!target) { return false; }
    var tag = target.tagName;
    // A clicked row checkbox keeps the focus, but nothing is typed into it: the
    // shortcuts must go on working (its own key, Space, is not one of them).
    if (tag === "INPUT" && /^(checkbox|radio|button|submit|reset)$/.test(target.type)) { return false; }
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function showHelp(show) {
    if (!help) { return; }
    help.hidden = !show;
    if (show) {
      var close = help.querySelector("[data-console-close]");
      if (close) { close.focus(); }
    }
  }

  function follow(selector, root) {
    var link = (root || document).querySelector(selector);
    if (link && link.href) { window.location.assign(link.href); return true; }
    return false;
  }

  function deleteSelection() {
    // The list's own "delete" action, so its confirmation (or preview) still applies.
    var item = document.querySelector("[data-console-action='delete']");
    if (item) { item.click(); return true; }
    return false;
  }

  if (help) {
    help.addEventListener("click", function (event) {
      if (event.target.hasAttribute("data-console-close")) { showHelp(false); }
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "Escape") {
      if (help && !help.hidden) { showHelp(false); event.preventDefault(); }
      return;
    }
    if (typing(event.target)) { return; }
    var row = currentRow();
    switch (event.key) {
      case "?":
        showHelp(help ? help.hidden : false);
        break;
      case "/":
        var search = document.querySelector("form[role=search] input[name=search]");
        if (!search) { return; }
        search.focus();
        search.select();
        break;
      case "n":
        if (!follow("a[href*='/new/']")) { return; }
        break;
      case "j":
        setCurrent(current + 1);
        break;
      case "k":
        setCurrent(current < 0 ? 0 : current - 1);
        break;
      case "x":
        if (!row) { return; }
        var box = row.querySelector("input.action-checkbox");
        if (!box) { return; }
        box.click();
        break;
      case "e":
      case "Enter":
        if (!row || event.target.tagName === "BUTTON" || event.target.tagName === "A") { return; }
        if (!follow("a[href*='/edit/']", row)) { return; }
        break;
      case "Delete":
        if (!deleteSelection()) { return; }
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  // Shift-click selects every row checkbox between the last one clicked and this one.
  var lastBox = null;
  document.addEventListener("click", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input.action-checkbox")) { return; }
    var boxes = Array.prototype.slice.call(document.querySelectorAll("table.model-list input.action-checkbox"));
    if (event.shiftKey && lastBox && lastBox !== box && boxes.indexOf(lastBox) !== -1) {
      var from = boxes.indexOf(lastBox);
      var to = boxes.indexOf(box);
      var lo = Math.min(from, to);
      var hi = Math.max(from, to);
      for (var i = lo; i <= hi; i++) {
        if (boxes[i].checked !== box.checked) {
          boxes[i].checked = box.checked;
          boxes[i].dispatchEvent(new Event("change", {bubbles: true}));
        }
      }
    }
    lastBox = box;
    var tr = box.closest("tr");
    var index = rows().indexOf(tr);
    if (index !== -1) { setCurrent(index); }
  });

  // Completed (and other toggles) change in place: POST with the CSRF token and the
  // version the page was rendered with; the server refuses stale versions.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("console-toggle") || !window.fetch) { return; }
    event.preventDefault();
    if (form.classList.contains("busy")) { return; }
    var error = form.querySelector(".console-toggle-error");
    var button = form.querySelector(".console-toggle-button");
    error.textContent = "";
    form.classList.add("busy");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRFToken": form.elements.csrf_token.value}
    }).then(function (response) {
      return response.json().catch(function () {
        return {ok: false, error: "The server refused the change (" + response.status + "): reload the page."};
      });
    }).then(function (data) {
      if (!data.ok) {
        error.textContent = data.error || "The change was refused: reload the page.";
        return;
      }
      setToken(form.closest("tr"), data.version);
      form.elements.value.value = data.value ? "0" : "1";
      button.textContent = data.value ? "\u2611 Yes" : "\u2610 No";
      button.setAttribute("aria-pressed", data.value ? "true" : "false");
      button.title = data.value ? "Set to No" : "Set to Yes";
    }).catch(function () {
      error.textContent = "The server could not be reached: nothing changed.";
    }).then(function () {
      form.classList.remove("busy");
    });
  });

  // Every save hands back the row's new token: the next edit of the row is checked
  // against it, so consecutive edits of one row never conflict with oneself.
  function setToken(tr, token) {
    if (!tr || !token) { return; }
    tr.setAttribute("data-token", token);
    Array.prototype.forEach.call(tr.querySelectorAll("form.console-toggle"), function (f) {
      f.elements.version.value = token;
    });
  }

  // In-place edits: double-click a cell (or press F2 on it), type, Enter saves, Esc cancels.
  // The cell is posted as JSON to the list's cells endpoint with the row's token.
  function editorFor(td) {
    var kind = td.getAttribute("data-editor");
    var input;
    if (kind === "choice") {
      var source = document.getElementById("console-choices");
      var select = source && source.content.querySelector("select[data-column='" + td.getAttribute("data-column") + "']");
      input = select ? select.cloneNode(true) : document.createElement("input");
    } else {
      input = document.createElement("input");
      input.type = kind === "date" ? "date" : kind === "number" ? "text" : "text";
    }
    input.value = td.getAttribute("data-raw") || "";
    input.className = "form-control form-control-sm console-cell-input";
    input.setAttribute("aria-label", "New value");
    return input;
  }

  function showProblem(td, message) {
    var note = document.createElement("div");
    note.className = "console-cell-problem";
    note.setAttribute("role", "alert");
    note.textContent = message;
    td.appendChild(note);
    td.classList.add("console-cell-refused");
  }

  function startEdit(td) {
    if (td.querySelector(".console-cell-input")) { return; }
    var table = td.closest("table");
    var tr = td.closest("tr");
    var shown = td.textContent;
    var input = editorFor(td);
    // A refused edit's reason stays in view (below the cell) while the user tries again.
    var note = td.querySelector(".console-cell-problem");
    td.textContent = "";
    td.appendChild(input);
    if (note) { td.appendChild(note); }
    input.focus();
    if (input.select) { input.select(); }
    function finish(text) {
      td.textContent = text;
      td.classList.remove("console-cell-refused");
      td.focus();
    }
    function cancel() {
      finish(shown);
      if (note) { showProblem(td, note.textContent); }
    }
    function save() {
      var value = input.value;
      input.disabled = true;
      fetch(table.getAttribute("data-cells-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json",
                  "X-CSRFToken": table.getAttribute("data-csrf")},
        body: JSON.stringify({changes: [{row: tr.getAttribute("data-id"), token: tr.getAttribute("data-token"),
                                        column: td.getAttribute("data-column"), value: value}]})
      }).then(function (response) {
        return response.json().catch(function () { return {ok: false, problems: [{message: "The server refused the change (" + response.status + ")."}]}; });
      }).then(function (data) {
        if (data.ok) {
          var row = data.values[tr.getAttribute("data-id")] || {};
          var raw = row[td.getAttribute("data-column")];
          setToken(tr, data.tokens[tr.getAttribute("data-id")]);
          td.setAttribute("data-raw", raw === undefined ? value : raw);
          finish(input.tagName === "SELECT" ? input.options[input.selectedIndex].text : (raw === undefined ? value : raw));
          return;
        }
        var problem = (data.problems || [])[0] || {message: "Not saved."};
        if (problem.token) { setToken(tr, problem.token); }
        var column = td.getAttribute("data-column");
        var message = problem.message;
        if (problem.theirs && problem.theirs[column] !== undefined) {
          // The page now shows what is saved (theirs); yours is named, to re-type or drop.
          shown = problem.theirs[column];
          td.setAttribute("data-raw", shown);
          message += " Theirs is shown; yours was \u201c" + value + "\u201d.";
        }
        finish(shown);
        showProblem(td, message);
      }).catch(function () {
        finish(shown);
        showProblem(td, "The server could not be reached: nothing changed.");
      });
    }
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); save(); }
      else if (event.key === "Escape") { event.preventDefault(); cancel(); }
      event.stopPropagation();
    });
    input.addEventListener("blur", function () { if (!input.disabled) { cancel(); } });
  }

  document.addEventListener("dblclick", function (event) {
    var td = event.target.closest && event.target.closest("td.console-editable");
    if (td && window.fetch) { event.preventDefault(); startEdit(td); }
  });
  document.addEventListener("keydown", function (event) {
    var td = event.target.closest && event.target.closest("td.console-editable");
    if (td && event.key === "F2" && window.fetch) { event.preventDefault(); startEdit(td); }
  });
}());

// "Select all matching": once every row of the page is checked and the list holds more,
// a bar offers to act on every row of the list's filter and search. Choosing it adds
// a hidden "matching" input (the filter as a query string) to the action form; the
// server then ignores the ids. Unchecking a row or "Clear selection" removes it.
(function () {
  "use strict";
  var bar = document.getElementById("select-matching");
  var form = document.getElementById("action_form");
  if (!bar || !form) { return; }
  var pagePart = bar.querySelector(".select-matching-page");
  var allPart = bar.querySelector(".select-matching-all");

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("table.model-list input.action-checkbox"));
  }

  function matchingInput() { return form.querySelector("input[name='matching']"); }

  function clearMatching() {
    var input = matchingInput();
    if (input) { input.parentNode.removeChild(input); }
    pagePart.hidden = false;
    allPart.hidden = true;
  }

  function update() {
    var all = boxes();
    var every = all.length > 0 && all.every(function (box) { return box.checked; });
    if (!every) { clearMatching(); }
    bar.hidden = !every;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.matches) { return; }
    if (target.matches("input.action-rowtoggle, input.action-checkbox")) { update(); }
  });

  bar.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a") : null;
    if (!link) { return; }
    event.preventDefault();
    if (link.id === "select-matching-all") {
      var input = matchingInput();
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = "matching";
        form.appendChild(input);
      }
      input.value = bar.getAttribute("data-matching") || "";
      pagePart.hidden = true;
      allPart.hidden = false;
    } else if (link.id === "select-matching-clear") {
      boxes().forEach(function (box) { box.checked = false; });
      var toggle = document.querySelector("input.action-rowtoggle");
      if (toggle) { toggle.checked = false; }
      clearMatching();
      bar.hidden = true;
    }
  });
}());
