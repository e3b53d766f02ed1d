"""Our console's to-do list, driven by bench_peers.py (run with the project's .venv python).

    .venv/bin/python bench/peers/ours.py DATABASE_URL

Logs in as an administrator (created if missing) and answers driver.py's commands
through Flask's test client. Only URLs are used, so this works whatever the view code.
"""

from __future__ import annotations

import logging
import re
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent)]

import driver  # noqa: E402

EMAIL = "bench-peers@example.com"
PASSWORD = "bench-password-123"  # noqa: S105 (a throwaway account in a throwaway database)
# Admins see edit links, viewers details links: either names the row.
IDS = re.compile(r"/admin/todo/(?:details|edit)/\?id=(\d+)")


def urls(page: dict[str, Any]) -> str:
    """Our URL for an abstract page (page numbers are 0-based, as Flask-Admin's)."""
    from console.paging import Cursor

    kind = page["kind"]
    base = "/admin/todo/"
    if kind == "first":
        return base
    if kind == "filter_open":
        return base + "?flt0_completed_equals=0"
    if kind == "search":
        return base + "?" + urlencode({"search": page["term"]})
    if kind == "sort":
        # Our list's column order: id, description, completed, due_date, priority, ...
        return base + "?sort=" + str(["id", "description"].index(page["column"]))
    if kind == "page":
        return base + f"?page={page['index']}"
    if kind == "after":
        # The pager's Next link: a keyset cursor after the previous page's last row.
        token = Cursor(page["id"], page["id"]).encode()
        return base + f"?page={page['index']}&after={token}"
    if kind == "last":
        return base + "?page=-1"
    raise ValueError(kind)


def main() -> int:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    import sqlalchemy as sa

    from console import create_app
    from console.extensions import db
    from console.models import Account, Role

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": sys.argv[1],
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "INSTANCE_PATH": tempfile.mkdtemp(prefix="bench-peers-ours-"),
        }
    )
    with app.app_context():
        if db.session.scalar(sa.select(Account).where(Account.email == EMAIL)) is None:
            account = Account(email=EMAIL, role=Role.admin, active=True)
            account.set_password(PASSWORD)
            db.session.add(account)
            db.session.commit()
    client = app.test_client()
    response = client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"login failed: {response.status_code}")

    def get(url: str) -> tuple[int, str]:
        response = client.get(url)
        return response.status_code, response.get_data(as_text=True)

    clock = driver.SqlClock()
    driver.sqlalchemy_clock(clock)
    return driver.serve(get, urls, IDS, clock)


if __name__ == "__main__":
    sys.exit(main())
