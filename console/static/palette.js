// The command palette: Ctrl+K (Cmd+K) on every admin page opens a search box that jumps
// to any model's list or grid, any action (new, import, export, the console's pages) and
// any record by its label, searched as you type (console/admin/palette.py answers).
// WAI-ARIA combobox with a listbox popup: arrows move, Enter opens, Esc closes.
(function () {
  "use strict";

  var SEARCH_URL = "/admin/palette/";
  var dialog = null;
  var input = null;
  var list = null;
  var status = null;
  var items = [];
  var active = -1;
  var asked = 0;
  var timer = null;
  var before = null;

  function build() {
    dialog = document.createElement("div");
    dialog.id = "console-palette";
    dialog.className = "console-palette";
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-modal", "true");
    dialog.setAttribute("aria-label", "Go to a page, an action or a record");
    dialog.hidden = true;
    var box = document.createElement("div");
    box.className = "console-palette-box";
    input = document.createElement("input");
    input.type = "text";
    input.id = "console-palette-input";
    input.className = "form-control";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-expanded", "true");
    input.setAttribute("aria-controls", "console-palette-list");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("autocomplete", "off");
    input.placeholder = "Go to a model, an action or a record...";
    list = document.createElement("ul");
    list.id = "console-palette-list";
    list.className = "console-palette-list";
    list.setAttribute("role", "listbox");
    status = document.createElement("div");
    status.className = "console-palette-status small text-muted";
    status.setAttribute("aria-live", "polite");
    box.appendChild(input);
    box.appendChild(list);
    box.appendChild(status);
    dialog.appendChild(box);
    document.body.appendChild(dialog);
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 150);
    });
    input.addEventListener("keydown", onKey);
    dialog.addEventListener("mousedown", function (event) {
      if (event.target === dialog) { close(); }
    });
    list.addEventListener("click", function (event) {
      var option = event.target.closest("[role=option]");
      if (option) { go(Number(option.dataset.index)); }
    });
  }

  function open() {
    if (!dialog) { build(); }
    before = document.activeElement;
    dialog.hidden = false;
    input.value = "";
    input.focus();
    search();
  }

  function close() {
    if (!dialog || dialog.hidden) { return; }
    dialog.hidden = true;
    if (before && before.focus) { before.focus(); }
  }

  function search() {
    var mine = ++asked;
    var url = SEARCH_URL + "?q=" + encodeURIComponent(input.value);
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        return response.json().then(function (body) { return {ok: response.ok, body: body}; });
      })
      .then(function (answer) {
        if (mine !== asked) { return; }
        if (!answer.ok) {
          show([], answer.body.error || "The search failed.");
          return;
        }
        show(answer.body.items, answer.body.items.length ? "" : "Nothing matches.");
      })
      .catch(function () {
        if (mine === asked) { show([], "The console could not be reached."); }
      });
  }

  function show(found, message) {
    items = found;
    list.textContent = "";
    found.forEach(function (item, index) {
      var option = document.createElement("li");
      option.id = "console-palette-option-" + index;
      option.className = "console-palette-option";
      option.setAttribute("role", "option");
      option.dataset.index = String(index);
      option.dataset.kind = item.kind;
      var label = document.createElement("span");
      label.className = "console-palette-label";
      label.textContent = item.label;
      var detail = document.createElement("span");
      detail.className = "console-palette-detail text-muted";
      detail.textContent = item.detail;
      option.appendChild(label);
      option.appendChild(detail);
      list.appendChild(option);
    });
    status.textContent = message || (found.length + " result" + (found.length === 1 ? "" : "s"));
    select(found.length ? 0 : -1);
  }

  function select(index) {
    var options = list.querySelectorAll("[role=option]");
    if (active >= 0 && options[active]) { options[active].setAttribute("aria-selected", "false"); }
    active = index;
    if (index < 0 || !options[index]) {
      input.removeAttribute("aria-activedescendant");
      return;
    }
    options[index].setAttribute("aria-selected", "true");
    input.setAttribute("aria-activedescendant", options[index].id);
    options[index].scrollIntoView({block: "nearest"});
  }

  function go(index) {
    var item = items[index];
    if (item) { window.location.assign(item.url); }
  }

  function onKey(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      if (items.length) { select((active + 1) % items.length); }
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (items.length) { select((active - 1 + items.length) % items.length); }
    } else if (event.key === "Home" && event.ctrlKey) {
      event.preventDefault();
      select(items.length ? 0 : -1);
    } else if (event.key === "End" && event.ctrlKey) {
      event.preventDefault();
      select(items.length - 1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      go(active);
    } else if (event.key === "Tab") {
      event.preventDefault();  // a modal dialog keeps the focus
    }
  }

  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey &&
        (event.key === "k" || event.key === "K")) {
      event.preventDefault();
      event.stopPropagation();
      if (dialog && !dialog.hidden) { close(); } else { open(); }
    }
  }, true);

  var opener = document.getElementById("console-palette-open");
  if (opener) {
    opener.hidden = false;
    opener.addEventListener("click", function (event) {
      event.preventDefault();
      open();
    });
  }
}());
