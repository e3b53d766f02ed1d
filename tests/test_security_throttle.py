"""Sign-in throttling: by client address and account, never a lock an attacker can use.

Also: the same answer and time for unknown, wrong and throttled sign-ins, the count
decided before the password is checked (exact under concurrency), the per-client rate
limit of the login, and failed sign-ins folded into one audit entry per window.
"""

from __future__ import annotations

import random
import re
import statistics
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from console.auth import service, throttle
from console.auth.throttle import Limit
from console.models import AuditEntry, LoginThrottle, Role
from console.models import accounts as accounts_module
from console.models.base import utcnow
from tests.conftest import CSRF_RE, PASSWORD, make_account

VICTIM = "admin@example.com"
WRONG = "Wrong email or password."


def _browser(app, address="127.0.0.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _login(client, email, password):
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def _attempt(app, address, email=VICTIM, password="not-the-password"):  # noqa: S107
    return _login(_browser(app, address), email, password)


@pytest.fixture
def victim(db):
    return make_account(Role.admin, VICTIM)


def test_an_attackers_failures_do_not_lock_the_account_for_another_address(app, victim):
    for _ in range(3 * app.config["CONSOLE_LOGIN_MAX_FAILURES"]):
        assert _attempt(app, "198.51.100.66").status_code == 401
    # The attacker's address is paused, even with the right password...
    paused = _attempt(app, "198.51.100.66", password=PASSWORD)
    assert paused.status_code == 401 and WRONG in paused.get_data(as_text=True)
    # ...while the admin, elsewhere, signs in.
    assert _attempt(app, "192.0.2.10", password=PASSWORD).status_code == 302


def test_password_spraying_from_one_address_pauses_that_address(app, victim):
    app.config["CONSOLE_LOGIN_ADDRESS_MAX_FAILURES"] = 8
    for i in range(8):
        assert _attempt(app, "198.51.100.7", email=f"user{i}@example.com").status_code == 401
    assert _attempt(app, "198.51.100.7", password=PASSWORD).status_code == 401
    assert _attempt(app, "192.0.2.10", password=PASSWORD).status_code == 302


def test_an_office_behind_one_address_can_all_sign_in(app, db):
    app.config["CONSOLE_LOGIN_ADDRESS_MAX_FAILURES"] = 5
    for i in range(12):
        make_account(Role.viewer, f"colleague{i}@example.com")
        response = _attempt(app, "192.0.2.1", email=f"colleague{i}@example.com", password=PASSWORD)
        assert response.status_code == 302, i


def test_signing_in_to_ones_own_account_does_not_wipe_out_failures(app, victim):
    app.config["CONSOLE_LOGIN_ADDRESS_MAX_FAILURES"] = 6
    make_account(Role.viewer, "attacker@example.com")
    for i in range(5):
        _attempt(app, "198.51.100.9", email=f"victim{i}@example.com")
    assert _attempt(app, "198.51.100.9", "attacker@example.com", PASSWORD).status_code == 302
    _attempt(app, "198.51.100.9", email="victim9@example.com")  # the 6th failure
    assert _attempt(app, "198.51.100.9", "attacker@example.com", PASSWORD).status_code == 401


def test_a_botnet_cannot_lock_out_a_browser_that_signed_in_before(app, victim):
    app.config["CONSOLE_LOGIN_ACCOUNT_MAX_FAILURES"] = 6
    admin = _browser(app, "192.0.2.10")
    assert _login(admin, VICTIM, PASSWORD).status_code == 302
    for i in range(8):
        _attempt(app, f"198.51.100.{i + 1}")
    # A new browser at a new address is paused for this account (untrusted)...
    assert _attempt(app, "192.0.2.99", password=PASSWORD).status_code == 401
    # ...but the admin's own browser, which signed in before, is not.
    admin.post("/logout", data={"csrf_token": _token(admin, "/admin/")})
    assert _login(admin, VICTIM, PASSWORD).status_code == 302


def test_an_attacker_at_the_same_address_cannot_lock_out_a_known_browser(app, victim):
    admin = _browser(app, "192.0.2.10")
    assert _login(admin, VICTIM, PASSWORD).status_code == 302
    admin.post("/logout", data={"csrf_token": _token(admin, "/admin/")})
    for _ in range(10):
        assert _attempt(app, "192.0.2.10").status_code == 401
    assert _login(admin, VICTIM, PASSWORD).status_code == 302


def test_a_device_cookie_counts_only_for_its_own_account(app, victim):
    make_account(Role.viewer, "attacker@example.com")
    attacker = _browser(app, "198.51.100.5")
    assert _login(attacker, "attacker@example.com", PASSWORD).status_code == 302
    attacker.post("/logout", data={"csrf_token": _token(attacker, "/admin/")})
    assert attacker.get_cookie("console_device", path="/login") is not None
    for _ in range(5):
        _login(attacker, VICTIM, "guess")
    assert _login(attacker, VICTIM, PASSWORD).status_code == 401


def _token(client, url):
    return CSRF_RE.search(client.get(url).get_data(as_text=True)).group(1)


def test_unknown_wrong_and_throttled_get_the_same_answer(app, victim):
    for _ in range(5):
        _attempt(app, "198.51.100.1")
    answers = [
        _attempt(app, "198.51.100.2", email="nobody@example.com"),
        _attempt(app, "198.51.100.3"),
        _attempt(app, "198.51.100.1", password=PASSWORD),  # throttled
    ]
    assert {a.status_code for a in answers} == {401}
    assert len({_normalised(a) for a in answers}) == 1


def _normalised(response):
    body = response.get_data(as_text=True)
    body = CSRF_RE.sub('name="csrf_token" value=""', body)
    return re.sub(r'value="[^"]*@example\.com"', 'value=""', body)


def test_unknown_wrong_and_throttled_take_the_same_time(app, db, monkeypatch):
    """Medians of 50 attempts each, interleaved in random order, within half a hash.

    Skipping the hash on any path would take a whole hash off its median; a slower hash
    than the suite's makes that stand well above the noise of a busy 2-core machine,
    where the same work measured twice differs by several milliseconds.
    """
    monkeypatch.setattr(accounts_module, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:150000")
    app.config.update(
        CONSOLE_LOGIN_RATE_LIMIT="10000/minute", CONSOLE_LOGIN_ACCOUNT_MAX_FAILURES=10000
    )
    account = make_account(Role.admin, VICTIM)
    hash_seconds = statistics.median(
        _timed(lambda: check_password_hash(account.password_hash, "x")) for _ in range(15)
    )
    for _ in range(5):
        _attempt(app, "198.51.100.250")  # locks this address for the victim
    kinds = {
        # a fresh address each time: neither of these ever gets throttled
        "unknown": lambda i: _attempt(app, f"203.0.113.{i}", email=f"nobody{i}@example.com"),
        "wrong": lambda i: _attempt(app, f"198.51.100.{i}"),
        "throttled": lambda i: _attempt(app, "198.51.100.250", password=PASSWORD),
    }
    times = {kind: [] for kind in kinds}
    bodies = {kind: set() for kind in kinds}
    for i in range(1, 51):
        order = list(kinds)
        random.shuffle(order)
        for kind in order:
            start = time.perf_counter()
            response = kinds[kind](i)
            times[kind].append(time.perf_counter() - start)
            assert response.status_code == 401
            bodies[kind].add(_normalised(response))
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    tolerance = hash_seconds / 2
    assert max(medians.values()) - min(medians.values()) < tolerance, (medians, hash_seconds)
    assert len(set.union(*bodies.values())) == 1


def _timed(work):
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def test_twenty_parallel_wrong_passwords_check_exactly_five(app, victim, monkeypatch):
    """The count and the lock are decided before the password is checked, atomically."""
    app.config["CONSOLE_LOGIN_RATE_LIMIT"] = "1000/minute"
    real_hash = victim.password_hash
    checked = []
    lock = threading.Lock()

    def counting_check(pwhash, password):
        if pwhash == real_hash:
            with lock:
                checked.append(password)
        return check_password_hash(pwhash, password)

    monkeypatch.setattr(service, "check_password_hash", counting_check)
    browsers = [_browser(app, "198.51.100.20") for _ in range(20)]
    tokens = [_token(b, "/login") for b in browsers]
    start = threading.Barrier(20)
    statuses = []

    def attack(browser, token):
        start.wait()
        response = browser.post(
            "/login", data={"email": VICTIM, "password": "wrong-guess", "csrf_token": token}
        )
        with lock:
            statuses.append(response.status_code)

    threads = [
        threading.Thread(target=attack, args=pair)
        for pair in zip(browsers, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [401] * 20
    assert len(checked) == app.config["CONSOLE_LOGIN_MAX_FAILURES"] == 5


def test_the_login_has_a_per_client_rate_limit(app, victim, monkeypatch):
    app.config["CONSOLE_LOGIN_RATE_LIMIT"] = "3/minute"
    client = _browser(app, "198.51.100.30")
    for _ in range(3):
        assert _login(client, "nobody@example.com", "x").status_code == 401
    limited = _login(client, VICTIM, PASSWORD)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "Too many sign-in requests" in limited.get_data(as_text=True)
    assert client.get("/login").status_code == 200  # the page itself is not limited
    # Another client is not affected...
    assert _attempt(app, "192.0.2.10", password=PASSWORD).status_code == 302
    # ...and the limit lifts when its minute is over.
    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr(throttle, "utcnow", lambda: later)
    assert _login(client, VICTIM, PASSWORD).status_code == 302


def test_failed_sign_ins_fold_into_one_audit_entry_per_window(app, db, victim):
    for _ in range(4):
        _attempt(app, "198.51.100.40")
    for _ in range(3):
        _attempt(app, "198.51.100.40", email="nobody@example.com")
    for _ in range(6):  # the first of these is the 5th failure; the rest are throttled
        _attempt(app, "198.51.100.40")
    db.session.expire_all()
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "login_failed").order_by(AuditEntry.id)
    ).all()
    summaries = [e.changes["summary"] for e in entries]
    assert [(s.get("email"), s["reason"], s["attempts"]) for s in summaries] == [
        (VICTIM, "wrong password", 5),
        ("nobody@example.com", "unknown email", 3),
        (None, "throttled", 5),
    ]
    assert entries[0].account_id == victim.id and entries[1].account_id is None
    assert summaries[2]["emails"] == {VICTIM: 5} and summaries[2]["address"] == "198.51.100.40"


def test_a_flood_of_emails_from_one_address_stays_a_few_entries(app, db, victim):
    app.config["CONSOLE_LOGIN_RATE_LIMIT"] = "1000/minute"
    for i in range(60):
        _attempt(app, "198.51.100.41", email=f"guess{i}@example.com")
    db.session.expire_all()
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "login_failed"))
    entries = list(entries)
    limit = app.config["CONSOLE_LOGIN_ADDRESS_MAX_FAILURES"]
    assert len(entries) == limit + 1  # one per email checked, then one for the throttled rest
    throttled = entries[-1].changes["summary"]
    assert throttled["attempts"] == 60 - limit
    assert len(throttled["emails"]) == 20 and throttled["other emails"] == 60 - limit - 20


def test_a_new_window_starts_a_new_audit_entry(app, db, victim, monkeypatch):
    _attempt(app, "198.51.100.42")
    later = utcnow() + timedelta(seconds=app.config["CONSOLE_LOGIN_LOCK_SECONDS"] + 1)
    monkeypatch.setattr(throttle, "utcnow", lambda: later)
    _attempt(app, "198.51.100.42")
    db.session.expire_all()
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "login_failed"))
    assert [e.changes["summary"]["attempts"] for e in entries] == [1, 1]


# -- the counters themselves ---------------------------------------------------------------


def test_a_lock_lasts_twice_as_long_each_time(db):
    limit = Limit("pair:x|1", 2, timedelta(minutes=15), lock=timedelta(minutes=15))
    now = utcnow()
    waits = []
    for _round in range(4):
        assert throttle.reserve(db.session, [limit], now).allowed
        assert throttle.reserve(db.session, [limit], now).allowed
        refused = throttle.reserve(db.session, [limit], now)
        assert not refused.allowed and refused.refused_by == "pair:x|1"
        waits.append(refused.retry_after)
        # Still locked a moment before the end, free at the end.
        assert not throttle.reserve(db.session, [limit], now + refused.retry_after / 2).allowed
        now += refused.retry_after
    assert waits == [timedelta(minutes=m) for m in (15, 30, 60, 120)]


def test_a_refused_attempt_counts_against_no_key(db):
    tight = Limit("pair:y|1", 1, timedelta(minutes=15), lock=timedelta(minutes=15))
    loose = Limit("address:1", 100, timedelta(minutes=15), lock=timedelta(minutes=15))
    now = utcnow()
    for _ in range(5):
        throttle.reserve(db.session, [tight, loose], now)
    hits = db.session.scalar(select(LoginThrottle.hits).where(LoginThrottle.key == "address:1"))
    assert hits == 1


def test_a_rate_limit_refuses_until_its_window_ends(db):
    limit = Limit("rate:z", 2, timedelta(minutes=1))
    now = utcnow()
    assert throttle.reserve(db.session, [limit], now).allowed
    assert throttle.reserve(db.session, [limit], now + timedelta(seconds=10)).allowed
    refused = throttle.reserve(db.session, [limit], now + timedelta(seconds=20))
    assert not refused.allowed and refused.retry_after == timedelta(seconds=40)
    assert throttle.reserve(db.session, [limit], now + timedelta(seconds=61)).allowed


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("", "unknown"),
        (None, "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_client_keys_group_an_ipv6_host_by_its_network(address, key):
    assert throttle.client_key(address) == key
