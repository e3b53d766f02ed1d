"""Saved grid layouts and named views, per account and model (the ``grid_view`` table).

A layout is ``{"order": [column keys], "hidden": [keys], "widths": {key: pixels}}``: the
order the user gave the columns, the ones hidden and the widths set by hand (the others
fit their data). A named view adds the list's URL arguments (search, filters, sort) as
``[[name, value], ...]``. What a user sends is checked here (``check_layout``,
``check_args``, ``check_name``): unknown columns, oversized or malformed layouts are
refused with the reason. What comes back from the database is only cleaned
(``restored``): a column that has since gone or been renamed is dropped, one that is new
is shown in its default place; never an error.

Plain SQLAlchemy Core over a Session (no ORM flushes, so the change history records
none of it: a layout is a preference, not a change to anyone's data); no Flask.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from console.models.base import utcnow
from console.models.grid_views import CURRENT, NAME_MAX, GridView

TABLE = cast(sa.Table, GridView.__table__)
# Bounds on what one account may store: views per model, and the size of each part.
MAX_VIEWS = 50
MAX_LAYOUT_CHARS = 20_000
MAX_ARGS_CHARS = 10_000
MAX_ARGS = 60
MIN_WIDTH, MAX_WIDTH = 20, 3000
# URL arguments that are positions or the grid's own, never part of a saved view.
NOT_SAVED_ARGS = frozenset({"after", "before", "limit", "page", "view"})


class Refused(ValueError):
    """What the user sent cannot be stored; the message says why."""


@dataclass(frozen=True)
class SavedView:
    """One named view (or the current layout, ``name`` ``""``) as stored."""

    name: str
    layout: dict[str, Any]
    args: list[list[str]]
    updated_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """The view for the grid's script."""
        return {"name": self.name, "layout": self.layout, "args": self.args,
                "updatedAt": self.updated_at.isoformat() if self.updated_at else None}


# -- checking what a user sends -----------------------------------------------------------


def check_name(raw: Any) -> str:
    """A view's name: 1 to NAME_MAX characters of text, trimmed."""
    if not isinstance(raw, str):
        raise Refused("A view needs a name.")
    name = " ".join(raw.split())
    if not name:
        raise Refused("A view needs a name.")
    if len(name) > NAME_MAX:
        raise Refused(f"A view's name has at most {NAME_MAX} characters.")
    return name


def _keys(raw: Any, what: str, known: Sequence[str]) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(k, str) for k in raw):
        raise Refused(f'"{what}" must be a list of column keys.')
    unknown = [k for k in raw if k not in known]
    if unknown:
        raise Refused(f"Unknown column{'s' if len(unknown) > 1 else ''} in \"{what}\": "
                      f"{', '.join(unknown[:5])}.")
    if len(set(raw)) != len(raw):
        raise Refused(f'A column appears twice in "{what}".')
    return list(raw)


def check_layout(raw: Any, known: Sequence[str]) -> dict[str, Any]:
    """``raw`` as a layout of the columns ``known``, or Refused saying what is wrong."""
    if not isinstance(raw, dict):
        raise Refused('A layout is {"order": [...], "hidden": [...], "widths": {...}}.')
    if len(json.dumps(raw)) > MAX_LAYOUT_CHARS:
        raise Refused(f"A layout has at most {MAX_LAYOUT_CHARS:,} characters.")
    extra = set(raw) - {"order", "hidden", "widths"}
    if extra:
        raise Refused(f"A layout has no {', '.join(sorted(extra))}.")
    order = _keys(raw.get("order", []), "order", known)
    hidden = _keys(raw.get("hidden", []), "hidden", known)
    widths = raw.get("widths", {})
    if not isinstance(widths, dict):
        raise Refused('"widths" must map column keys to pixels.')
    _keys(list(widths), "widths", known)
    for key, width in widths.items():
        if isinstance(width, bool) or not isinstance(width, int | float) or not (
            MIN_WIDTH <= width <= MAX_WIDTH
        ):
            raise Refused(f"The width of {key} must be {MIN_WIDTH} to {MAX_WIDTH} pixels.")
    if set(known) <= set(hidden):
        raise Refused("At least one column stays shown.")
    return {"order": order, "hidden": hidden,
            "widths": {k: round(w) for k, w in widths.items()}}


def check_args(raw: Any) -> list[list[str]]:
    """The list's URL arguments as ``[[name, value], ...]``, or Refused."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in raw
    ):
        raise Refused('"args" must be a list of [name, value] pairs of text.')
    if len(raw) > MAX_ARGS or len(json.dumps(raw)) > MAX_ARGS_CHARS:
        raise Refused(f"A view keeps at most {MAX_ARGS} arguments of "
                      f"{MAX_ARGS_CHARS:,} characters in all.")
    return [[name, value] for name, value in raw if name and name not in NOT_SAVED_ARGS]


# -- reading back --------------------------------------------------------------------------


def restored(text: str | None, known: Sequence[str]) -> dict[str, Any]:
    """A stored layout for today's columns ``known``: gone columns dropped, new ones added.

    A column missing from the saved order (new since) goes back where it stands among
    the model's columns: after the column it follows there.
    """
    try:
        raw = json.loads(text or "{}")
    except ValueError:
        raw = {}
    if not isinstance(raw, dict):
        raw = {}

    def listed(value: Any) -> list[str]:
        return [k for k in value if isinstance(k, str) and k in known] \
            if isinstance(value, list) else []

    order = list(dict.fromkeys(listed(raw.get("order"))))
    for i, key in enumerate(known):
        if key not in order:
            before = known[i - 1] if i else None
            order.insert(order.index(before) + 1 if before in order else 0, key)
    hidden = [k for k in dict.fromkeys(listed(raw.get("hidden")))]
    if set(known) <= set(hidden):
        hidden = []
    widths_raw = raw.get("widths")
    widths = {
        k: int(w) for k, w in (widths_raw.items() if isinstance(widths_raw, dict) else ())
        if k in known and isinstance(w, int | float) and not isinstance(w, bool)
        and MIN_WIDTH <= w <= MAX_WIDTH
    }
    return {"order": order, "hidden": hidden, "widths": widths}


def _args(text: str | None) -> list[list[str]]:
    try:
        return check_args(json.loads(text or "[]"))
    except (ValueError, Refused):
        return []


def _where(account_id: int, model: str, name: str | None = None) -> Any:
    clause = sa.and_(TABLE.c.account_id == account_id, TABLE.c.model == model)
    return clause if name is None else sa.and_(clause, TABLE.c.name == name)


def current_layout(session: Session, account_id: int, model: str,
                   known: Sequence[str]) -> dict[str, Any] | None:
    """The layout the account's grid of ``model`` opens with (None: the default one)."""
    text = session.execute(
        sa.select(TABLE.c.layout).where(_where(account_id, model, CURRENT))
    ).scalar()
    return None if text is None else restored(text, known)


def views(session: Session, account_id: int, model: str,
          known: Sequence[str]) -> list[SavedView]:
    """The account's named views of ``model``, by name."""
    found = session.execute(
        sa.select(TABLE.c.name, TABLE.c.layout, TABLE.c.args, TABLE.c.updated_at)
        .where(_where(account_id, model), TABLE.c.name != CURRENT)
        .order_by(TABLE.c.name)
    ).all()
    return [SavedView(name, restored(layout, known), _args(args), at)
            for name, layout, args, at in found]


# -- writing ---------------------------------------------------------------------------------


def _count(result: Any) -> int:
    """The rows an UPDATE or DELETE matched (a CursorResult's count)."""
    return cast(sa.CursorResult[Any], result).rowcount or 0


def save(session: Session, account_id: int, model: str, name: str,
         layout: dict[str, Any], args: list[list[str]] | None = None) -> None:
    """Store (or replace) the account's ``name`` view of ``model``, and commit.

    At most MAX_VIEWS named views per account and model: one more is Refused.
    """
    values = {"layout": json.dumps(layout, separators=(",", ":")),
              "args": json.dumps(args or [], separators=(",", ":")), "updated_at": utcnow()}
    where = _where(account_id, model, name)
    try:
        changed = _count(session.execute(sa.update(TABLE).where(where).values(**values)))
        if not changed:
            if name != CURRENT:
                have = session.execute(
                    sa.select(sa.func.count()).select_from(TABLE)
                    .where(_where(account_id, model), TABLE.c.name != CURRENT)
                ).scalar_one()
                if have >= MAX_VIEWS:
                    raise Refused(f"You have {MAX_VIEWS} saved views of this grid, the most "
                                  "there may be: delete one first.")
            session.execute(sa.insert(TABLE).values(
                account_id=account_id, model=model, name=name, **values))
        session.commit()
    except sa.exc.IntegrityError:
        # Saved at the same moment from another tab: this one replaces it.
        session.rollback()
        session.execute(sa.update(TABLE).where(where).values(**values))
        session.commit()
    except Exception:
        session.rollback()
        raise


def delete(session: Session, account_id: int, model: str, name: str) -> bool:
    """Delete the account's ``name`` view of ``model`` (``""``: back to the default layout)."""
    gone = _count(session.execute(sa.delete(TABLE).where(_where(account_id, model, name))))
    session.commit()
    return bool(gone)


__all__ = ["MAX_VIEWS", "Refused", "SavedView", "check_args", "check_layout", "check_name",
           "current_layout", "delete", "restored", "save", "views"]
