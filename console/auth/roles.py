"""Role checks shared by the blueprints and the admin views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, redirect, request, url_for
from flask_login import current_user

from console.rules import Role

F = TypeVar("F", bound=Callable[..., Any])


def current_role_includes(role: Role) -> bool:
    """True when someone is logged in with an active account whose role includes ``role``."""
    user = current_user._get_current_object()  # one proxy lookup, not two
    return bool(user.is_authenticated and user.has_role(role))


def deny() -> Any:
    """Send anonymous users to the login page; refuse logged-in users with 403."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(403)


def requires(role: Role) -> Callable[[F], F]:
    """Decorate a view so that only accounts with ``role`` (or higher) reach it.

    On admin views the decorator also records the role on the function, where the
    base view's per-endpoint check reads it.
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_role_includes(role):
                return deny()
            return view(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
