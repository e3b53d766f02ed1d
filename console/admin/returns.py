"""Where a page goes back to: the ``url=`` a link carried, if it stays on this site."""

from __future__ import annotations

from typing import Any

from flask_admin.helpers import get_redirect_target


def back_to(view: Any, default_endpoint: str = ".index_view") -> str:
    """The page's return URL (``url=``), or the view's default page."""
    return get_redirect_target() or str(view.get_url(default_endpoint))


__all__ = ["back_to"]
