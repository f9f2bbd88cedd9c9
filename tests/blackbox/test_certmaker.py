"""The certificate-maker API (/api/v1, X-Auth-Token), issue 3: users and
settings on the CLI, authentication, the root certificate, certificates
with server-made keys and from CSRs, obtaining them, revocation shared with
the X.509 dialect's CRL.  Challenges: test_certmaker_challenge.py; OCSP:
test_ocsp.py."""

import json
import re
import time

import pytest

from cm_helpers import (  # noqa: F401  (make_cm_tenant is a fixture)
    API, API_TOKEN_RE, CLI_REASONS, REQUEST, REQUEST_CSR, REVOKE, ROOT,
    SERIAL_RE, assert_cert_basics, cert_dates, cert_pubkey, cert_serial_hex,
    csr_pubkey, expiring_challenges, ext_critical, ext_text, key_description,
    key_pubkey, make_cm_tenant, sans, want_sans)
from helpers import (assert_json_error, fingerprint, openssl, random_name,
                     subject_entries, tamper_signature, verify, x509_text)

DAY = 86400
SLACK = 900  # seconds of tolerance on validity periods (backdating, clocks)


@pytest.fixture(scope="module")
def tenant(make_cm_tenant):
    return make_cm_tenant()


@pytest.fixture(scope="module")
def alice(tenant):
    return tenant.user()


@pytest.fixture(scope="module")
def bob(tenant):
    return tenant.user()


@pytest.fixture(scope="module")
def admin(tenant):
    return tenant.user(admin=True)


@pytest.fixture(scope="module")
def root(alice):
    r = alice.get(ROOT)
    assert r.status == 200, r
    return r.text


@pytest.fixture(scope="module")
def other(make_cm_tenant):
    """A second tenant, with a user and an admin."""
    t = make_cm_tenant()
    t.u = t.user()
    t.a = t.user(admin=True)
    return t


def assert_no_body_leak(r):
    """An error answer: JSON with a message and nothing else."""
    body = r.json()
    assert set(body) == {"message"}, body


# --------------------------------------------------------------------------
# CLI: users and settings


def test_challenge_ttl_of_60_seconds(expiring_challenges):
    """certmaker.challenge_ttl takes its minimum, 60.  (The challenges made
    here expire while the other tests run; test_certmaker_challenge.py
    checks they did.)"""
    s = expiring_challenges.tenant.settings()
    assert s["certmaker.challenge_ttl"] == ("60", False)
    assert s["certmaker.require_challenge"] == ("on", False)


def test_user_create_prints_a_token_once(stack, tenant):
    name = random_name("u")
    r = stack.cli.run("user", "create", "--tenant", tenant.name, "--name", name)
    assert API_TOKEN_RE.match(r.stdout.strip()), r.stdout
    assert r.stdout.count("\n") == 1, r.stdout      # the token, one line
    token = r.stdout.strip()
    assert token not in r.stderr
    # Listed, as tab-separated tenant, name, role, state; never the token.
    lst = stack.cli.run("user", "list", "--tenant", tenant.name).stdout
    assert f"{tenant.name}\t{name}\tuser\tactive" in lst.splitlines(), lst
    assert token not in lst
    # A second user gets another token; the same name again is refused.
    t2 = stack.cli.run("user", "create", "--tenant", tenant.name,
                       "--name", random_name("u")).stdout.strip()
    assert API_TOKEN_RE.match(t2) and t2 != token
    again = stack.cli.run("user", "create", "--tenant", tenant.name, "--name", name,
                          check=False)
    assert again.returncode != 0
    assert again.stdout == "", again.stdout
    assert again.stderr.strip() and len(again.stderr.strip().splitlines()) == 1, again.stderr


def test_user_create_admin_and_list(stack, make_cm_tenant):
    t = make_cm_tenant()
    t.user(name="plain")
    t.user(name="boss", admin=True)
    lines = sorted(stack.cli.run("user", "list", "--tenant", t.name).stdout.splitlines())
    assert lines == [f"{t.name}\tboss\tadmin\tactive", f"{t.name}\tplain\tuser\tactive"]
    stack.cli.run("user", "disable", "--tenant", t.name, "plain")
    lines = sorted(stack.cli.run("user", "list", "--tenant", t.name).stdout.splitlines())
    assert lines == [f"{t.name}\tboss\tadmin\tactive", f"{t.name}\tplain\tuser\tdisabled"]
    # Without --tenant: every tenant's users, this tenant's among them.
    everyone = stack.cli.run("user", "list").stdout.splitlines()
    assert f"{t.name}\tboss\tadmin\tactive" in everyone


@pytest.mark.parametrize("args", [
    ["user", "create", "--name", "x"],                       # no tenant
    ["user", "create", "--tenant", "nosuchtenant", "--name", "x"],
    ["user", "create", "--tenant", "TENANT", "--name", "bad name"],
    ["user", "create", "--tenant", "TENANT", "--name", ""],
    ["user", "create", "--tenant", "TENANT", "--name", "x" * 65],
    ["user", "disable", "--tenant", "TENANT", "nosuchuser"],
    ["setting", "set", "--tenant", "TENANT", "certmaker.nosuch", "1"],
    ["setting", "set", "--tenant", "TENANT", "certmaker.require_challenge", "maybe"],
    ["setting", "set", "--tenant", "TENANT", "certmaker.default_days", "0"],
    ["setting", "set", "--tenant", "TENANT", "certmaker.default_days", "7x"],
    ["setting", "set", "--tenant", "TENANT", "certmaker.max_days", "-1"],
    ["setting", "set", "--tenant", "TENANT", "certmaker.max_days", ""],
    ["setting", "set", "--tenant", "TENANT", "certmaker.challenge_ttl", "59"],
    ["setting", "set", "--tenant", "TENANT", "ocsp.validity", "59"],
    ["setting", "set", "--tenant", "TENANT", "ocsp.validity", "1e3"],
    ["setting", "set", "certmaker.max_days", "30"],             # no tenant
    ["setting", "list"],                                        # no tenant
])
def test_cli_refuses(stack, tenant, args):
    args = [tenant.name if a == "TENANT" else a for a in args]
    before = tenant.settings()
    r = stack.cli.run(*args, check=False)
    assert r.returncode != 0, (args, r.stdout, r.stderr)
    msg = r.stderr.strip()
    assert msg and len(msg.splitlines()) == 1, (args, r.stderr)
    assert tenant.settings() == before


def test_user_disable_as_its_usage_says(stack, make_cm_tenant):
    """`fleetpki user disable NAME [--tenant T]`, as the usage line (and
    the issue) write it: the name first, then the option."""
    t = make_cm_tenant()
    u = t.user()
    r = stack.cli.run("user", "disable", u.name, "--tenant", t.name, check=False)
    assert r.returncode == 0, r.stderr
    assert f"{t.name}\t{u.name}\tuser\tdisabled" in \
        stack.cli.run("user", "list", "--tenant", t.name).stdout


def test_user_disable_without_tenant(stack, make_cm_tenant):
    """A user name unique across tenants needs no --tenant."""
    t = make_cm_tenant()
    name = random_name("unique")
    u = t.user(name=name)
    stack.cli.run("user", "disable", name)
    assert_json_error(u.get(ROOT), 401)


def test_settings_defaults_and_set(make_cm_tenant):
    t = make_cm_tenant()
    assert t.settings() == {
        "certmaker.require_challenge": ("off", True),
        "certmaker.default_days": ("7", True),
        "certmaker.max_days": ("182", True),
        "certmaker.challenge_ttl": ("3600", True),
        "ocsp.validity": ("3600", True),
        "ocsp.responder_days": ("4", True),
        "device_clock_skew": ("300", True),
        "device_heartbeat_burst": ("10", True),
        "device_heartbeat_interval": ("60", True),
        "device_heartbeat_default": ("86400", True),
        "webhook.max_attempts": ("18", True),
        "enroll.domain": ("", True),
        "enroll.renew_percent": ("33", True),
        "acme.directory_url": ("", True),
        "acme.ca_file": ("", True),
        "acme.contact": ("", True),
        "acme.dns_provider": ("exec", True),
        "acme.dns_hook": ("", True),
        "acme.dns_resolvers": ("", True),
        "acme.rfc2136_server": ("", True),
        "acme.rfc2136_key_file": ("", True),
        "acme.eab_kid": ("", True),
        "acme.eab_hmac_key": ("", True),
        "acme.weekly_budget": ("50", True),
    }
    t.setting("certmaker.max_days", 30)
    t.setting("certmaker.challenge_ttl", 60)      # the minimum
    t.setting("ocsp.validity", 60)                # the minimum
    t.setting("certmaker.require_challenge", "on")
    s = t.settings()
    assert s["certmaker.max_days"] == ("30", False)
    assert s["certmaker.challenge_ttl"] == ("60", False)
    assert s["ocsp.validity"] == ("60", False)
    assert s["certmaker.require_challenge"] == ("on", False)
    assert s["certmaker.default_days"] == ("7", True)
    t.setting("certmaker.require_challenge", "off")
    assert t.settings()["certmaker.require_challenge"][0] == "off"


def test_settings_are_per_tenant(make_cm_tenant):
    a, b = make_cm_tenant(), make_cm_tenant()
    a.setting("certmaker.max_days", 10)
    assert b.settings()["certmaker.max_days"] == ("182", True)
    ua, ub = a.user(), b.user()
    assert ua.request({"domains": ["a.example.com"], "days": 11}).status == 400
    assert ub.request({"domains": ["a.example.com"], "days": 11}).status == 200


# --------------------------------------------------------------------------
# Authentication


def _routes(work):
    csr = work.csr("p256", subject="/CN=a.example.com",
                   addext=["subjectAltName=DNS:a.example.com"])
    return [
        ("GET", ROOT, None),
        ("POST", REQUEST, json.dumps({"domains": ["a.example.com"]})),
        ("POST", REQUEST_CSR, csr),
        ("GET", f"{API}/certificate/0A1B2C/obtain", None),
        ("GET", f"{API}/privatekey/0A1B2C/obtain", None),
        ("GET", f"{API}/challenge/{'0' * 32}/solve", None),
        ("POST", REVOKE, json.dumps({"serial": "0A1B2C"})),
    ]


@pytest.mark.parametrize("header", [
    None, "", "a" * 39, "a" * 41, "a" * 39 + "!", "a" * 39 + "_", "a" * 39 + "-",
    "a" * 20 + " " + "a" * 19, "Bearer " + "a" * 40, "a" * 400,
])
def test_missing_or_malformed_token_is_401(client, tenant, work, header):
    for method, path, body in _routes(work):
        hdrs = {} if header is None else {"X-Auth-Token": header}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        r = client.request(method, path, body=body, headers=hdrs)
        assert_json_error(r, 401)
        assert_no_body_leak(r)
        assert "x-certificate-location" not in r.headers


def test_unknown_token_is_404(client, tenant, work):
    unknown = "A" * 20 + "0123456789" + "zzzzzzzzzz"
    before = tenant.x509_total()
    for method, path, body in _routes(work):
        hdrs = {"X-Auth-Token": unknown}
        r = client.request(method, path, body=body, headers=hdrs)
        assert_json_error(r, 404)
        assert_no_body_leak(r)
    assert tenant.x509_total() == before


def test_auth_comes_before_body_checks(client):
    r = client.post(REQUEST, "{not json", headers={"Content-Type": "application/json"})
    assert_json_error(r, 401)
    r = client.post(REQUEST, "{not json", headers={"X-Auth-Token": "b" * 40})
    assert_json_error(r, 404)


def test_disabled_user_is_401(stack, make_cm_tenant):
    t = make_cm_tenant()
    u = t.user()
    serial, _, _ = u.issue(domains=["d.example.com"])
    assert u.get(ROOT).status == 200
    stack.cli.run("user", "disable", "--tenant", t.name, u.name)
    assert_json_error(u.get(ROOT), 401)
    assert_json_error(u.request({"domains": ["d.example.com"]}), 401)
    assert_json_error(u.cert(serial), 401)
    assert_json_error(u.key(serial), 401)
    assert_json_error(u.revoke(serial), 401)
    # Still not revoked: the refusal changed nothing.
    assert t.crl().serials == set()
    # Disabling one user leaves the others alone.
    assert t.user().get(ROOT).status == 200


def test_dialects_do_not_share_credentials(client, tenant, alice):
    # The X.509 bearer JWT is no certmaker credential, and vice versa.
    r = client.get(ROOT, token=tenant.bearer)
    assert_json_error(r, 401)
    r = client.get("/x509/v1/ca", headers={"X-Auth-Token": alice.token})
    assert_json_error(r, 401)


def test_certmaker_not_served_over_plain_http(client, alice):
    r = client.get(ROOT, headers={"X-Auth-Token": alice.token}, plain=True)
    assert r.status == 404, r
    assert r.content_type == "application/json"


# --------------------------------------------------------------------------
# Root certificate


def test_root_certificate(alice, tenant, other, root):
    r = alice.get(ROOT)
    assert r.status == 200, r
    assert r.content_type == "application/x-pem-file", r.headers
    assert r.text == root
    assert r.text.startswith("-----BEGIN CERTIFICATE-----\n")
    assert r.text.rstrip("\n").endswith("-----END CERTIFICATE-----")
    assert r.text.count("BEGIN CERTIFICATE") == 1
    # The same CA the X.509 dialect shows for the tenant.
    assert r.text.strip() == tenant.ca_pem().strip()
    text = x509_text(r.text)
    assert re.search(r"X509v3 Basic Constraints: critical\s*\n\s*CA:TRUE", text), text
    # Another tenant's users see their own root.
    r2 = other.u.get(ROOT)
    assert r2.status == 200 and r2.text.strip() == other.ca_pem().strip()
    assert r2.text != r.text
    # Admins see the same root.
    assert other.a.get(ROOT).text == r2.text


# --------------------------------------------------------------------------
# POST /certificate/request


def test_request_default(alice, root, env, work, stack):
    t0 = time.time()
    r = alice.request({"domains": ["www.example.com", "api.example.com"],
                       "ips": ["10.1.2.3"]})
    t1 = time.time()
    assert r.status == 200, r
    assert r.content_type == "application/json"
    body = r.json()
    assert set(body) == {"serial", "certificate_location", "privatekey_location"}, body
    serial = body["serial"]
    assert SERIAL_RE.match(serial), serial
    url = env["FLEETPKI_URL"]
    assert r.headers["x-certificate-location"] == f"{url}/api/v1/certificate/{serial}/obtain"
    assert r.headers["x-privatekey-location"] == f"{url}/api/v1/privatekey/{serial}/obtain"
    assert body["certificate_location"] == r.headers["x-certificate-location"]
    assert body["privatekey_location"] == r.headers["x-privatekey-location"]

    c = alice.fetch(body["certificate_location"])
    assert c.status == 200, c
    assert c.content_type == "application/x-pem-file", c.headers
    pem = c.text
    assert pem.startswith("-----BEGIN CERTIFICATE-----\n") and pem.count("BEGIN") == 1
    k = alice.fetch(body["privatekey_location"])
    assert k.status == 200, k
    assert k.content_type == "application/x-pem-file", k.headers
    assert "no-store" in k.headers.get("cache-control", ""), k.headers
    key = k.text
    assert key.startswith("-----BEGIN PRIVATE KEY-----\n"), key[:40]   # PKCS#8
    assert "ENCRYPTED" not in key and key.count("BEGIN") == 1

    # The serial named is the certificate's: 16+ random bytes, positive.
    assert cert_serial_hex(pem) == serial
    assert int(serial, 16).bit_length() > 120, serial

    assert_cert_basics(pem, root, work, env)
    assert sans(pem) == want_sans(["www.example.com", "api.example.com"], ["10.1.2.3"])
    assert ext_text(pem, "X509v3 Extended Key Usage") == \
        "TLS Web Server Authentication, TLS Web Client Authentication"
    ku = ext_text(pem, "X509v3 Key Usage")
    assert "Digital Signature" in ku and "Certificate Sign" not in ku and "CRL Sign" not in ku
    # An empty subject makes the SAN extension critical (RFC 5280 4.2.1.6).
    if not subject_entries(pem):
        assert ext_critical(pem, "X509v3 Subject Alternative Name")
    # EC P-256 by default, and the key handed out is the certificate's.
    assert key_description(pem) == "EC P-256"
    assert key_description(key, "pkey") == "EC P-256"
    assert key_pubkey(key) == cert_pubkey(pem)
    # Seven days by default.
    nb, na = cert_dates(pem)
    assert t0 - DAY < nb <= t1 + 60
    assert t0 + 7 * DAY - SLACK <= na <= t1 + 7 * DAY + SLACK, (na - t0) / DAY
    # Not after the CA itself.
    assert na <= cert_dates(root)[1]


@pytest.mark.parametrize("key,want", [
    ("ec-p256", "EC P-256"), ("ec-p384", "EC P-384"), ("rsa-2048", "RSA 2048"),
    ("rsa-3072", "RSA 3072"), ("rsa-4096", "RSA 4096"),
])
def test_request_key_types(alice, root, env, work, key, want):
    serial, pem, keypem = alice.issue(domains=["k.example.com"], key=key)
    assert key_description(pem) == want
    assert key_description(keypem, "pkey") == want
    assert key_pubkey(keypem) == cert_pubkey(pem)
    assert keypem.startswith("-----BEGIN PRIVATE KEY-----\n")
    if want.startswith("RSA"):
        assert "Exponent: 65537 (0x10001)" in x509_text(pem)
    assert_cert_basics(pem, root, work, env)


def test_request_ips_emails_and_subject(alice, root, env, work):
    subject = {"organization": "Example Org", "country": "DE", "province": "Berlin",
               "locality": "Berlin", "street_address": "Hauptstr. 1",
               "postal_code": "10115", "common_name": "svc.example.com"}
    body = {"domains": ["svc.example.com"],
            "ips": ["192.0.2.7", "2001:db8::1", "::1"],
            "email_addresses": ["ops@example.com"],
            "subject": subject, "days": 30}
    serial, pem, key = alice.issue(**body)
    assert sans(pem) == want_sans(["svc.example.com"], ["192.0.2.7", "2001:db8::1", "::1"],
                                  ["ops@example.com"])
    got = dict(subject_entries(pem))
    assert got == {"O": "Example Org", "C": "DE", "ST": "Berlin", "L": "Berlin",
                   "street": "Hauptstr. 1", "postalCode": "10115",
                   "CN": "svc.example.com"}, subject_entries(pem)
    assert_cert_basics(pem, root, work, env)


def test_subject_values_are_values_not_syntax(alice, root, env, work):
    """Subject strings go in as attribute values: no DN syntax in them is
    interpreted (no attribute can be smuggled in), UTF-8 survives."""
    subject = {"organization": "Acme/CN=evil.example.com", "locality": "K\u00f6ln, Rhein",
               "province": "a=b+c=d", "common_name": "x.example.com"}
    _, pem, _ = alice.issue(domains=["x.example.com"], subject=subject)
    got = subject_entries(pem)
    assert sorted(got) == sorted([("O", "Acme/CN=evil.example.com"), ("L", "K\u00f6ln, Rhein"),
                                  ("ST", "a=b+c=d"), ("CN", "x.example.com")]), got
    assert_cert_basics(pem, root, work, env)


def test_name_length_limits(alice):
    label63 = "a" * 63 + ".example.com"
    assert alice.request({"domains": [label63]}).status == 200
    name253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name253) == 253
    assert alice.request({"domains": [name253]}).status == 200
    assert_json_error(alice.request({"domains": [name253 + "e"]}), 400)


def test_validity_never_exceeds_the_ca(stack, work, env):
    """A CA that ends tomorrow: a 30-day request ends no later than it
    (refused, or cut to the CA's notAfter), and verifies."""
    name = random_name("cm")
    stack.cli.run("tenant", "create", name)
    stack.cli.run("ca", "create", "--tenant", name, "--name", "ca1", "--key", "ec-p256",
                  "--days", "1")
    from cm_helpers import CmTenant
    u = CmTenant(stack, name).user()
    root = u.get(ROOT).text
    r = u.request({"domains": ["short.example.com"], "days": 30})
    if r.status == 400:
        assert_json_error(r, 400)
        return
    assert r.status == 200, r
    pem = u.cert(r.json()["serial"]).text
    assert cert_dates(pem)[1] <= cert_dates(root)[1]
    assert_cert_basics(pem, root, work, env)


@pytest.mark.parametrize("days", [1, 30, 182])
def test_request_days(alice, days):
    t0 = time.time()
    _, pem, _ = alice.issue(domains=["days.example.com"], days=days)
    nb, na = cert_dates(pem)
    assert t0 + days * DAY - SLACK <= na <= time.time() + days * DAY + SLACK, (na - t0) / DAY


def test_default_and_max_days_settings(make_cm_tenant, work):
    t = make_cm_tenant(settings={"certmaker.default_days": 3, "certmaker.max_days": 20})
    u = t.user()
    t0 = time.time()
    _, pem, _ = u.issue(domains=["s.example.com"])
    na = cert_dates(pem)[1]
    assert t0 + 3 * DAY - SLACK <= na <= time.time() + 3 * DAY + SLACK, (na - t0) / DAY
    assert u.request({"domains": ["s.example.com"], "days": 20}).status == 200
    assert_json_error(u.request({"domains": ["s.example.com"], "days": 21}), 400)
    csr = _csr_with_sans(work, "DNS:s.example.com")
    assert u.request_csr(csr, days=20).status == 200
    assert_json_error(u.request_csr(csr, days=21), 400)
    # A default above the maximum is refused at request time, not silently cut.
    t.setting("certmaker.default_days", 30)
    assert_json_error(u.request({"domains": ["s.example.com"]}), 400)
    assert_json_error(u.request_csr(csr), 400)


def _csr_with_sans(work, san, subject="/CN=x", kind="p256", extra=()):
    addext = ([f"subjectAltName={san}"] if san else []) + list(extra)
    return work.csr(kind, subject=subject, addext=addext)


BAD_REQUESTS = [
    # hostnames
    {"domains": ["bad_host!"]},
    {"domains": ["-a.com"]},
    {"domains": ["a-.com"]},
    {"domains": ["a..b"]},
    {"domains": [".a.com"]},
    {"domains": [""]},
    {"domains": ["exa mple.com"]},
    {"domains": ["a.com/x"]},
    {"domains": ["a.com\n"]},
    {"domains": ["a\u0000b.com"]},
    {"domains": ["a.com:443"]},
    {"domains": ["user@a.com"]},
    {"domains": ["b\u00fccher.example"]},
    {"domains": ["a" * 64 + ".com"]},
    {"domains": [".".join(["a" * 60] * 5)]},          # 304 characters
    {"domains": ["good.example.com", "bad_host!"]},
    # IP addresses are no host names (RFC 1123 2.1: a host name never has
    # the dotted-decimal form; its top-level label is not all-numeric)
    {"domains": ["127.0.0.2"]},
    {"domains": ["169.254.169.254"]},
    {"domains": ["2130706434"]},
    {"domains": ["0177.0.0.2"]},
    {"domains": ["a.123"]},
    # IP addresses
    {"ips": ["1.2.3"]},
    {"ips": ["::g"]},
    {"ips": ["0x7f.1"]},
    {"ips": ["10.0.0.1junk"]},
    {"ips": ["256.1.1.1"]},
    {"ips": ["10.0.0.1/24"]},
    {"ips": [""]},
    {"ips": ["localhost"]},
    {"ips": ["2130706433"]},
    {"ips": ["fe80::1%eth0"]},
    # email addresses
    {"email_addresses": ["noatsign"]},
    {"email_addresses": ["a@"]},
    {"email_addresses": ["@example.com"]},
    {"email_addresses": ["a@b@example.com"]},
    {"email_addresses": ["a b@example.com"]},
    {"email_addresses": ["a@bad_host!"]},
    {"email_addresses": ["a@example.com\r\nBcc: x@example.com"]},
    # a name twice
    {"domains": ["a.example.com", "a.example.com"]},
    {"ips": ["10.0.0.1", "10.0.0.1"]},
    {"email_addresses": ["a@example.com", "a@example.com"]},
    {"ips": ["2001:db8::1", "2001:db8:0:0:0:0:0:1"]},
    # no names
    {},
    {"domains": [], "ips": [], "email_addresses": []},
    {"subject": {"common_name": "x.example.com"}},
    # days
    {"domains": ["a.example.com"], "days": 0},
    {"domains": ["a.example.com"], "days": -1},
    {"domains": ["a.example.com"], "days": 183},
    {"domains": ["a.example.com"], "days": 100000},
    {"domains": ["a.example.com"], "days": "7"},
    {"domains": ["a.example.com"], "days": 7.5},
    {"domains": ["a.example.com"], "days": True},
    # types and unknown fields
    {"domains": "a.example.com"},
    {"domains": [1]},
    {"domains": [None]},
    {"domains": [["a.example.com"]]},
    {"ips": "10.0.0.1"},
    {"domains": ["a.example.com"], "subject": "CN=x"},
    {"domains": ["a.example.com"], "subject": {"country": "DEU"}},
    {"domains": ["a.example.com"], "subject": {"country": "D"}},
    {"domains": ["a.example.com"], "subject": {"organization": 5}},
    {"domains": ["a.example.com"], "subject": {"organisation": "x"}},
    {"domains": ["a.example.com"], "subject": {"common_name": "x" * 65}},
    {"domains": ["a.example.com"], "uris": ["https://a.example.com"]},
    {"domains": ["a.example.com"], "is_ca": True},
    {"domains": ["a.example.com"], "key": "ed25519"},
    {"domains": ["a.example.com"], "key": "rsa-1024"},
    {"domains": ["a.example.com"], "key": "EC-P256"},
    {"domains": ["a.example.com"], "key": ""},
    {"domains": ["a.example.com"], "key": 256},
]


@pytest.mark.parametrize("body", BAD_REQUESTS, ids=lambda b: json.dumps(b)[:60])
def test_request_refused(alice, tenant, body):
    r = alice.request(body)
    assert_json_error(r, 400)
    assert_no_body_leak(r)
    assert "x-certificate-location" not in r.headers
    assert "x-privatekey-location" not in r.headers


@pytest.mark.parametrize("raw", [
    '{"domains": ["a.example.com"], "domains": ["b.example.com"]}',
    '{"domains": ["a.example.com"]} x',
    '{"domains": ["a.example.com"]}{}',
    '{"domains": ["a.example.com"]',
    '["a.example.com"]',
    '"a.example.com"',
    "null",
    "",
    "domains=a.example.com",
    '{"domains": ["a.example.com"], "subject": {"country": "DE", "country": "FR"}}',
    b'{"domains": ["a\xff.example.com"]}',
])
def test_request_refuses_bad_json(alice, raw):
    r = alice.request(raw)
    assert_json_error(r, 400)


def test_refused_requests_issue_nothing(make_cm_tenant):
    t = make_cm_tenant()
    u = t.user()
    for body in BAD_REQUESTS[:10] + BAD_REQUESTS[-10:]:
        assert u.request(body).status == 400, body
    assert t.x509_total() == 0


def test_many_names(alice, root, env, work):
    domains = [f"h{i}.example.com" for i in range(40)]
    ips = [f"10.9.0.{i}" for i in range(1, 21)]
    _, pem, _ = alice.issue(domains=domains, ips=ips)
    assert sans(pem) == want_sans(domains, ips)
    assert_cert_basics(pem, root, work, env)


def test_serials_are_unique(alice):
    serials = {alice.request({"domains": ["u.example.com"]}).json()["serial"]
               for _ in range(5)}
    assert len(serials) == 5


def test_keys_are_not_logged(stack, alice):
    serial, _, key = alice.issue(domains=["log.example.com"])
    b64 = "".join(key.strip().splitlines()[1:-1])
    for f in stack.logs():
        text = f.read_text(errors="replace")
        assert b64[20:60] not in text, f"private key material in {f}"
        assert alice.token not in text, f"API token in {f}"


# --------------------------------------------------------------------------
# POST /certificate/request-with-csr


def test_csr_request(alice, root, env, work):
    key = work.key("p256")
    csr = work.csr(key=key, subject="/CN=csr.example.com/O=Evil Corp",
                   addext=["subjectAltName=DNS:csr.example.com,IP:10.2.3.4,"
                           "email:me@example.com"])
    t0 = time.time()
    r = alice.request_csr(csr)
    assert r.status == 200, r
    body = r.json()
    serial = body["serial"]
    assert SERIAL_RE.match(serial), body
    url = env["FLEETPKI_URL"]
    assert r.headers["x-certificate-location"] == f"{url}/api/v1/certificate/{serial}/obtain"
    assert body["certificate_location"] == r.headers["x-certificate-location"]
    assert "x-privatekey-location" not in r.headers
    assert "privatekey_location" not in body
    pem = alice.fetch(body["certificate_location"]).text
    assert cert_serial_hex(pem) == serial
    assert cert_pubkey(pem) == csr_pubkey(csr)
    assert sans(pem) == want_sans(["csr.example.com"], ["10.2.3.4"], ["me@example.com"])
    # The CN equals one of the names: kept.  The O was never checked: dropped.
    assert subject_entries(pem) == [("CN", "csr.example.com")]
    assert ext_text(pem, "X509v3 Extended Key Usage") == \
        "TLS Web Server Authentication, TLS Web Client Authentication"
    assert_cert_basics(pem, root, work, env)
    nb, na = cert_dates(pem)
    assert t0 + 7 * DAY - SLACK <= na <= time.time() + 7 * DAY + SLACK
    # No server-made key for it.
    assert_json_error(alice.key(serial), 404)


def test_csr_cn_not_among_the_names_is_dropped(alice, root, env, work):
    csr = _csr_with_sans(work, "DNS:real.example.com", subject="/CN=evil.example.com")
    _, pem = alice.issue_csr(csr)
    assert sans(pem) == want_sans(["real.example.com"])
    assert "evil.example.com" not in x509_text(pem)
    assert [v for k, v in subject_entries(pem) if k == "CN"] == []
    assert ext_critical(pem, "X509v3 Subject Alternative Name")
    assert_cert_basics(pem, root, work, env)


def test_csr_extensions_are_not_copied(alice, root, env, work):
    csr = _csr_with_sans(work, "DNS:ca.example.com", subject="/CN=ca.example.com", extra=[
        "basicConstraints=critical,CA:TRUE",
        "keyUsage=critical,keyCertSign,cRLSign",
        "extendedKeyUsage=codeSigning,OCSPSigning",
        "nameConstraints=permitted;DNS:example.com",
        "authorityInfoAccess=OCSP;URI:http://evil.example.com/ocsp",
        "crlDistributionPoints=URI:http://evil.example.com/crl",
        "1.2.3.4.5=ASN1:UTF8String:smuggled",
    ])
    _, pem = alice.issue_csr(csr)
    text = x509_text(pem)
    assert ext_text(pem, "X509v3 Basic Constraints") == "CA:FALSE"
    assert "CA:TRUE" not in text
    assert "Certificate Sign" not in text and "CRL Sign" not in text
    assert ext_text(pem, "X509v3 Extended Key Usage") == \
        "TLS Web Server Authentication, TLS Web Client Authentication"
    assert "Name Constraints" not in text
    assert "evil.example.com" not in text
    assert "smuggled" not in text and "1.2.3.4.5" not in text
    assert_cert_basics(pem, root, work, env)


@pytest.mark.parametrize("kind", ["p384", "p521", "rsa2048"])
def test_csr_key_kinds(alice, root, env, work, kind):
    csr = _csr_with_sans(work, "DNS:kind.example.com", kind=kind)
    _, pem = alice.issue_csr(csr)
    assert cert_pubkey(pem) == csr_pubkey(csr)
    assert_cert_basics(pem, root, work, env)


@pytest.mark.parametrize("ctype", ["application/x-pem-file", "text/plain",
                                   "application/json", "application/octet-stream", None])
def test_csr_any_content_type(alice, work, ctype):
    csr = _csr_with_sans(work, "DNS:ct.example.com")
    r = alice.request_csr(csr, content_type=ctype)
    assert r.status == 200, r


@pytest.mark.parametrize("days", [1, 30, 182])
def test_csr_days(alice, work, days):
    csr = _csr_with_sans(work, "DNS:days.example.com")
    t0 = time.time()
    _, pem = alice.issue_csr(csr, days=days)
    na = cert_dates(pem)[1]
    assert t0 + days * DAY - SLACK <= na <= time.time() + days * DAY + SLACK


@pytest.mark.parametrize("days", ["0", "183", "-1", "abc", "7.5", "", "1e2", "0x10"])
def test_csr_bad_days(alice, work, days):
    csr = _csr_with_sans(work, "DNS:days.example.com")
    assert_json_error(alice.request_csr(csr, days=days), 400)


CSR_REFUSALS = {
    "uri-san": ("p256", "URI:https://a.example.com", ()),
    "uri-and-dns": ("p256", "DNS:a.example.com,URI:https://a.example.com", ()),
    "dirname-san": ("p256", "DNS:a.example.com,dirName:dir_sect", ()),
    "rid-san": ("p256", "DNS:a.example.com,RID:1.2.3.4", ()),
    "no-san": ("p256", None, ()),
    "bad-dns": ("p256", "DNS:bad_host!", ()),
    "dns-dot-dot": ("p256", "DNS:a..b", ()),
    "dup-dns": ("p256", "DNS:a.example.com,DNS:a.example.com", ()),
    "bad-email": ("p256", "email:noatsign", ()),
    "rsa1024": ("rsa1024", "DNS:a.example.com", ()),
    "rsa-e3": ("rsa2048-e3", "DNS:a.example.com", ()),
    "secp256k1": ("secp256k1", "DNS:a.example.com", ()),
    "explicit-curve": ("p256-explicit", "DNS:a.example.com", ()),
    "two-san-extensions": ("p256", "DNS:a.example.com", ("subjectAltName=DNS:b.example.com",)),
}


@pytest.mark.parametrize("case", sorted(CSR_REFUSALS))
def test_csr_refused(alice, work, case):
    kind, san, extra = CSR_REFUSALS[case]
    if case == "dirname-san":
        cnf = work.file("req.cnf", "[req]\ndistinguished_name=dn\n[dn]\n"
                        "[dir_sect]\nCN=dir\n")
        key = work.key("p256")
        out = work.file("csr.pem")
        openssl("req", "-new", "-key", str(key), "-subj", "/CN=x", "-config", str(cnf),
                "-addext", f"subjectAltName={san}", "-out", str(out))
        csr = out.read_text()
    elif case == "two-san-extensions":
        # openssl req refuses duplicate -addext; build it with a config.
        cnf = work.file("req.cnf", "[req]\ndistinguished_name=dn\nreq_extensions=ext\n"
                        "[dn]\n[ext]\nsubjectAltName=DNS:a.example.com\n"
                        "2.5.29.17=DER:300F820D622E6578616D706C652E636F6D\n")
        key = work.key("p256")
        out = work.file("csr.pem")
        r = openssl("req", "-new", "-key", str(key), "-subj", "/CN=x", "-config", str(cnf),
                    "-out", str(out), check=False)
        if r.returncode != 0:
            pytest.skip("openssl cannot build a CSR with two SAN extensions")
        csr = out.read_text()
    else:
        csr = _csr_with_sans(work, san, kind=kind, extra=extra)
    r = alice.request_csr(csr)
    assert_json_error(r, 400)
    assert "x-certificate-location" not in r.headers


def test_csr_signature_and_digest_policy(alice, work):
    csr = _csr_with_sans(work, "DNS:sig.example.com")
    assert_json_error(alice.request_csr(tamper_signature(csr)), 400)
    sha1 = work.csr("p256", subject="/CN=x", digest="-sha1",
                    addext=["subjectAltName=DNS:sig.example.com"])
    assert_json_error(alice.request_csr(sha1), 400)


@pytest.mark.parametrize("body", [
    "", "garbage", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    '{"csr": "x"}',
])
def test_csr_garbage(alice, body):
    assert_json_error(alice.request_csr(body), 400)


def test_csr_a_certificate_is_no_csr(alice, root):
    assert_json_error(alice.request_csr(root), 400)


def test_csr_body_cap(alice, work):
    csr = _csr_with_sans(work, "DNS:cap.example.com")
    # 16 KiB exactly: accepted (PEM readers skip what follows the block).
    body = csr + "\n" * (16 * 1024 - len(csr))
    assert len(body.encode()) == 16 * 1024
    r = alice.request_csr(body)
    assert r.status == 200, r
    # One byte more: 413.
    r = alice.request_csr(body + "\n")
    assert_json_error(r, 413)
    r = alice.request_csr(csr + "\n" * (100 * 1024))
    assert_json_error(r, 413)


# --------------------------------------------------------------------------
# Obtaining certificates and keys


@pytest.fixture(scope="module")
def alices_cert(alice):
    return alice.issue(domains=["owned.example.com"])


def test_obtain_is_the_owners(alice, bob, admin, other, alices_cert):
    serial, pem, key = alices_cert
    # Another user of the same tenant: 404 for both.
    assert_json_error(bob.cert(serial), 404)
    assert_json_error(bob.key(serial), 404)
    # The tenant's admin: both.
    r = admin.cert(serial)
    assert r.status == 200 and r.text == pem, r
    r = admin.key(serial)
    assert r.status == 200 and r.text == key, r
    # Another tenant, admin or not: 404.
    for u in (other.u, other.a):
        assert_json_error(u.cert(serial), 404)
        assert_json_error(u.key(serial), 404)


def test_obtain_serial_spellings(alice, alices_cert):
    serial, pem, key = alices_cert
    lower = serial.lower()
    colons = ":".join(serial[i:i + 2] for i in range(0, len(serial), 2))
    for s in (serial, lower, colons):
        r = alice.cert(s)
        assert r.status == 200 and r.text == pem, (s, r)
        assert alice.key(s).text == key


@pytest.mark.parametrize("serial", [
    "00", "0A1B2C3D", "F" * 40, "F" * 41, "XYZ", "%2e%2e", "1" * 400,
])
def test_obtain_unknown_is_404(alice, serial):
    assert_json_error(alice.cert(serial), 404)
    assert_json_error(alice.key(serial), 404)


def test_admin_gets_keys_of_every_user(tenant, admin, bob):
    serial, pem, key = bob.issue(domains=["bob.example.com"], key="rsa-2048")
    assert admin.key(serial).text == key
    assert admin.cert(serial).text == pem


def test_x509_certificates_are_not_certmaker_certificates(tenant, alice, work):
    """A certificate the X.509 dialect issued has no owner among the
    users: a plain user cannot fetch it."""
    fp, pem = tenant.x509_issue(work.csr("p256", subject="/CN=device 9"))
    assert_json_error(alice.cert(cert_serial_hex(pem)), 404)
    assert_json_error(alice.key(cert_serial_hex(pem)), 404)


# --------------------------------------------------------------------------
# Revocation


def test_revoke(tenant, alice, root, work):
    serial, pem, _ = alice.issue(domains=["rev.example.com"])
    assert int(serial, 16) not in tenant.crl().serials
    r = alice.revoke(serial, "keyCompromise")
    assert r.status == 200, r
    assert r.content_type == "application/json"
    assert r.json() == {"serial": serial, "revoked": True}
    # In the CRL within seconds (the worker), with its reason; it verifies.
    crl = tenant.crl_with(serial)
    assert int(serial, 16) in crl.serials
    assert crl.verifies_with(root, work)
    entry = re.search(r"Serial Number: " + serial + r"\n(.*?)(?=\n\s*Serial Number:|\n\s*Signature Algorithm|\Z)",
                      crl.text, re.S)
    assert entry and "Key Compromise" in entry.group(1), crl.text
    ok, out = verify(root, pem, work, crl_pem=crl.pem)
    assert not ok and "certificate revoked" in out, out
    # Again: 410, and the CRL is unchanged.
    r = alice.revoke(serial, "superseded")
    assert_json_error(r, 410)
    assert tenant.crl().serials == crl.serials
    assert "Key Compromise" in tenant.crl().text


def test_revoke_serial_spellings(alice):
    for spell in (str.lower, lambda s: ":".join(s[i:i + 2] for i in range(0, len(s), 2)),
                  lambda s: ":".join(s[i:i + 2] for i in range(0, len(s), 2)).lower()):
        serial, _, _ = alice.issue(domains=["spell.example.com"])
        r = alice.revoke(spell(serial))
        assert r.status == 200, r
        assert r.json() == {"serial": serial, "revoked": True}
        assert_json_error(alice.revoke(serial), 410)


@pytest.mark.parametrize("reason", sorted(CLI_REASONS))
def test_revoke_reasons(make_cm_tenant, reason):
    t = make_cm_tenant()
    u = t.user()
    serial, _, _ = u.issue(domains=["reason.example.com"])
    r = u.revoke(serial, reason)
    assert r.status == 200, r
    crl = t.crl_with(serial)
    assert crl.serials == {int(serial, 16)}
    if reason == "unspecified":
        # RFC 5280 5.3.1: the reason code is absent rather than unspecified.
        assert "CRL Reason Code" not in crl.text or "Unspecified" in crl.text
    else:
        assert CLI_REASONS[reason][0] in crl.text, crl.text


@pytest.mark.parametrize("body", [
    {"serial": "SERIAL", "reason": "removeFromCRL"},
    {"serial": "SERIAL", "reason": "stolen"},
    {"serial": "SERIAL", "reason": ""},
    {"serial": "SERIAL", "reason": 1},
    {"serial": "SERIAL", "extra": 1},
    {"serial": "SERIAL-not-hex"},
    {"serial": 12345},
    {"reason": "keyCompromise"},
    {},
])
def test_revoke_refused(tenant, alice, body):
    serial, _, _ = alice.issue(domains=["norev.example.com"])
    body = {k: (v.replace("SERIAL", serial) if isinstance(v, str) else v)
            for k, v in body.items()}
    r = alice.revoke(None, raw=json.dumps(body))
    assert_json_error(r, 400)
    assert int(serial, 16) not in tenant.crl().serials
    # Still revocable properly afterwards.
    assert alice.revoke(serial).status == 200


@pytest.mark.parametrize("raw", [
    "", "x", "[]", '{"serial": "0A"} x', '{"serial": "0A", "serial": "0B"}',
])
def test_revoke_bad_json(alice, raw):
    assert_json_error(alice.revoke(None, raw=raw), 400)


def test_revoke_is_the_owners(tenant, alice, bob, admin, other):
    serial, _, _ = alice.issue(domains=["mine.example.com"])
    for u in (bob, other.u, other.a):
        assert_json_error(u.revoke(serial, "keyCompromise"), 404)
    assert int(serial, 16) not in tenant.crl().serials
    assert_json_error(alice.revoke("0A1B2C3D4E5F"), 404)
    # The tenant's admin may.
    r = admin.revoke(serial, "cessationOfOperation")
    assert r.status == 200, r
    assert r.json() == {"serial": serial, "revoked": True}
    tenant.crl_with(serial)
    assert_json_error(alice.revoke(serial), 410)
    # Another tenant's admin still sees nothing (404, not 410).
    assert_json_error(other.a.revoke(serial), 404)


def test_revocation_is_shared_with_x509(tenant, alice, admin, work):
    # Revoked through the X.509 dialect: certmaker says 410.
    serial, pem, _ = alice.issue(domains=["shared.example.com"])
    r = tenant.client.delete(f"/x509/v1/certificates/{fingerprint(pem)}", token=tenant.bearer)
    assert r.status == 204, r
    tenant.crl_with(serial)
    assert_json_error(alice.revoke(serial), 410)
    # Revoked through certmaker: the X.509 dialect no longer lists it.
    serial2, pem2, _ = alice.issue(domains=["shared2.example.com"])
    fp2 = fingerprint(pem2)
    assert tenant.x509_get(f"/x509/v1/certificates/{fp2}").status == 200
    assert alice.revoke(serial2, "keyCompromise").status == 200
    # The X.509 dialect says 404 for a certificate already removed
    # (revoked): x509-identity.txt, DELETE.
    assert tenant.x509_get(f"/x509/v1/certificates/{fp2}").status == 404
    r = tenant.client.delete(f"/x509/v1/certificates/{fp2}", token=tenant.bearer)
    assert r.status == 404, r
    assert "Key Compromise" in tenant.crl_with(serial2).text
    # An admin may revoke a certificate the X.509 dialect issued.
    fp3, pem3 = tenant.x509_issue(work.csr("p256", subject="/CN=device 3"))
    s3 = cert_serial_hex(pem3)
    assert_json_error(alice.revoke(s3), 404)
    r = admin.revoke(s3, "superseded")
    assert r.status == 200, r
    tenant.crl_with(s3)


def test_revoked_certificate_still_obtainable(alice):
    serial, pem, key = alice.issue(domains=["gone.example.com"])
    assert alice.revoke(serial).status == 200
    assert alice.cert(serial).text == pem


# --------------------------------------------------------------------------
# Miscellaneous


def test_unknown_routes_and_methods(alice):
    r = alice.get(f"{API}/certificate/request")
    assert r.status in (404, 405), r
    assert r.content_type == "application/json"
    r = alice.post(ROOT, "{}")
    assert r.status in (404, 405), r
    assert r.content_type == "application/json"
    r = alice.get(f"{API}/nosuchroute")
    assert_json_error(r, 404)


# --------------------------------------------------------------------------
# Secrets at rest (read through psql: the store is part of the stack)


def _psql(env, sql):
    import shutil
    import subprocess
    if not shutil.which("psql") or not env.get("FLEETPKI_DATABASE_URL"):
        pytest.skip("no psql or no database URL")
    r = subprocess.run(["psql", env["FLEETPKI_DATABASE_URL"], "-v", "ON_ERROR_STOP=1",
                        "-Atc", sql], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_secrets_at_rest(env, make_cm_tenant):
    import hashlib
    t = make_cm_tenant()
    u = t.user()
    serial_a, _, key_a = u.issue(domains=["rest-a.example.com"])
    serial_b, _, key_b = u.issue(domains=["rest-b.example.com"])
    # The token: neither kept nor kept as a bare hash.
    row = _psql(env, f"SELECT u.* FROM users u JOIN tenants t ON t.id = u.tenant_id "
                     f"WHERE t.name = '{t.name}' AND u.name = '{u.name}'")
    assert row and u.token not in row
    assert hashlib.sha256(u.token.encode()).hexdigest() not in row
    # The private key: sealed, neither its PKCS#8 DER nor its scalar visible.
    sealed = bytes.fromhex(_psql(env, f"SELECT encode(key_sealed, 'hex') FROM certificates "
                                      f"WHERE serial = '{serial_a}'"))
    from helpers import pem_der
    der = pem_der(key_a)
    priv = re.search(r"priv:\s*\n((?:\s+[0-9a-f:]+\n)+)",
                     openssl("pkey", "-noout", "-text", input=key_a).stdout_text)
    scalar = bytes.fromhex("".join(priv.group(1).split()).replace(":", ""))[-32:]
    assert len(sealed) >= len(der) + 16            # at least a GCM tag more
    assert der not in sealed and scalar not in sealed
    # Bound to its certificate: B's row with A's sealed key opens nothing.
    old_b = _psql(env, f"SELECT encode(key_sealed, 'hex') FROM certificates "
                       f"WHERE serial = '{serial_b}'")
    _psql(env, f"UPDATE certificates SET key_sealed = decode('{sealed.hex()}', 'hex') "
               f"WHERE serial = '{serial_b}'")
    try:
        r = u.key(serial_b)
        assert r.status != 200, r
        assert b"PRIVATE KEY" not in r.body
        assert r.content_type == "application/json"
    finally:
        _psql(env, f"UPDATE certificates SET key_sealed = decode('{old_b}', 'hex') "
                   f"WHERE serial = '{serial_b}'")
    assert u.key(serial_b).text == key_b
