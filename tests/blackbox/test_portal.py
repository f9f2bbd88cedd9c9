"""The admin portal (issue 9, "Admin portal"): operators made by the CLI
with argon2id hashes, logins with one 401 for every wrong guess and a
lockout (429), sessions kept in PostgreSQL behind an HttpOnly, Secure,
SameSite=Strict cookie, CSRF refused on every state change, logout that
ends the session server-side, and one tenant's operator never seeing
another's devices.  The pages themselves, through nginx, with their
security headers; the browser test is test_portal_browser.py."""

import os
import subprocess
from pathlib import Path

import pytest

import helpers
from helpers import assert_json_error, psql, random_name
from portal_helpers import API, PASSWORD, Session, admin_cli, make_operator, set_cookie


@pytest.fixture(scope="module")
def origin(stack):
    return stack.env["FLEETPKI_URL"]


@pytest.fixture(scope="module")
def tenant(stack):
    name = random_name()
    stack.cli.run("tenant", "create", name)
    return name


@pytest.fixture
def operator(stack, tenant):
    return make_operator(stack.cli, tenant)


@pytest.fixture
def session(stack, origin, tenant, operator):
    s = Session(stack.client, origin)
    s.login(tenant, operator)
    return s


def db(stack, sql):
    return psql(stack.env["FLEETPKI_DATABASE_URL"], sql)


# ---- the CLI ---------------------------------------------------------

def test_admin_create_refuses_short_and_missing_passwords(stack, tenant):
    name = random_name("op")
    r = admin_cli(stack.cli, "create", "--tenant", tenant, "--name", name,
                  password="short", check=False)
    assert r.returncode == 1 and "at least 12" in r.stderr, r.stderr
    r = admin_cli(stack.cli, "create", "--tenant", tenant, "--name", name, check=False)
    assert r.returncode == 1 and "standard input" in r.stderr, r.stderr
    r = admin_cli(stack.cli, "create", "--tenant", tenant, "--name", "bad name",
                  password=PASSWORD, check=False)
    assert r.returncode == 1 and "invalid operator name" in r.stderr, r.stderr
    r = admin_cli(stack.cli, "create", "--tenant", "no-such-" + name, "--name", name,
                  password=PASSWORD, check=False)
    assert r.returncode == 1 and "no tenant" in r.stderr, r.stderr
    # Nothing was made.
    assert db(stack, f"SELECT count(*) FROM admin_operators WHERE name = '{name}'") == "0"


def test_admin_create_stores_an_argon2id_hash_only(stack, tenant):
    name = make_operator(stack.cli, tenant)
    h = db(stack, f"SELECT password_hash FROM admin_operators WHERE name = '{name}'")
    assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), h
    assert PASSWORD not in h
    r = admin_cli(stack.cli, "create", "--tenant", tenant, "--name", name,
                  password=PASSWORD, check=False)
    assert r.returncode == 1 and "already has" in r.stderr, r.stderr
    listing = admin_cli(stack.cli, "list", "--tenant", tenant).stdout
    assert any(line.split("\t")[:3] == [tenant, name, "active"]
               for line in listing.splitlines()), listing


# ---- login ------------------------------------------------------------

def test_login_sets_a_strict_session_cookie(stack, origin, tenant, operator):
    s = Session(stack.client, origin)
    r = s.login(tenant, operator)
    value, attrs = set_cookie(r)
    assert len(value) == 43 and value.isalnum(), value
    assert "httponly" in attrs and "secure" in attrs, attrs
    assert attrs.get("samesite") == "Strict", attrs
    assert attrs.get("path") == "/admin", attrs
    assert r.headers.get("cache-control") == "no-store"
    body = r.json()
    assert body["tenant"] == tenant and body["name"] == operator
    assert len(body["csrfToken"]) == 64
    # The database holds the token's HMAC only, never the token.
    hashes = db(stack, "SELECT string_agg(token_hash, ',') FROM admin_sessions s "
                       "JOIN admin_operators o ON o.id = s.operator_id "
                       f"WHERE o.name = '{operator}'")
    assert hashes and value not in hashes and body["csrfToken"] not in hashes
    me = s.get("/me")
    assert me.status == 200, me
    assert me.json()["name"] == operator and me.json()["csrfToken"] == s.csrf


def test_every_wrong_guess_gets_the_same_401(stack, origin, tenant, operator):
    s = Session(stack.client, origin)
    bodies = []
    for t, n, p in ((tenant, operator, "wrong password!!"),
                    (tenant, "nobody-" + operator, PASSWORD),
                    ("no-such-tenant-" + tenant, operator, PASSWORD)):
        r = s.login(t, n, p, expect=401)
        assert "set-cookie" not in r.headers
        bodies.append(assert_json_error(r, 401))
    assert bodies[0] == bodies[1] == bodies[2], bodies


def test_login_input_is_validated(stack, origin):
    c = stack.client
    h = {"Origin": origin}
    assert_json_error(c.post(API + "/login", {"tenant": "a", "name": "b"}, headers=h), 400)
    assert_json_error(c.post(API + "/login", {"tenant": "a", "name": "b", "password": "c",
                                              "extra": 1}, headers=h), 400)
    assert_json_error(c.post(API + "/login", {"tenant": 1, "name": "b", "password": "c"},
                             headers=h), 400)
    assert_json_error(c.post(API + "/login", "{not json", headers=dict(h, **{
        "Content-Type": "application/json"})), 400)
    assert_json_error(c.post(API + "/login", "tenant=a", headers=dict(h, **{
        "Content-Type": "application/x-www-form-urlencoded"})), 415)
    assert_json_error(c.get(API + "/login"), 405)
    assert_json_error(c.get(API + "/no-such-route"), 404)


def test_cross_origin_login_refused(stack, origin, tenant, operator):
    for h in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
              {"Origin": "null"}):
        r = stack.client.post(API + "/login", {"tenant": tenant, "name": operator,
                                               "password": PASSWORD}, headers=h)
        assert_json_error(r, 403)
        assert "set-cookie" not in r.headers


def test_lockout_after_repeated_failures(stack, origin, tenant):
    name = make_operator(stack.cli, tenant)
    s = Session(stack.client, origin)
    for _ in range(5):
        s.login(tenant, name, "wrong password!!", expect=401)
    # Locked: even the right password gets 429 now, and no cookie.
    r = s.login(tenant, name, PASSWORD, expect=429)
    assert_json_error(r, 429)
    assert "set-cookie" not in r.headers
    # An unknown operator locks the same way: 429 tells nothing.
    ghost = "ghost-" + name
    for _ in range(5):
        s.login(tenant, ghost, "wrong password!!", expect=401)
    assert_json_error(s.login(tenant, ghost, PASSWORD, expect=429), 429)
    # Another operator of the tenant is not affected.
    other = make_operator(stack.cli, tenant)
    Session(stack.client, origin).login(tenant, other)
    # The lock ends (here: its window, moved into the past).
    db(stack, "UPDATE admin_login_failures SET locked_until = now() - interval '1 s', "
              "window_start = now() - interval '1 hour' "
              f"WHERE login = '{tenant}/{name}'")
    s.login(tenant, name)


# ---- sessions, CSRF ----------------------------------------------------

def test_no_cookie_or_a_bad_one_is_401(stack, session):
    c = stack.client
    assert_json_error(c.get(API + "/me"), 401)
    assert_json_error(c.get(API + "/devices"), 401)
    for cookie in ("fp_admin=" + "A" * 43, "fp_admin=short", "fp_admin=" + session.cookie + "x",
                   "other=" + session.cookie):
        assert_json_error(c.get(API + "/me", headers={"Cookie": cookie}), 401)
    assert session.get("/me").status == 200


def test_state_changes_need_the_csrf_token(stack, session):
    # Logout is a state change: refused without the token, with a wrong
    # one, from another origin; the session lives on.
    assert_json_error(session.post("/logout", csrf=False), 403)
    assert_json_error(session.post("/logout", csrf=False,
                                   extra={"X-CSRF-Token": "0" * 64}), 403)
    assert_json_error(session.post("/logout", csrf=False,
                                   extra={"X-CSRF-Token": session.csrf[:-1]}), 403)
    assert_json_error(session.post("/logout", extra={"Origin": "https://evil.example"}), 403)
    assert_json_error(session.post("/logout", extra={"Sec-Fetch-Site": "cross-site"}), 403)
    assert_json_error(session.post("/devices", {"deviceId": "csrf-dev-" + random_name()[-6:]},
                                   csrf=False), 403)
    assert session.get("/me").status == 200
    # Another session's token is no good either.
    other = Session(stack.client, session.origin)
    other.login(session.me["tenant"], session.me["name"])
    assert other.csrf != session.csrf
    assert_json_error(session.post("/logout", csrf=False,
                                   extra={"X-CSRF-Token": other.csrf}), 403)
    assert session.get("/me").status == 200


def test_logout_ends_the_session_server_side(stack, session):
    cookie = session.cookie
    r = session.post("/logout", extra={"Origin": session.origin})
    assert r.status == 204, r
    _, attrs = set_cookie(r)
    assert attrs.get("max-age") == "0"
    # The browser forgets the cookie; a copy of it is dead too.
    r = stack.client.get(API + "/me", headers={"Cookie": "fp_admin=" + cookie})
    assert_json_error(r, 401)
    assert db(stack, "SELECT count(*) FROM admin_sessions WHERE revoked_at IS NULL AND "
                     f"operator_id = (SELECT id FROM admin_operators WHERE name = "
                     f"'{session.me['name']}')") == "0"


def test_idle_and_expired_sessions_end(stack, origin, tenant, operator):
    a, b = Session(stack.client, origin), Session(stack.client, origin)
    a.login(tenant, operator)
    b.login(tenant, operator)
    assert a.get("/me").status == 200 and b.get("/me").status == 200
    oid = f"(SELECT id FROM admin_operators WHERE name = '{operator}')"
    db(stack, "UPDATE admin_sessions SET last_used = now() - interval '31 minutes' "
              f"WHERE operator_id = {oid} AND id = (SELECT id FROM admin_sessions "
              f"WHERE operator_id = {oid} ORDER BY id DESC OFFSET 1 LIMIT 1)")
    db(stack, "UPDATE admin_sessions SET expires_at = now() - interval '1 s' "
              f"WHERE operator_id = {oid} AND id = (SELECT max(id) FROM admin_sessions "
              f"WHERE operator_id = {oid})")
    assert_json_error(a.get("/me"), 401)
    assert_json_error(b.get("/me"), 401)


def test_disable_and_passwd_end_sessions(stack, origin, tenant):
    name = make_operator(stack.cli, tenant)
    s = Session(stack.client, origin)
    s.login(tenant, name)
    admin_cli(stack.cli, "disable", "--tenant", tenant, "--name", name)
    assert_json_error(s.get("/me"), 401)
    assert_json_error(s.login(tenant, name, expect=401), 401)
    admin_cli(stack.cli, "enable", "--tenant", tenant, "--name", name)
    s.login(tenant, name)
    new = "another long password"
    r = admin_cli(stack.cli, "passwd", "--tenant", tenant, "--name", name, password=new)
    assert "sessions ended" in r.stdout
    assert_json_error(s.get("/me"), 401)
    s.login(tenant, name, expect=401)
    s.login(tenant, name, new)
    assert s.get("/me").status == 200


def test_the_session_belongs_to_its_tenant(stack, origin, tenant, session):
    other = random_name()
    stack.cli.run("tenant", "create", other)
    op = make_operator(stack.cli, other)
    s2 = Session(stack.client, origin)
    s2.login(other, op)
    assert s2.get("/me").json()["tenant"] == other
    assert session.get("/me").json()["tenant"] == tenant
    # The same operator name in two tenants: two operators.
    op_same = make_operator(stack.cli, other, name=session.me["name"])
    assert op_same == session.me["name"]
    Session(stack.client, origin).login(other, op_same)


# ---- validation of the device routes ---------------------------------

def test_device_list_parameters_are_validated(session):
    for params in ({"state": "bogus"}, {"prefix": "UPPER"}, {"prefix": "a" * 64},
                   {"after": "!!!"}, {"after": "QUJD"},  # "ABC": no id
                   {"expiresWithinDays": "0"}, {"expiresWithinDays": "x"},
                   {"limit": "0"}):
        assert_json_error(session.get("/devices", **params), 400)


def test_device_bodies_are_validated(session):
    for body in ({}, {"deviceId": 5}, {"deviceId": "ok-id-1", "x": 1},
                 {"deviceId": "NOT-VALID"}, {"deviceId": "-bad-"}, {"deviceId": "abc"}):
        assert_json_error(session.post("/devices", body), 400)
    for body in ({}, {"ids": []}, {"ids": "a"}, {"ids": ["x" * 201]},
                 {"ids": ["good-one"] * 1001}, {"ids": ["good-one"], "atomic": "yes"}):
        assert_json_error(session.post("/devices/import", body), 400)
    for path in ("/devices/NOPE", "/devices/ab", "/devices/" + "a" * 64):
        assert_json_error(session.get(path), 404)
        assert_json_error(session.post(path + "/disable"), 404)


# ---- the pages, through nginx -------------------------------------------

def test_pages_are_served_with_strict_headers(stack):
    c = stack.client
    r = c.get("/admin/")
    assert r.status == 200, r
    assert r.content_type == "text/html"
    csp = r.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    assert "unsafe-inline" not in csp
    assert r.headers.get("x-frame-options") == "DENY"
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert b"<script src=\"app.js\"" in r.body
    # No inline script or style: every <script> has a src.
    assert b"<script>" not in r.body and b"style=" not in r.body
    js = c.get("/admin/app.js")
    assert js.status == 200 and js.content_type == "text/javascript", js
    css = c.get("/admin/style.css")
    assert css.status == 200 and css.content_type == "text/css", css
    assert c.get("/admin").status == 301
    assert c.get("/admin/nothing-here.js").status == 404
    # The API has its own headers too.
    r = c.get(API + "/me")
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", "")


def test_plain_http_serves_no_portal(stack):
    assert stack.client.get("/admin/", plain=True).status == 404
    assert stack.client.post(API + "/login", {"tenant": "a", "name": "b", "password": "c"},
                             plain=True).status == 404


# ---- devices (core_enroll) ----------------------------------------------

def test_devices_create_list_page_and_open(stack, session):
    base = "pt" + random_name("")[-8:].lower().replace("_", "-")
    r = session.post("/devices", {"deviceId": base + "-000"})
    assert r.status == 201, r
    secret = r.json()["secret"]
    assert len(secret) == 32
    assert r.headers.get("cache-control") == "no-store"
    assert_json_error(session.post("/devices", {"deviceId": base + "-000"}), 409)
    # The secret is stored as an HMAC only.
    assert db(stack, f"SELECT count(*) FROM enroll_devices WHERE device_id = '{base}-000' "
                     f"AND secret_hash <> '{secret}'") == "1"
    # An import with per-row failures: a duplicate, a bad id, a taken one.
    ids = [f"{base}-{i:03d}" for i in range(1, 121)] + ["Bad_Id", base + "-000"]
    r = session.post("/devices/import", {"ids": ids})
    assert r.status == 200, r
    body = r.json()
    assert body["total"] == 122 and body["addedCount"] == 120 and body["failedCount"] == 2
    assert {f["row"] for f in body["failed"]} == {120, 121}
    assert all(f["reason"] for f in body["failed"])
    assert len({a["secret"] for a in body["added"]}) == 120
    # Keyset pages of 50 by prefix: 121 devices, 3 pages, no repeats.
    seen, after, pages = [], None, 0
    while True:
        params = {"prefix": base, "limit": 50}
        if after:
            params["after"] = after
        r = session.get("/devices", **params)
        assert r.status == 200, r
        page = r.json()
        seen += [d["deviceId"] for d in page["devices"]]
        pages += 1
        after = page["next"]
        if not after:
            break
    assert pages == 3
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 121
    assert all(d.startswith(base) for d in seen)
    r = session.get("/devices", prefix=base, state="pending", limit=500)
    assert len(r.json()["devices"]) == 121
    assert session.get("/devices", prefix=base, state="issued").json()["devices"] == []
    assert session.get("/devices", prefix=base, expiresWithinDays=90).json()["devices"] == []
    # One device, its certificates and orders.
    r = session.get(f"/devices/{base}-007")
    assert r.status == 200, r
    d = r.json()
    assert d["deviceId"] == f"{base}-007" and d["state"] == "pending" and d["enabled"]
    assert d["certificates"] == [] and d["orders"] == []
    # Disable, enable, rotate.
    r = session.post(f"/devices/{base}-007/disable")
    assert r.status == 200 and r.json()["state"] == "disabled" and not r.json()["enabled"], r
    assert [x["deviceId"] for x in session.get("/devices", prefix=base,
                                               state="disabled").json()["devices"]] \
        == [f"{base}-007"]
    r = session.post(f"/devices/{base}-007/enable")
    assert r.status == 200 and r.json()["enabled"], r
    old = db(stack, f"SELECT secret_hash FROM enroll_devices WHERE device_id = '{base}-007'")
    r = session.post(f"/devices/{base}-007/rotate-secret")
    assert r.status == 200 and len(r.json()["secret"]) == 32, r
    assert db(stack, f"SELECT secret_hash FROM enroll_devices "
                     f"WHERE device_id = '{base}-007'") != old
    assert_json_error(session.post(f"/devices/{base}-999/disable"), 404)


def test_stats_and_acme(session):
    st = session.get("/stats")
    assert st.status == 200, st
    body = st.json()
    assert set(body["states"]) == {"pending", "issuing", "issued", "renewing", "failed",
                                   "disabled"}
    assert len(body["expiryWeeks"]) == 13
    assert [w["week"] for w in body["expiryWeeks"]] == list(range(13))
    a = session.get("/acme")
    assert a.status == 200, a
    b = a.json()["budget"]
    assert b["weekly"] == 50 and b["usedLast7Days"] == 0 and b["remaining"] == 50


def test_an_operator_sees_only_its_tenant(stack, origin, session):
    other = random_name()
    stack.cli.run("tenant", "create", other)
    op = make_operator(stack.cli, other)
    s2 = Session(stack.client, origin)
    s2.login(other, op)
    dev = "iso" + random_name("")[-8:].lower().replace("_", "-")
    assert s2.post("/devices", {"deviceId": dev}).status == 201
    # Tenant A's operator: not listed, not found, cannot change it.
    assert session.get("/devices", prefix=dev).json()["devices"] == []
    assert_json_error(session.get("/devices/" + dev), 404)
    assert_json_error(session.post(f"/devices/{dev}/disable"), 404)
    assert_json_error(session.post(f"/devices/{dev}/rotate-secret"), 404)
    # Taken in another tenant: refused without saying whose.
    r = session.post("/devices", {"deviceId": dev})
    body = assert_json_error(r, 409)
    assert other not in body["message"]
    assert s2.get("/devices/" + dev).json()["enabled"] is True
    assert s2.get("/stats").json()["states"]["pending"] == 1


# ---- a second host ---------------------------------------------------------

def test_a_session_works_through_a_second_host(stack, origin, tenant, operator):
    """Sessions live in PostgreSQL: host B (scripts/up --join, as
    test_zx_hosts.py starts it) serves a session host A opened, and a
    logout through B ends it on A."""
    import shutil
    import tempfile

    from conftest import free_ports, read_env
    from helpers import Client, scripts_down, scripts_up

    if not stack.owned:
        pytest.skip("an external stack: no second host is started beside it")
    d = Path(tempfile.mkdtemp(prefix="fleetpki-portal-b-", dir="/tmp"))
    os.chmod(d, 0o711)
    https, http = free_ports(2)
    try:
        r = scripts_up(d, "--port", str(https), "--http-port", str(http), "--workers", "1",
                       "--join", str(stack.dir))
        assert r.returncode == 0, r.stderr[-4000:]
        env_b = read_env(d / "env")
        a = Session(stack.client, origin)
        a.login(tenant, operator)
        b = Session(Client(env_b), env_b["FLEETPKI_URL"])
        b.cookie, b.csrf = a.cookie, a.csrf
        me = b.get("/me")
        assert me.status == 200 and me.json()["name"] == operator, me
        assert me.json()["csrfToken"] == a.csrf
        assert b.post("/logout", extra={"Origin": env_b["FLEETPKI_URL"]}).status == 204
        assert_json_error(a.get("/me"), 401)
    finally:
        scripts_down(d)
        shutil.rmtree(d, ignore_errors=True)
