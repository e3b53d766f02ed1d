// What Flask-Admin's templates did with inline event handlers, which the console's
// Content-Security-Policy forbids: "With selected" actions, adding an inline child row,
// and "#" links that only open menus. Loaded on every admin page.
(function () {
  "use strict";
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
      if (window.faForm) { window.faForm.addInlineField(add, add.getAttribute("data-console-add-inline")); }
      return;
    }
    var hash = target.closest("a[href='#']");
    if (hash) { event.preventDefault(); }
  });
}());
