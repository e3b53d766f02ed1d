// What Flask-Admin's templates did with inline event handlers, which the console's
// Content-Security-Policy forbids: "With selected" actions, adding an inline child row,
// and "#" links that only open menus. Loaded on every admin page.
(function () {
  "use strict";
  // Styles that only make sense without JavaScript (menus opened by CSS) key on this.
  document.documentElement.classList.add("console-js");

  // Tell the server that this browser runs JavaScript, so that a model's list URL can
  // answer with the grid (CONSOLE_LIST_PAGE=grid). The List tab of a grid and the list's
  // "Open in grid" link remember which of the two this browser chose last.
  var cookie = "; path=/; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
  document.cookie = "console_js=1" + cookie;
  function remember(mode) {
    document.cookie = "console_list=" + mode + cookie + "; Max-Age=31536000";
  }
  // Arriving on a grid at its own URL, or on the list asked for by name, is a choice too
  // (a link followed before this script ran on the page it came from).
  if (/\/grid\/$/.test(location.pathname)) { remember("grid"); }
  else if (/[?&]view=classic(&|$)/.test(location.search)) { remember("classic"); }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-console-list-mode]");
    if (link) { remember(link.getAttribute("data-console-list-mode")); }
  });

  // A reference to a big table is a text input for its key without JavaScript; with it,
  // the search-as-you-type lookup kept in the <template> beside it takes its place.
  function upgradeReferences(root) {
    var spans = (root || document).querySelectorAll(".console-reference-typed");
    Array.prototype.forEach.call(spans, function (span) {
      var typed = span.querySelector(".console-reference-key");
      var template = span.querySelector("template.console-reference-lookup");
      var lookup = template && template.content.querySelector("input");
      if (!typed || !lookup) { return; }
      lookup = lookup.cloneNode(true);
      // An inline row added by "Add" has renamed the typed input: the lookup follows it.
      lookup.name = typed.name;
      lookup.id = typed.id;
      span.parentNode.replaceChild(lookup, span);
    });
  }
  upgradeReferences(document);

  // Flask-Admin styles a new inline row (select2 and all) in applyGlobalStyles:
  // the references of the row are upgraded first.
  function wrapInlineStyles(form) {
    if (!form || form.consoleWrapped) { return; }
    var apply = form.applyGlobalStyles;
    form.applyGlobalStyles = function (parent) {
      upgradeReferences(parent && parent.jquery ? parent[0] : parent);
      return apply.call(this, parent);
    };
    form.consoleWrapped = true;
  }

  // <details> menus: one open at a time; a click elsewhere, a choice or Escape closes them.
  function closeMenus(except) {
    Array.prototype.forEach.call(document.querySelectorAll("details.console-menu[open]"), function (menu) {
      if (menu !== except) { menu.removeAttribute("open"); }
    });
  }
  document.addEventListener("click", function (event) {
    var menu = event.target.closest ? event.target.closest("details.console-menu") : null;
    var inside = menu && !event.target.closest("summary");
    var chosen = inside && event.target.closest("a, button");
    closeMenus(chosen ? null : menu);
  }, true);
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var open = document.querySelector("details.console-menu[open]");
    if (!open) { return; }
    closeMenus(null);
    var summary = open.querySelector("summary");
    if (summary) { summary.focus(); }
  });

  // Row checkboxes belong to the action form (for pages without JavaScript); with it,
  // Flask-Admin's script copies the checked ones into the form itself.
  Array.prototype.forEach.call(document.querySelectorAll("input.action-checkbox[form]"), function (box) {
    box.removeAttribute("form");
  });
  // The Export menu's "only the checked rows" buttons submit that form too: the checked
  // boxes go in as Flask-Admin's script puts them (its next run removes these copies).
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[form='action_form'][formaction]") : null;
    var form = document.getElementById("action_form");
    if (!button || !form) { return; }
    Array.prototype.forEach.call(form.querySelectorAll("input.action-checkbox"), function (copy) { copy.remove(); });
    Array.prototype.forEach.call(document.querySelectorAll("table.model-list input.action-checkbox:checked"), function (box) {
      var copy = box.cloneNode(false);
      copy.hidden = true;
      form.appendChild(copy);
    });
  });

  // A create or edit form with unsaved changes: leaving the page asks first (the
  // browser's own prompt; a confirm on the inline rows' pager links, which say why).
  var changed = false;
  function noteChange(event) {
    var form = event.target && event.target.form;
    if (form && form.classList.contains("admin-form")) { changed = true; }
  }
  document.addEventListener("input", noteChange);
  document.addEventListener("change", noteChange);
  if (window.jQuery) {
    // select2 reports its choices as jQuery events only.
    window.jQuery(document).on("change", "form.admin-form :input", function () { changed = true; });
  }
  document.addEventListener("submit", function (event) {
    if (event.target.classList && event.target.classList.contains("admin-form")) { changed = false; }
  });
  window.addEventListener("beforeunload", function (event) {
    if (!changed) { return; }
    event.preventDefault();
    event.returnValue = "";
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-console-leave]") : null;
    if (!link || !changed) { return; }
    if (window.confirm("This page has changes that are not saved: they will be lost. Leave anyway?")) {
      changed = false;
    } else {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) { return; }
    var action = target.closest("[data-console-action]");
    if (action) {
      event.preventDefault();
      if (window.modelActions) { window.modelActions.execute(action.getAttribute("data-console-action")); }
      return;
    }
    var add = target.closest("[data-console-add-inline]");
    if (add) {
      event.preventDefault();
      wrapInlineStyles(window.faForm);
      if (window.faForm) { window.faForm.addInlineField(add, add.getAttribute("data-console-add-inline")); }
      return;
    }
    var hash = target.closest("a[href='#']");
    if (hash) { event.preventDefault(); }
  });
}());
