"""The migrations page: status, drift, confirmed actions, and admin-only access."""

from __future__ import annotations

import getpass
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from console import schema
from tests.conftest import csrf_token, post_form
from tests.schema_helpers import (
    DEMO_HEAD,
    HEAD,
    REVISIONS,
    admin_client,
    broken,
    console_app,
    copy_scripts,
    empty_database,
    execute,
    marker,
    noop,
    version,
)

SCRIPTS = schema.CONSOLE_SCRIPTS
URL = "/admin/migrations/"
ENDPOINTS = [
    ("GET", URL),
    ("GET", URL + "upgrade"),
    ("GET", URL + "upgrade?target=" + HEAD),
    ("POST", URL + "upgrade"),
    ("GET", URL + "downgrade"),
    ("POST", URL + "downgrade"),
]


def text(response) -> str:
    """The response body with tags and runs of whitespace collapsed, as a reader sees it."""
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", body)


@pytest.fixture(params=["sqlite", "postgresql"])
def own_url(request: pytest.FixtureRequest, tmp_path: Path):
    """An empty database of this test's own, on each dialect."""
    with empty_database(request.param, tmp_path) as url:
        yield url


def _request(client, method: str, url: str, token_page: str):
    if method == "GET":
        return client.get(url)
    data = {"csrf_token": csrf_token(client, token_page), "target": "heads",
            "expected_current": HEAD, "confirm_revision": HEAD}
    return client.post(url, data=data)


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_anonymous_is_sent_to_login(client, method, url):
    response = _request(client, method, url, "/login")
    assert response.status_code == 302
    assert "/login" in response.location


@pytest.mark.parametrize("role", ["viewer", "editor"])
@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_viewer_and_editor_are_refused(request, database_url, role, method, url):
    client = request.getfixturevalue(f"{role}_client")
    response = _request(client, method, url, "/admin/")
    assert response.status_code == 403
    assert version(database_url) == [HEAD]


def test_menu_shows_migrations_to_admins(admin_client):
    assert 'href="/admin/migrations/"' in admin_client.get("/admin/").get_data(as_text=True)


def test_menu_hides_migrations_from_editors(editor_client):
    assert 'href="/admin/migrations/"' not in editor_client.get("/admin/").get_data(as_text=True)


def test_admin_sees_the_migrated_database_up_to_date(admin_client, database_url):
    response = admin_client.get(URL)
    assert response.status_code == 200
    page = text(response)
    assert f"Current revision {HEAD} Head revision {HEAD}" in page
    assert "Up to date" in page
    assert "Pending revisions None." in page
    assert "No drift: the database schema matches the models." in page
    assert "current" in page
    assert "Upgrade to head" not in page
    # One step down is offered unless it would undo the first revision, which drops the
    # accounts this page needs.
    assert ("Downgrade one step" in page) == (len(REVISIONS) > 1)
    dialect = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert f"Dialect {dialect}" in page


def test_the_page_shows_the_demo_history_below_the_console_own(admin_client):
    page = text(admin_client.get(URL))
    own, demo = page.split("tables (people, to-do lists, to-dos)")
    assert f"Current revision {HEAD} Head revision {HEAD} State Up to date" in own
    assert "Version table console_alembic_version" in own
    assert f"Current revision {DEMO_HEAD} Head revision {DEMO_HEAD} State Up to date" in demo
    assert "Version table alembic_version" in demo
    assert demo.count("No drift: the database schema matches the models.") == 1
    assert "Not managed by the console: none." in demo


def test_the_page_names_tables_the_console_does_not_manage(own_url, tmp_path):
    assert schema.initialise(own_url, [schema.console_history(), schema.demo_history()]).ok
    execute(own_url, "CREATE TABLE their_table (id INTEGER PRIMARY KEY)")
    with console_app(own_url, SCRIPTS, tmp_path) as app:
        page = text(admin_client(app).get(URL))
    assert "Not managed by the console: their_table ." in page
    assert "No drift: the database schema matches the models." in page
    assert "their_table is in the database" not in page


def test_the_first_revision_cannot_be_downgraded_from_the_page(own_url, tmp_path, monkeypatch):
    # Nobody can sign in to a database at the first revision (later ones add what sign-in
    # needs), so the page is shown at head with the step down planned as that revision.
    assert schema.upgrade(own_url, SCRIPTS).ok
    first = REVISIONS[0]
    info = next(r for r in schema.status(own_url, SCRIPTS).history if r.id == first)
    monkeypatch.setattr(schema, "plan_downgrade", lambda *_args, **_kwargs: info)
    with console_app(own_url, SCRIPTS, tmp_path) as app:
        client = admin_client(app)
        response = client.get(URL + "downgrade", follow_redirects=True)
        assert f"Downgrade not possible here: {first} is the first revision" in text(response)
        token = csrf_token(client, URL)
        response = client.post(
            URL + "downgrade",
            data={"csrf_token": token, "expected_current": first, "confirm_revision": first},
            follow_redirects=True,
        )
        assert "console db downgrade base" in text(response)
        assert client.get(URL).status_code == 200
    assert version(own_url) == [HEAD]


@pytest.mark.postgres_only
def test_the_page_masks_the_password(database_url, tmp_path):
    # Trust authentication ignores the password, so the page can be shown with one in the URL.
    url = sa.engine.make_url(database_url)
    url = url.set(username=url.username or getpass.getuser(), password="s3cret-pass")
    with console_app(url.render_as_string(hide_password=False), SCRIPTS, tmp_path) as app:
        page = admin_client(app).get(URL).get_data(as_text=True)
    assert "s3cret-pass" not in page
    assert f"{url.username}:***@" in page


def test_drift_is_named_on_the_page(own_url, tmp_path):
    assert schema.upgrade(own_url, copy_scripts(tmp_path)).ok
    # Before the app's session reads the accounts table (an ALTER would wait for it).
    execute(
        own_url,
        "ALTER TABLE {console}account ADD COLUMN nickname VARCHAR(20)",
        "DROP INDEX {console}ix_audit_entry_model",
    )
    with console_app(own_url, copy_scripts(tmp_path / "b"), tmp_path) as app:
        client = admin_client(app)
        page = text(client.get(URL))
    assert "Column account.nickname is in the database but not in the models." in page
    assert "Index ix_audit_entry_model on audit_entry (model) is in the models" in page
    # The demo's history is not run here: it says so, with nothing to compare.
    assert "tables (people, to-do lists, to-dos) Current revision none" in page
    assert "history&#39;s tables exist yet: nothing to compare." in page


def confirmation(client, url: str) -> tuple[list[str], str, dict[str, str]]:
    """GET a confirmation page: the revisions it lists, its form's action and hidden fields."""
    html = client.get(url).get_data(as_text=True)
    plan = re.findall(r'<ol id="plan">(.*?)</ol>', html, re.S)
    form = html[html.rindex("<form"):]
    action = re.search(r'action="([^"]+)"', form).group(1)
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))
    return re.findall(r"<li><code>([^<]+)</code>", plan[0]), action, fields


def test_downgrade_one_step_and_upgrade_back_with_confirmation(own_url, tmp_path):
    scripts = copy_scripts(
        tmp_path,
        **{"0002_marker": marker("0002_marker", HEAD), "0003_b": noop("0003_b", "0002_marker")},
    )
    assert schema.upgrade(own_url, scripts, "0002_marker").ok
    with console_app(own_url, scripts, tmp_path) as app:
        client = admin_client(app)
        page = text(client.get(URL))
        assert "0003_b No-op step 0003_b 2026-11-27 0002_marker" in page

        confirm = text(client.get(URL + "downgrade"))
        assert "runs the downgrade of exactly this revision: 0002_marker Marker table" in confirm
        assert f"will then be at {HEAD}" in confirm
        plan, action, fields = confirmation(client, URL + "downgrade")
        assert plan == ["0002_marker"]

        wrong = client.post(action, data={**fields, "confirm_revision": "0002"})
        assert wrong.status_code == 400
        assert "Type the revision id 0002_marker exactly" in text(wrong)
        assert version(own_url) == ["0002_marker"]

        done = client.post(action, data={**fields, "confirm_revision": "0002_marker"},
                           follow_redirects=True)
        assert f"Downgrade done: 0002_marker -&gt; {HEAD}." in done.get_data(as_text=True)
        assert version(own_url) == [HEAD]
        assert f"Current revision {HEAD}" in text(client.get(URL))

        plan, action, fields = confirmation(client, URL + "upgrade?target=0002_marker")
        assert plan == ["0002_marker"]
        done = client.post(action, data=fields, follow_redirects=True)
        assert f"Upgrade done: {HEAD} -&gt; 0002_marker." in done.get_data(as_text=True)
        assert version(own_url) == ["0002_marker"]

        plan, action, fields = confirmation(client, URL + "upgrade")
        assert plan == ["0003_b"]
        client.post(action, data=fields)
        assert version(own_url) == ["0003_b"]

        audit = execute(
            own_url,
            "SELECT account_email FROM {console}audit_entry WHERE action = 'migration' ORDER BY id",
        )
    # The first upgrade ran before the admin existed; the three page runs name the admin.
    assert [row[0] for row in audit] == [None, "admin@example.com", "admin@example.com",
                                         "admin@example.com"]


def test_a_confirmation_gone_stale_is_refused(own_url, tmp_path):
    scripts = copy_scripts(tmp_path, **{"0002_a": noop("0002_a", HEAD)})
    assert schema.upgrade(own_url, scripts, HEAD).ok
    with console_app(own_url, scripts, tmp_path) as app:
        client = admin_client(app)
        _plan, action, fields = confirmation(client, URL + "upgrade")
        assert schema.upgrade(own_url, scripts).ok  # another admin got there first
        response = client.post(action, data=fields, follow_redirects=True)
    assert f"Upgrade not run: the database is now at 0002_a, not at {HEAD}" in text(response)
    assert version(own_url) == ["0002_a"]


def test_upgrade_of_an_up_to_date_database_is_refused_with_a_message(admin_client):
    response = admin_client.get(URL + "upgrade", follow_redirects=True)
    assert "Upgrade not possible: The database is already up to date." in text(response)
    token = csrf_token(admin_client, URL)
    response = admin_client.post(
        URL + "upgrade",
        data={"csrf_token": token, "target": "heads", "expected_current": HEAD},
        follow_redirects=True,
    )
    assert "Upgrade not run: The database is already up to date." in text(response)


def test_a_pending_revision_not_in_the_list_cannot_be_chosen(own_url, tmp_path):
    scripts = copy_scripts(tmp_path, **{"0002_a": noop("0002_a", HEAD)})
    assert schema.upgrade(own_url, scripts, HEAD).ok
    with console_app(own_url, scripts, tmp_path) as app:
        client = admin_client(app)
        response = client.get(URL + "upgrade?target=nope", follow_redirects=True)
        assert "Revision nope is not pending" in text(response)
        response = client.post(
            URL + "upgrade",
            data={"csrf_token": csrf_token(client, URL), "target": "nope",
                  "expected_current": HEAD},
            follow_redirects=True,
        )
        assert "Revision nope is not pending" in text(response)
    assert version(own_url) == [HEAD]


@pytest.mark.postgres_only
def test_a_broken_revision_shows_its_error_and_keeps_the_last_good_one(tmp_path):
    scripts = copy_scripts(
        tmp_path,
        **{"0002_marker": marker("0002_marker", HEAD),
           "0003_broken": broken("0003_broken", "0002_marker")},
    )
    with empty_database("postgresql", tmp_path) as url:
        assert schema.upgrade(url, scripts, HEAD).ok
        with console_app(url, scripts, tmp_path) as app:
            client = admin_client(app)
            confirm = client.get(URL + "upgrade")
            plan = re.findall(r"<li><code>([^<]+)</code>", confirm.get_data(as_text=True))
            assert plan == ["0002_marker", "0003_broken"]
            response = post_form(client, URL + "upgrade",
                                 {"target": "heads", "expected_current": HEAD},
                                 follow_redirects=True)
            page = text(response)
            assert "Upgrade failed:" in page and "no_such_table" in page
            assert "The database is at 0002_marker" in page
            assert "Current revision 0002_marker" in page
        assert version(url) == ["0002_marker"]
