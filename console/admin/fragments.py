"""Parts of a page that are the same for everyone with the same role, rendered once.

A template wraps such a part in ``{% call fragment("name", key...) %}...{% endcall %}``:
the first request renders it and the app remembers the markup under ``name`` and the
key; later requests reuse it. The key must hold everything the part depends on besides
the app itself (the role, the view, the script root): the navigation bar, the style and
script tags of every page, a list's filter and action menus.

The request's CSP nonce is the one thing that changes on every request: it is taken out
of the remembered markup and put back for each request, so a part may carry the nonce
attribute of its scripts. At most ``LIMIT`` parts are kept per app; past that the cache
starts again (the keys are few: roles x views). Where templates are reloaded as they
change (``TEMPLATES_AUTO_RELOAD``, debug mode), nothing is remembered.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from flask import current_app, request
from markupsafe import Markup

from console.security import csp_nonce

LIMIT = 2000
_HOLE = "\x00nonce\x00"


def fragment(name: str, *key: Hashable, caller: Callable[[], Any]) -> Markup:
    """The markup ``caller`` renders, remembered per app under ``name``, ``key`` and script root."""
    if current_app.jinja_env.auto_reload:
        # Templates reloaded as they change (debug mode): nothing is remembered either.
        return Markup(str(caller()))  # noqa: S704 - the template's own, escaped output
    cache: dict[tuple[Hashable, ...], str] = current_app.extensions.setdefault(
        "console_fragments", {}
    )
    full_key = (name, request.script_root, *key)
    nonce = csp_nonce()
    markup = cache.get(full_key)
    if markup is None:
        markup = str(caller()).replace(nonce, _HOLE)
        if len(cache) >= LIMIT:
            cache.clear()
        cache[full_key] = markup
    # The markup is the template's own output (escaped there); the nonce is URL-safe.
    return Markup(markup.replace(_HOLE, nonce))  # noqa: S704


__all__ = ["LIMIT", "fragment"]
