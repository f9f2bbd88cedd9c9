"""The certificate maker's HTTP challenge (issue 3): with the tenant setting
certmaker.require_challenge on, both request routes answer 202 with a token,
and GET /api/v1/challenge/{id}/solve makes the server fetch
http://<name>:<port>/.well-known/certmaker-challenge/token.txt from a real
HTTP server these tests run on 127.0.0.2 (never 127.0.0.1, which is never
validated)."""

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from cm_helpers import (  # noqa: F401  (fixtures)
    WELL_KNOWN, TokenServer, assert_cert_basics, cert_pubkey, cert_dates,
    csr_pubkey, expiring_challenges, free_port, key_pubkey, make_cm_tenant,
    sans, solve, start_challenge, want_sans)
from helpers import assert_json_error, subject_entries, x509_text

DAY = 86400
# Every failed validation answers this, whatever went wrong (issue 6): a
# reason would tell a closed port from an open one to anyone with a token.
CHALLENGE_FAILED = "Challenge failed: the token was not served at the challenge URL."


@pytest.fixture(scope="module")
def ct(make_cm_tenant):
    """A tenant that asks for proof of control."""
    return make_cm_tenant(settings={"certmaker.require_challenge": "on"})


@pytest.fixture(scope="module")
def user(ct):
    return ct.user()


@pytest.fixture(scope="module")
def root(user):
    return user.get("/api/v1/root-certificate/obtain").text


@pytest.fixture
def srv():
    with TokenServer("127.0.0.2") as s:
        yield s


def dead_port(host):
    """A port on 'host' where nothing listens (bound, then closed)."""
    return free_port(host)


def assert_issued(r, env, key=True):
    assert r.status == 200, r
    body = r.json()
    serial = body["serial"]
    url = env["FLEETPKI_URL"]
    assert r.headers["x-certificate-location"] == f"{url}/api/v1/certificate/{serial}/obtain"
    assert body["certificate_location"] == r.headers["x-certificate-location"]
    if key:
        assert r.headers["x-privatekey-location"] == f"{url}/api/v1/privatekey/{serial}/obtain"
        assert body["privatekey_location"] == r.headers["x-privatekey-location"]
        assert set(body) == {"serial", "certificate_location", "privatekey_location"}
    else:
        assert "x-privatekey-location" not in r.headers
        assert set(body) == {"serial", "certificate_location"}
    return serial


# --------------------------------------------------------------------------
# 202


def test_request_answers_202(ct, user):
    before = ct.x509_total()
    t1, loc1, id1 = start_challenge(user, {"domains": ["a.example.com"]})
    t2, loc2, id2 = start_challenge(user, {"domains": ["a.example.com"]})
    assert t1 != t2 and id1 != id2
    assert ct.x509_total() == before


def test_csr_request_answers_202(ct, user, work):
    before = ct.x509_total()
    csr = work.csr("p256", subject="/CN=x", addext=["subjectAltName=DNS:a.example.com"])
    start_challenge(user, csr=csr)
    start_challenge(user, csr=csr, days=30)
    assert ct.x509_total() == before


@pytest.mark.parametrize("body", [
    {"domains": ["bad_host!"]},
    {"ips": ["10.0.0.1junk"]},
    {"domains": ["a.example.com"], "days": 183},
    {"domains": ["a.example.com"], "key": "rsa-1024"},
    {"domains": ["a.example.com", "a.example.com"]},
    {},
    {"domains": ["a.example.com"], "nope": 1},
])
def test_invalid_request_refused_before_any_challenge(user, body):
    r = user.request(body)
    assert_json_error(r, 400)
    assert "x-challenge-location" not in r.headers


def test_invalid_csr_refused_before_any_challenge(user, work):
    csr = work.csr("p256", subject="/CN=x", addext=["subjectAltName=URI:https://a.example.com"])
    assert_json_error(user.request_csr(csr), 400)
    csr = work.csr("rsa1024", subject="/CN=x", addext=["subjectAltName=DNS:a.example.com"])
    assert_json_error(user.request_csr(csr), 400)
    csr = work.csr("p256", subject="/CN=x", addext=["subjectAltName=DNS:a.example.com"])
    assert_json_error(user.request_csr(csr, days=183), 400)


# --------------------------------------------------------------------------
# Solving


def test_solve_with_token_server(ct, user, root, env, work, srv):
    token, loc, _ = start_challenge(user, {"ips": ["127.0.0.2"], "days": 10})
    srv.serve_token(token)
    t0 = time.time()
    r = solve(user, loc, srv.port)
    serial = assert_issued(r, env)
    assert srv.hits == [("GET", WELL_KNOWN, f"127.0.0.2:{srv.port}")]
    # The fetch carries nothing of the caller's request.
    (hdrs,) = srv.request_headers
    low = {k.lower(): v for k, v in hdrs.items()}
    assert "x-auth-token" not in low and "authorization" not in low and "cookie" not in low
    assert user.token not in repr(hdrs) and token not in repr(hdrs)
    pem = user.fetch(r.headers["x-certificate-location"]).text
    key = user.fetch(r.headers["x-privatekey-location"]).text
    assert sans(pem) == want_sans(ips=["127.0.0.2"])
    assert key_pubkey(key) == cert_pubkey(pem)
    assert_cert_basics(pem, root, work, env)
    na = cert_dates(pem)[1]
    assert t0 + 10 * DAY - 900 <= na <= time.time() + 10 * DAY + 900
    assert ct.crl().serials.isdisjoint({int(serial, 16)})


@pytest.mark.parametrize("suffix", ["\n", "\r\n"])
def test_trailing_newline_tolerated(user, env, srv, suffix):
    token, loc, _ = start_challenge(user, {"ips": ["127.0.0.2"]})
    srv.serve_token(token, suffix)
    assert_issued(solve(user, loc, srv.port), env)


def test_wrong_token_417_then_retry(ct, user, env, srv):
    before = ct.x509_total()
    token, loc, _ = start_challenge(user, {"ips": ["127.0.0.2"]})
    for wrong in ("X" * 80, token[:-1], token + "x", " " + token, token + " ",
                  token.lower() if token.lower() != token else token.upper(),
                  token + "\n" + token, ""):
        srv.serve(WELL_KNOWN, wrong)
        r = solve(user, loc, srv.port)
        assert_json_error(r, 417, CHALLENGE_FAILED)
        assert "x-certificate-location" not in r.headers
    # Nothing at all at the path: 404 there, 417 here.
    srv.clear()
    assert_json_error(solve(user, loc, srv.port), 417, CHALLENGE_FAILED)
    # The right token served with an error status does not count.
    for status in (404, 500, 204):
        srv.serve(WELL_KNOWN, token if status != 204 else "", status=status)
        assert_json_error(solve(user, loc, srv.port), 417, CHALLENGE_FAILED)
    assert ct.x509_total() == before
    # Retry: now right.
    srv.serve_token(token)
    assert_issued(solve(user, loc, srv.port), env)
    assert ct.x509_total() == before + 1


def test_redirects_are_not_followed(user, srv):
    token, loc, _ = start_challenge(user, {"ips": ["127.0.0.2"]})
    srv.serve("/real", token)
    for status in (301, 302, 307, 308):
        srv.serve(WELL_KNOWN, "", status=status,
                  headers={"Location": f"http://127.0.0.2:{srv.port}/real"})
        assert_json_error(solve(user, loc, srv.port), 417, CHALLENGE_FAILED)
    assert all(path != "/real" for _, path, _ in srv.hits), srv.hits


def test_oversized_answer_refused(user, srv):
    token, loc, _ = start_challenge(user, {"ips": ["127.0.0.2"]})
    srv.serve(WELL_KNOWN, token + "\n" * (1 << 20))
    assert_json_error(solve(user, loc, srv.port), 417, CHALLENGE_FAILED)


def test_unreachable_ip_417(ct, user):
    before = ct.x509_total()
    token, loc, _ = start_challenge(user, {"ips": ["127.0.0.3"]})
    assert_json_error(solve(user, loc, dead_port("127.0.0.3")), 417, CHALLENGE_FAILED)
    assert ct.x509_total() == before


def test_unresolvable_name_417(ct, user):
    before = ct.x509_total()
    token, loc, _ = start_challenge(user, {"domains": ["nohost.invalid"]})
    t0 = time.time()
    assert_json_error(solve(user, loc, 8080), 417, CHALLENGE_FAILED)
    assert time.time() - t0 < 20
    assert ct.x509_total() == before


def test_every_name_must_answer(ct, user, env, srv):
    before = ct.x509_total()
    token, loc, _ = start_challenge(user, {"ips": ["127.0.0.2", "127.0.0.3"]})
    srv.serve_token(token)
    # 127.0.0.3 has nothing on the port (127.0.0.2 answers): 417.
    assert_json_error(solve(user, loc, srv.port), 417, CHALLENGE_FAILED)
    assert ct.x509_total() == before
    # Both answer: issued.
    with TokenServer("127.0.0.3", port=srv.port) as srv3:
        srv3.serve_token(token)
        serial = assert_issued(solve(user, loc, srv.port), env)
        assert [h[1] for h in srv3.hits] == [WELL_KNOWN]
    pem = user.cert(serial).text
    assert sans(pem) == want_sans(ips=["127.0.0.2", "127.0.0.3"])
    assert ct.x509_total() == before + 1


def test_localhost_is_never_validated(user, env):
    # A server on 127.0.0.1 at the port named: never asked.
    with TokenServer("127.0.0.1") as local:
        token, loc, _ = start_challenge(
            user, {"domains": ["localhost"], "ips": ["127.0.0.1", "::1"]})
        local.serve_token("wrong")
        serial = assert_issued(solve(user, loc, local.port), env)
        assert local.hits == []
    pem = user.cert(serial).text
    assert sans(pem) == want_sans(["localhost"], ["127.0.0.1", "::1"])


def test_localhost_is_skipped_the_others_are_not(user, env, srv):
    token, loc, _ = start_challenge(user, {"domains": ["localhost"], "ips": ["127.0.0.2"]})
    srv.serve_token(token)
    assert_issued(solve(user, loc, srv.port), env)
    assert srv.hits == [("GET", WELL_KNOWN, f"127.0.0.2:{srv.port}")]


def test_x_validation_port_accepted(user, env, srv):
    token, loc, _ = start_challenge(user, {"ips": ["127.0.0.2"]})
    srv.serve_token(token)
    assert_issued(solve(user, loc, srv.port, header="X-Validation-Port"), env)
    assert len(srv.hits) == 1


def test_default_port_is_80(user, env):
    try:
        s80 = TokenServer("127.0.0.2", port=80)
    except OSError as e:
        pytest.skip(f"cannot listen on 127.0.0.2:80: {e}")
    with s80:
        token, loc, _ = start_challenge(user, {"ips": ["127.0.0.2"]})
        s80.serve_token(token)
        assert_issued(solve(user, loc), env)
        assert s80.hits == [("GET", WELL_KNOWN, "127.0.0.2")]


@pytest.mark.parametrize("port", ["abc", "0", "65536", "-1", "80x", ""])
def test_bad_port_header(user, port):
    token, loc, _ = start_challenge(user, {"ips": ["127.0.0.2"]})
    r = user.fetch(loc, headers={"X-Challenge-Port": port})
    assert_json_error(r, 400)


def test_metadata_address_is_denied(ct, user):
    """169.254.0.0/16 is always denied, in every spelling that reaches it."""
    before = ct.x509_total()
    for ip in ("169.254.169.254", "::ffff:169.254.169.254", "169.254.0.1"):
        token, loc, _ = start_challenge(user, {"ips": [ip]})
        t0 = time.time()
        assert_json_error(solve(user, loc, 80), 417, CHALLENGE_FAILED)
        # Denied before connecting: no connect timeout to wait out.
        assert time.time() - t0 < 4, ip
    assert ct.x509_total() == before


@pytest.mark.parametrize("name", ["169.254.169.254", "2852039166", "0xa9fea9fe",
                                  "0251.0376.0251.0376", "0xa9.0xfe.0xa9.0xfe"])
def test_metadata_address_spelled_as_a_name_is_denied(ct, user, name):
    """Names the resolver reads as 169.254.169.254: refused as names (400),
    or denied on the resolved address when solving (417); never issued."""
    before = ct.x509_total()
    r = user.request({"domains": [name]})
    if r.status == 400:
        assert_json_error(r, 400)
    else:
        token, loc, _ = start_challenge(user, {"domains": [name]})
        t0 = time.time()
        assert_json_error(solve(user, loc, 80), 417, CHALLENGE_FAILED)
        assert time.time() - t0 < 4, name
    assert ct.x509_total() == before


def test_challenge_belongs_to_its_user(ct, user, env, srv, make_cm_tenant):
    token, loc, cid = start_challenge(user, {"ips": ["127.0.0.2"]})
    srv.serve_token(token)
    other_user = ct.user()
    admin = ct.user(admin=True)
    stranger = make_cm_tenant().user(admin=True)
    for u in (other_user, admin, stranger):
        assert_json_error(solve(u, loc, srv.port), 404)
    assert srv.hits == []
    # Unknown and malformed ids.
    for bad in ("0" * 32, "f" * 32, cid[:-1], cid + "0", "xyz", "%2e%2e"):
        r = user.get(f"/api/v1/challenge/{bad}/solve",
                     headers={"X-Challenge-Port": str(srv.port)})
        assert_json_error(r, 404)
    # The owner still can.
    assert_issued(solve(user, loc, srv.port), env)


def test_solving_again_answers_the_same(ct, user, env, srv):
    token, loc, _ = start_challenge(user, {"ips": ["127.0.0.2"]})
    srv.serve_token(token)
    first = solve(user, loc, srv.port)
    serial = assert_issued(first, env)
    count = ct.x509_total()
    srv.clear()           # the token is gone: no fetch happens again
    again = solve(user, loc, srv.port)
    assert assert_issued(again, env) == serial
    assert again.headers["x-certificate-location"] == first.headers["x-certificate-location"]
    assert again.headers["x-privatekey-location"] == first.headers["x-privatekey-location"]
    assert srv.hits == []
    assert ct.x509_total() == count


def test_concurrent_solves_issue_once(ct, user, env, srv):
    token, loc, _ = start_challenge(user, {"ips": ["127.0.0.2"]})
    srv.serve_token(token)
    before = ct.x509_total()
    with ThreadPoolExecutor(max_workers=4) as pool:
        rs = list(pool.map(lambda _: solve(user, loc, srv.port), range(4)))
    ok = [r for r in rs if r.status == 200]
    assert ok, rs
    for r in rs:
        if r.status != 200:
            assert_json_error(r, 409)
    assert len({r.json()["serial"] for r in ok}) == 1, [r.json() for r in ok]
    assert ct.x509_total() == before + 1
    # Afterwards every solve agrees.
    assert solve(user, loc, srv.port).json()["serial"] == ok[0].json()["serial"]


def test_csr_challenge(ct, user, root, env, work, srv):
    csr = work.csr("p256", subject="/CN=127.0.0.2",
                   addext=["subjectAltName=IP:127.0.0.2,DNS:localhost"])
    token, loc, _ = start_challenge(user, csr=csr, days=30)
    srv.serve_token(token)
    t0 = time.time()
    r = solve(user, loc, srv.port)
    serial = assert_issued(r, env, key=False)
    assert srv.hits == [("GET", WELL_KNOWN, f"127.0.0.2:{srv.port}")]
    pem = user.cert(serial).text
    assert cert_pubkey(pem) == csr_pubkey(csr)
    assert sans(pem) == want_sans(["localhost"], ["127.0.0.2"])
    assert_cert_basics(pem, root, work, env)
    na = cert_dates(pem)[1]
    assert t0 + 30 * DAY - 900 <= na <= time.time() + 30 * DAY + 900
    assert_json_error(user.key(serial), 404)


def test_csr_challenge_wrong_token(ct, user, work, srv):
    before = ct.x509_total()
    csr = work.csr("p256", subject="/CN=x", addext=["subjectAltName=IP:127.0.0.2"])
    token, loc, _ = start_challenge(user, csr=csr)
    srv.serve_token(token[::-1])
    assert_json_error(solve(user, loc, srv.port), 417, CHALLENGE_FAILED)
    assert ct.x509_total() == before


def test_unproven_common_name_is_not_issued(user, env, srv):
    """With the challenge on, a name that goes into the certificate must
    have been proven.  The CSR route keeps a CN only when it is one of the
    requested (challenged) names; the JSON route must not let
    subject.common_name carry an unchallenged name either: refused (400)
    or left out of the certificate."""
    body = {"ips": ["127.0.0.2"], "subject": {"common_name": "victim.example.org"}}
    r = user.request(body)
    if r.status == 400:
        assert_json_error(r, 400)
        return
    token, loc, _ = start_challenge(user, body)
    srv.serve_token(token)
    serial = assert_issued(solve(user, loc, srv.port), env)
    pem = user.cert(serial).text
    assert "victim.example.org" not in x509_text(pem), subject_entries(pem)


def test_challenge_off_issues_directly(make_cm_tenant, env):
    t = make_cm_tenant(settings={"certmaker.require_challenge": "on"})
    u = t.user()
    start_challenge(u, {"ips": ["127.0.0.2"]})
    t.setting("certmaker.require_challenge", "off")
    r = u.request({"ips": ["127.0.0.2"]})
    assert_issued(r, env)
    assert "x-challenge-location" not in r.headers


def _loopback_host_name():
    """A name /etc/hosts maps to a loopback address (not 'localhost', which
    is never validated), and that address; or (None, None)."""
    import ipaddress
    try:
        lines = open("/etc/hosts").read().splitlines()
    except OSError:
        return None, None
    for line in lines:
        parts = line.split("#", 1)[0].split()
        if len(parts) < 2:
            continue
        try:
            ip = ipaddress.ip_address(parts[0])
        except ValueError:
            continue
        if ip.version != 4 or not ip.is_loopback:
            continue
        for name in parts[1:]:
            if "localhost" not in name.lower():
                return name, str(ip)
    return None, None


def test_dns_name_is_fetched_by_name(user, env):
    name, ip = _loopback_host_name()
    if name is None:
        pytest.skip("/etc/hosts names no loopback host other than localhost")
    with TokenServer(ip) as s:
        r = user.request({"domains": [name]})
        if r.status == 400:
            pytest.skip(f"{name!r} refused as a DNS name: {r.json()}")
        token, loc, _ = start_challenge(user, {"domains": [name]})
        s.serve_token(token)
        serial = assert_issued(solve(user, loc, s.port), env)
        assert s.hits == [("GET", WELL_KNOWN, f"{name}:{s.port}")]
    assert sans(user.cert(serial).text) == want_sans([name])


def test_challenge_expires(expiring_challenges, env):
    """Runs last in this file: the challenges of expiring_challenges were
    made with a 60-second lifetime, usually long before."""
    e = expiring_challenges
    wait = e.created + 62 - time.time()
    if wait > 0:
        time.sleep(wait)
    r = solve(e.user, e.pending)
    assert_json_error(r, 410)
    assert "x-certificate-location" not in r.headers
    assert e.tenant.x509_total() == 1       # the solved one only
    # A challenge solved in time keeps answering with its certificate.
    r = solve(e.user, e.solved)
    assert_issued(r, env)
    assert r.json() == e.solved_answer.json()
    # A new challenge has a fresh minute.
    _, loc, _ = start_challenge(e.user, {"domains": ["localhost"]})
    assert_issued(solve(e.user, loc), env)


class BannerServer:
    """An open TCP port that is no HTTP server: it sends an SSH-style
    banner to every connection and closes it."""

    def __init__(self, host):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                try:
                    c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
                except OSError:
                    pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.sock.close()
        self.thread.join(timeout=5)


def test_failures_look_alike(ct, user, srv, stack):
    """A closed port, an open port that speaks no HTTP, an HTTP server
    without the token and a denied address all answer the same 417 body:
    the detail is in fleetpkid's log, not in the answer."""
    before = ct.x509_total()
    bodies = []
    with BannerServer("127.0.0.2") as banner:
        srv.clear()
        cases = [("127.0.0.3", dead_port("127.0.0.3")),  # closed
                 ("127.0.0.2", banner.port),  # open, not HTTP
                 ("127.0.0.2", srv.port),  # HTTP, 404 at the path
                 ("169.254.169.254", 80)]  # always denied
        for ip, port in cases:
            token, loc, _ = start_challenge(user, {"ips": [ip]})
            r = solve(user, loc, port)
            assert_json_error(r, 417, CHALLENGE_FAILED)
            bodies.append(r.text)
            for detail in ("connect", "timed out", "not allowed", "200",
                           "match", ip, str(port)):
                assert detail not in r.text, (detail, r.text)
    assert len(set(bodies)) == 1, bodies
    assert ct.x509_total() == before
    # The operator still learns why, from the log.
    log = (stack.dir / "log/fleetpkid.log").read_text(errors="replace")
    assert "challenge for '127.0.0.3' failed: could not connect" in log
    assert "challenge for '169.254.169.254' failed: address not allowed" in log
