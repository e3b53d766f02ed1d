"""Where a page goes back to: the ``url=`` a link carried, if it stays on this site."""

from __future__ import annotations

from typing import Any

from flask import request

from console.redirects import safe_target


def back_to(view: Any, default_endpoint: str = ".index_view") -> str:
    """The page's return URL (``url=``) when it is a same-site path, else the view's page.

    Every return target of the admin pages goes through ``console.redirects.safe_target``
    (Flask-Admin's own check let ``http:evil.example`` through).
    """
    return safe_target(request.values.get("url"), str(view.get_url(default_endpoint)))


__all__ = ["back_to"]
