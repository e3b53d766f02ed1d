"""Saved grid layouts: each account's column layout of each model's grid, and named views.

A row per account, model (the view's endpoint) and name: the name ``""`` is the layout
the grid opens with (the columns' order, the hidden ones and the widths the user set),
any other name a saved view (that layout plus the list's search, filters and sort).
They are preferences, not records: written through Core statements only (never ORM
flushes), so the change history records none of them; an account's go with it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from console.models.base import Base, utcnow

# The name of the layout the grid opens with (the account's current one).
CURRENT = ""
NAME_MAX = 100


class GridView(Base):
    """One account's saved layout of one model's grid (``name`` ``""``), or a named view."""

    __tablename__ = "grid_view"
    # Also the index of the foreign key (its leading column).
    __table_args__ = (UniqueConstraint("account_id", "model", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    # The model's endpoint (``todo``): its grid's URL, as the user sees it.
    model: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(NAME_MAX), default=CURRENT)
    # JSON text: {"order": [column keys], "hidden": [keys], "widths": {key: pixels}}.
    layout: Mapped[str] = mapped_column(Text)
    # JSON text: the list's URL arguments (search, filters, sort) as [[name, value], ...].
    args: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
