"""The console's home page: a dashboard that stays fast on big tables."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_admin import AdminIndexView, expose

from console import dashboard
from console.admin.gated import RoleGated
from console.extensions import db


class HomeView(RoleGated, AdminIndexView):
    """Counts, activity over 30 days, overdue to-dos, biggest lists, recent changes."""

    @expose("/")
    def index(self) -> Any:
        session = db.session
        today = date.today()
        overdue_count, overdue_rows = dashboard.overdue(session, today)
        exact, biggest = dashboard.biggest_lists(session)
        views = {
            getattr(v, "model", None): v.endpoint
            for v in self.admin._views  # type: ignore[union-attr]
            if getattr(v, "model", None) is not None and v.is_accessible()
        }
        return self.render(
            "admin/home.html",
            counts=dashboard.model_counts(session),
            chart=dashboard.activity_chart(session, today),
            overdue_count=overdue_count,
            overdue=overdue_rows,
            biggest=biggest,
            biggest_exact=exact,
            recent=dashboard.recent_changes(session),
            endpoints=views,
            endpoints_by_name={m.__name__: e for m, e in views.items()},
            today=today,
        )
