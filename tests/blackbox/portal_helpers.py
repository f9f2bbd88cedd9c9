"""Helpers for the admin portal's tests (test_portal.py): operators made
through the CLI with the password on standard input, and a small cookie
session over helpers.Client."""

import subprocess
import urllib.parse

from helpers import random_name, sanitizer_report

API = "/admin/api"
PASSWORD = "correct horse battery staple"


def admin_cli(cli, *args, password=None, check=True):
    """`fleetpki admin ...` with 'password' (one line) on standard input."""
    cmd = [str(cli.bin / "fleetpki"), "--config", cli.config, "admin"] + [str(a) for a in args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=cli.env,
                       input=None if password is None else password + "\n")
    bad = sanitizer_report(r.stderr)
    assert bad is None, f"{' '.join(cmd)}: sanitizer report: {bad}\n{r.stderr}"
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()}")
    return r


def make_operator(cli, tenant, name=None, password=PASSWORD):
    name = name or random_name("op")
    r = admin_cli(cli, "create", "--tenant", tenant, "--name", name, password=password)
    assert f"{tenant}/{name}" in r.stdout, r.stdout
    return name


def set_cookie(r):
    """The Set-Cookie header of 'r' as (value, {attribute: value})."""
    raw = r.headers.get("set-cookie")
    assert raw, f"no Set-Cookie in {r!r}"
    parts = [p.strip() for p in raw.split(";")]
    name, _, value = parts[0].partition("=")
    assert name == "fp_admin", raw
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.lower()] = v
    return value, attrs


class Session:
    """An operator's browser: the cookie and the CSRF token."""

    def __init__(self, client, origin):
        self.client = client
        self.origin = origin
        self.cookie = None
        self.csrf = None
        self.me = None

    def login(self, tenant, name, password=PASSWORD, expect=200):
        r = self.client.post(API + "/login", {"tenant": tenant, "name": name,
                                              "password": password},
                             headers={"Origin": self.origin})
        assert r.status == expect, r
        if expect == 200:
            self.cookie, _ = set_cookie(r)
            self.me = r.json()
            self.csrf = self.me["csrfToken"]
        return r

    def headers(self, csrf=True, extra=None):
        h = {}
        if self.cookie is not None:
            h["Cookie"] = "fp_admin=" + self.cookie
        if csrf and self.csrf is not None:
            h["X-CSRF-Token"] = self.csrf
        h.update(extra or {})
        return h

    def get(self, path, **params):
        q = "?" + urllib.parse.urlencode(params) if params else ""
        return self.client.get(API + path + q, headers=self.headers(csrf=False))

    def post(self, path, body=None, csrf=True, extra=None):
        return self.client.post(API + path, body, headers=self.headers(csrf, extra))
