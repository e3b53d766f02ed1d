"""Django admin over our tables, driven by bench_peers.py (run in bench/.peers/django).

    bench/.peers/django/bin/python bench/peers/django_peer.py DATABASE_URL

Unmanaged models with ``db_table`` (``django_bench/models.py``) and a tuned
``ModelAdmin`` (``django_bench/admin.py``: 50 a page, no full-table count, search
through the trigram index, a filter on completed, ordered by id). Django's own tables
(users, content types, the admin log) go to a schema ``django`` of the benchmark's
database; sessions are signed cookies, as ours are. Logged in as a superuser.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import driver

IDS = re.compile(r"/admin/bench/todo/(\d+)/change/")


def urls(page: dict[str, Any]) -> str:
    """Django's URL for an abstract page (its page numbers start at 1)."""
    kind = page["kind"]
    base = "/admin/bench/todo/"
    if kind == "first":
        return base
    if kind == "filter_open":
        return base + "?completed__exact=0"
    if kind == "search":
        return base + "?" + urlencode({"q": page["term"]})
    if kind == "sort":
        # ``o`` is the 1-based position in list_display.
        from django_bench.admin import TodoAdmin

        return base + f"?o={TodoAdmin.list_display.index(page['column']) + 1}"
    if kind == "page":
        return base + f"?p={page['index'] + 1}"
    if kind == "last":
        return base + f"?p={page['pages']}"
    raise ValueError(kind)


def configure(database_url: str) -> None:
    import django
    from django.conf import settings

    url = urlsplit(database_url.replace("postgresql+psycopg2://", "postgresql://"))
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-django",  # noqa: S106
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF="django_bench.urls",
        USE_TZ=True,
        TIME_ZONE="UTC",
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.messages",
            "django_bench.apps.BenchConfig",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        MESSAGE_STORAGE="django.contrib.messages.storage.cookie.CookieStorage",
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": url.path.lstrip("/"),
                "HOST": url.hostname or "127.0.0.1",
                "PORT": str(url.port or 5432),
                "USER": url.username or "",
                "PASSWORD": url.password or "",
                "CONN_MAX_AGE": None,
                # Django's own tables in a schema of their own; ours are found in public.
                "OPTIONS": {"options": "-c search_path=django,public"},
            }
        },
    )
    django.setup()


def main() -> int:
    configure(sys.argv[1])
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA IF NOT EXISTS django")
    call_command("migrate", verbosity=0, interactive=False)
    user = User.objects.filter(username="bench").first()
    if user is None:
        user = User.objects.create_superuser("bench", "bench@example.com", "bench-password-123")
    client = Client()
    client.force_login(user)

    clock = driver.SqlClock()

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        import time

        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            clock.add((time.perf_counter() - start) * 1000)

    def get(url: str) -> tuple[int, str]:
        with connection.execute_wrapper(timed):
            response = client.get(url)
        return response.status_code, response.content.decode()

    return driver.serve(get, urls, IDS, clock)


if __name__ == "__main__":
    sys.exit(main())
