"""Shared pieces of the certificate-maker and OCSP black-box tests
(test_certmaker.py, test_certmaker_challenge.py, test_ocsp.py).

Fixtures defined here are imported by those modules (pytest finds
fixtures in a test module's namespace); conftest.py and helpers.py are
another engineer's and stay untouched.  Standard library only; every
cryptographic fact is read with the openssl command line.
"""

import base64
import datetime
import http.server
import ipaddress
import json
import re
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from helpers import Crl, crl_with, openssl, random_name, x509_text

API = "/api/v1"
ROOT = API + "/root-certificate/obtain"
REQUEST = API + "/certificate/request"
REQUEST_CSR = API + "/certificate/request-with-csr"
REVOKE = API + "/certificate/revoke"
WELL_KNOWN = "/.well-known/certmaker-challenge/token.txt"

API_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{40}$")
SERIAL_RE = re.compile(r"^[0-9A-F]+$")
CHALLENGE_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{80}$")

CLI_REASONS = {
    # RFC 5280 name: (CRL text as openssl prints it, OCSP text)
    "unspecified": ("Unspecified", "unspecified"),
    "keyCompromise": ("Key Compromise", "keyCompromise"),
    "cACompromise": ("CA Compromise", "cACompromise"),
    "affiliationChanged": ("Affiliation Changed", "affiliationChanged"),
    "superseded": ("Superseded", "superseded"),
    "cessationOfOperation": ("Cessation Of Operation", "cessationOfOperation"),
    "certificateHold": ("Certificate Hold", "certificateHold"),
    "privilegeWithdrawn": ("Privilege Withdrawn", "privilegeWithdrawn"),
    "aACompromise": ("AA Compromise", "aACompromise"),
}


# --------------------------------------------------------------------------
# Users, tenants


class CmUser:
    """A certificate-maker user: requests go with X-Auth-Token."""

    def __init__(self, tenant, name, token, admin):
        self.tenant = tenant
        self.name = name
        self.token = token
        self.admin = admin
        self.client = tenant.client

    def _hdrs(self, headers):
        h = {"X-Auth-Token": self.token}
        h.update(headers or {})
        return h

    def get(self, path, headers=None, **kw):
        return self.client.get(path, headers=self._hdrs(headers), **kw)

    def post(self, path, body=None, headers=None, **kw):
        return self.client.post(path, body=body, headers=self._hdrs(headers), **kw)

    def fetch(self, url, headers=None):
        """GET an absolute URL the server handed out (on this stack)."""
        u = urllib.parse.urlsplit(url)
        assert u.scheme == "https", url
        assert (u.hostname, u.port or 443) == (self.client.https_host,
                                              self.client.https_port), url
        return self.get(u.path + ("?" + u.query if u.query else ""),
                        headers=headers)

    def request(self, body):
        """POST /certificate/request; 'body' a dict or raw str/bytes."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        return self.post(REQUEST, body, headers={"Content-Type": "application/json"})

    def request_csr(self, csr_pem, days=None, content_type="application/x-pem-file"):
        path = REQUEST_CSR + (f"?days={days}" if days is not None else "")
        hdrs = {"Content-Type": content_type} if content_type else {}
        return self.post(path, csr_pem, headers=hdrs)

    def cert(self, serial):
        return self.get(f"{API}/certificate/{serial}/obtain")

    def key(self, serial):
        return self.get(f"{API}/privatekey/{serial}/obtain")

    def revoke(self, serial, reason=None, raw=None):
        body = {"serial": serial}
        if reason is not None:
            body["reason"] = reason
        return self.post(REVOKE, raw if raw is not None else json.dumps(body),
                         headers={"Content-Type": "application/json"})

    def issue(self, **body):
        """A certificate with a server-made key: (serial, cert PEM, key PEM)."""
        r = self.request(body)
        assert r.status == 200, f"request {body}: {r!r}"
        serial = r.json()["serial"]
        c = self.cert(serial)
        assert c.status == 200, c
        k = self.key(serial)
        assert k.status == 200, k
        return serial, c.text, k.text

    def issue_csr(self, csr_pem, days=None):
        r = self.request_csr(csr_pem, days=days)
        assert r.status == 200, f"request-with-csr: {r!r}"
        serial = r.json()["serial"]
        c = self.cert(serial)
        assert c.status == 200, c
        return serial, c.text


class CmTenant:
    """A tenant with one CA ('ca1', its default) and certmaker users."""

    def __init__(self, stack, name):
        self.stack = stack
        self.name = name
        self.client = stack.client
        self._bearer = None

    @property
    def bearer(self):
        if self._bearer is None:
            self._bearer = self.stack.cli.token(self.name)
        return self._bearer

    def user(self, admin=False, name=None):
        name = name or random_name("u")
        args = ["user", "create", "--tenant", self.name, "--name", name]
        if admin:
            args.append("--admin")
        r = self.stack.cli.run(*args)
        token = r.stdout.strip()
        assert API_TOKEN_RE.match(token), f"user create printed {r.stdout!r}"
        return CmUser(self, name, token, admin)

    def setting(self, key, value):
        self.stack.cli.run("setting", "set", "--tenant", self.name, key, str(value))

    def settings(self):
        out = self.stack.cli.run("setting", "list", "--tenant", self.name).stdout
        return parse_settings(out)

    # Through the X.509 dialect (bearer JWT of the same tenant).
    def x509_get(self, path):
        return self.client.get(path, token=self.bearer)

    def ca_pem(self):
        r = self.x509_get("/x509/v1/ca")
        assert r.status == 200, r
        return r.json()["caPem"]

    def crl(self):
        r = self.x509_get("/x509/v1/ca/crl")
        assert r.status == 200, r
        return Crl(r.json()["crl"])

    def crl_with(self, *serials):
        """The CRL once the worker has put 'serials' in it."""
        return crl_with(lambda: self.crl().pem, *serials)

    def x509_total(self):
        """How many live certificates the tenant has (X.509 list)."""
        r = self.x509_get("/x509/v1/certificates")
        assert r.status == 200, r
        return r.json()["paging"]["totalItems"]

    def x509_issue(self, csr_pem):
        r = self.client.post("/x509/v1/certificates", {"csr": csr_pem},
                             token=self.bearer)
        assert r.status == 201, r
        b = r.json()
        return b["certificateFingerprint"], b["certificatePem"]


def parse_settings(out):
    """{key: (value, is_default)} from `fleetpki setting list`."""
    res = {}
    for line in out.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^(\S+) = (.*?)(  \(default\))?$", line)
        assert m, f"setting list line {line!r}"
        res[m.group(1)] = (m.group(2), m.group(3) is not None)
    return res


@pytest.fixture(scope="session")
def make_cm_tenant(stack):
    def make(key="ec-p256", settings=None):
        name = random_name("cm")
        stack.cli.run("tenant", "create", name)
        stack.cli.run("ca", "create", "--tenant", name, "--name", "ca1", "--key", key)
        t = CmTenant(stack, name)
        for k, v in (settings or {}).items():
            t.setting(k, v)
        return t

    return make


# --------------------------------------------------------------------------
# Certificates, read with openssl


def utc(s):
    """openssl's 'Nov 22 04:54:23 2026 GMT' as an aware datetime."""
    return datetime.datetime.strptime(s.strip(), "%b %d %H:%M:%S %Y %Z").replace(
        tzinfo=datetime.timezone.utc)


def epoch(s):
    return utc(s).timestamp()


def cert_dates(pem):
    out = openssl("x509", "-noout", "-startdate", "-enddate", input=pem).stdout_text
    d = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return epoch(d["notBefore"]), epoch(d["notAfter"])


def cert_serial_hex(pem):
    out = openssl("x509", "-noout", "-serial", input=pem).stdout_text
    return out.strip().split("=", 1)[1].upper()


def _ext_block(text, title):
    m = re.search(r"^( *)" + re.escape(title) + r":( critical)?\s*\n((?:\1 +.*\n?)*)",
                  text, re.M)
    return (m.group(3), bool(m.group(2))) if m else (None, False)


def sans(pem):
    """The SANs as a sorted list of (kind, value): kind DNS/IP/email/URI/...,
    IP addresses normalised with ipaddress."""
    block, _ = _ext_block(x509_text(pem), "X509v3 Subject Alternative Name")
    if block is None:
        return []
    out = []
    for item in " ".join(block.split()).split(", "):
        kind, _, value = item.partition(":")
        if kind == "IP Address":
            out.append(("IP", str(ipaddress.ip_address(value))))
        else:
            out.append((kind, value))
    return sorted(out)


def want_sans(domains=(), ips=(), emails=()):
    return sorted([("DNS", d) for d in domains] +
                  [("IP", str(ipaddress.ip_address(i))) for i in ips] +
                  [("email", e) for e in emails])


def ext_text(pem, title):
    """The body of one extension in openssl's text form (whitespace
    collapsed), or None."""
    block, _ = _ext_block(x509_text(pem), title)
    return None if block is None else " ".join(block.split())


def ext_critical(pem, title):
    return _ext_block(x509_text(pem), title)[1]


def crl_dps(pem):
    """The URIs of the CRL distribution points extension (only)."""
    return re.findall(r"URI:(\S+)", ext_text(pem, "X509v3 CRL Distribution Points") or "")


def ocsp_urls(pem):
    block = ext_text(pem, "Authority Information Access")
    return re.findall(r"OCSP - URI:(\S+)", block or "")


def key_description(pem, kind="x509"):
    """'EC P-256', 'EC P-384', 'RSA 2048' ... from openssl's text."""
    if kind == "x509":
        text = x509_text(pem)
    else:
        text = openssl("pkey", "-noout", "-text", input=pem).stdout_text
    if "NIST CURVE:" in text or "ASN1 OID:" in text:
        m = re.search(r"NIST CURVE: (\S+)", text)
        return "EC " + (m.group(1) if m else re.search(r"ASN1 OID: (\S+)", text).group(1))
    m = re.search(r"(?:Public-Key|Private-Key): \((\d+) bit", text)
    assert m and ("rsaEncryption" in text or "modulus" in text.lower()), text
    return "RSA " + m.group(1)


def cert_pubkey(pem):
    return openssl("x509", "-noout", "-pubkey", input=pem).stdout_text


def key_pubkey(key_pem):
    return openssl("pkey", "-pubout", input=key_pem).stdout_text


def csr_pubkey(csr_pem):
    return openssl("req", "-noout", "-pubkey", input=csr_pem).stdout_text


def assert_cert_basics(pem, ca_pem, work, env):
    """What every certificate fleetpki issues must show: verify strict,
    leaf, the CA's CRL distribution point and OCSP URL on plain HTTP."""
    from helpers import verify
    ok, out = verify(ca_pem, pem, work)
    assert ok, out
    assert ext_text(pem, "X509v3 Basic Constraints") == "CA:FALSE"
    http = env["FLEETPKI_HTTP_URL"]
    assert ocsp_urls(pem) == [http + "/ocsp"], x509_text(pem)
    dps = crl_dps(pem)
    assert len(dps) == 1 and re.match(re.escape(http) + r"/crl/[^/]+\.crl$", dps[0]), dps


# --------------------------------------------------------------------------
# A tiny HTTP server for challenges, on a loopback address of our choice.


def free_port(host="127.0.0.1"):
    s = socket.socket()
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's name)
        srv = self.server
        with srv.lock:
            srv.hits.append((self.command, self.path, self.headers.get("Host")))
            srv.headers.append(dict(self.headers.items()))
            route = srv.routes.get(self.path)
        if route is None:
            status, body, headers = 404, b"not found\n", {}
        else:
            status, body, headers = route
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


class TokenServer:
    """A threaded HTTP server on host:port (a free one by default),
    serving configured bodies and recording every request."""

    def __init__(self, host="127.0.0.2", port=0):
        self.httpd = http.server.ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.hits = []
        self.httpd.headers = []
        self.httpd.routes = {}
        self.httpd.lock = threading.Lock()
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def serve(self, path, body, status=200, headers=None):
        if isinstance(body, str):
            body = body.encode()
        with self.httpd.lock:
            self.httpd.routes[path] = (status, body, headers or {})

    def serve_token(self, token, suffix=""):
        self.serve(WELL_KNOWN, token + suffix)

    def clear(self):
        with self.httpd.lock:
            self.httpd.routes.clear()
            self.httpd.hits.clear()
            self.httpd.headers.clear()

    @property
    def hits(self):
        with self.httpd.lock:
            return list(self.httpd.hits)

    @property
    def request_headers(self):
        with self.httpd.lock:
            return list(self.httpd.headers)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------------------
# OCSP through the openssl CLI


def ocsp_url_get_path(req_der):
    """RFC 6960 A.1: /ocsp/ + url-encoding of the base64 of the DER."""
    return "/ocsp/" + urllib.parse.quote(base64.b64encode(req_der).decode(), safe="")


class OcspText:
    """openssl ocsp -resp_text output, parsed."""

    def __init__(self, text):
        self.text = text
        m = re.search(r"OCSP Response Status: (\S+) \((0x[0-9a-f]+)\)", text)
        self.status = m.group(1) if m else None
        m = re.search(r"Produced At: (.*)", text)
        self.produced_at = epoch(m.group(1)) if m else None
        m = re.search(r"Responder Id: (.*)", text)
        self.responder_id = m.group(1).strip() if m else None
        self.nonces = re.findall(r"OCSP Nonce: *\n\s*([0-9A-Fa-f]+)", text)
        self.single = {}
        for blk in re.split(r"\n\s*Certificate ID:\n", text)[1:]:
            serial = int(re.search(r"Serial Number: (-?[0-9A-Fa-f]+)", blk).group(1), 16)
            s = {"status": re.search(r"Cert Status: (\S+)", blk).group(1)}
            m = re.search(r"Revocation Time: (.*)", blk)
            s["revocation_time"] = epoch(m.group(1)) if m else None
            m = re.search(r"Revocation Reason: (\S+)", blk)
            s["reason"] = m.group(1) if m else None
            s["this_update"] = epoch(re.search(r"This Update: (.*)", blk).group(1))
            m = re.search(r"Next Update: (.*)", blk)
            s["next_update"] = epoch(m.group(1)) if m else None
            s["hash"] = re.search(r"Hash Algorithm: (\S+)", blk).group(1)
            self.single[serial] = s


class OcspResult:
    def __init__(self, r, files):
        self.rc = r.returncode
        self.out = r.stdout_text
        self.err = r.stderr_text
        self.all = self.out + self.err
        self.files = files
        self.parsed = OcspText(self.out)

    @property
    def verified(self):
        return "Response verify OK" in self.all and "Verify Failure" not in self.all

    def summary(self, label):
        """'good' / 'revoked' / 'unknown' for one -cert file or -serial, as
        openssl's summary lines say."""
        m = re.search(r"^" + re.escape(label) + r": (\S+)$", self.out, re.M)
        assert m, f"no status for {label} in:\n{self.all}"
        return m.group(1)

    def detail(self, label):
        """The tab-indented lines under a summary line, as a dict."""
        m = re.search(r"^" + re.escape(label) + r": \S+\n((?:\t.*\n?)*)", self.out, re.M)
        assert m, self.all
        d = {}
        for line in m.group(1).splitlines():
            k, _, v = line.strip().partition(": ")
            d[k] = v
        return d

    def __repr__(self):
        return f"<openssl ocsp rc={self.rc}\n{self.all}>"


def ocsp_query(work, ca_pem, certs=(), serials=(), url=None, nonce=True,
               issuer_pem=None, extra=()):
    """openssl ocsp -issuer CA -cert ... -url URL -CAfile CA -resp_text.
    'certs' are PEM strings (labels cert0.pem, cert1.pem ...), 'serials'
    ints (labels 0x...).  Returns OcspResult."""
    ca = work.file("ca.pem", ca_pem)
    issuer = work.file("issuer.pem", issuer_pem) if issuer_pem else ca
    args = ["ocsp", *extra, "-issuer", str(issuer)]
    files = []
    for i, pem in enumerate(certs):
        p = work.path / f"cert{i}.pem"
        p.write_text(pem)
        files.append(p.name)
        args += ["-cert", p.name]
    for s in serials:
        args += ["-serial", hex(s)]
    args += ["-url", url, "-CAfile", str(ca), "-resp_text", "-timeout", "20"]
    if not nonce:
        args.append("-no_nonce")
    r = subprocess.run(["openssl", *args], capture_output=True, timeout=60,
                       cwd=work.path)
    r.stdout_text = r.stdout.decode("latin-1")
    r.stderr_text = r.stderr.decode("latin-1")
    return OcspResult(r, files)


def ocsp_request_der(work, ca_pem, certs=(), serials=(), nonce=True, extra=()):
    """The DER of an OCSP request openssl builds (not sent)."""
    ca = work.file("ca.pem", ca_pem)
    out = work.file("req.der")
    args = ["ocsp", *extra, "-issuer", str(ca)]
    for pem in certs:
        args += ["-cert", str(work.file("cert.pem", pem))]
    for s in serials:
        args += ["-serial", hex(s)]
    args += ["-reqout", str(out)]
    if not nonce:
        args.append("-no_nonce")
    openssl(*args)
    return out.read_bytes()


def ocsp_parse_response(work, resp_der, ca_pem, req_der=None):
    """openssl ocsp -respin: returns OcspResult.  With 'req_der' openssl
    also checks the response's nonce against the request's."""
    ca = work.file("ca.pem", ca_pem)
    resp = work.file("resp.der", resp_der)
    args = ["openssl", "ocsp", "-respin", str(resp), "-CAfile", str(ca),
            "-verify_other", str(ca), "-resp_text"]
    if req_der is not None:
        args += ["-reqin", str(work.file("req.der", req_der))]
    r = subprocess.run(args, capture_output=True, timeout=60)
    r.stdout_text = r.stdout.decode("latin-1")
    r.stderr_text = r.stderr.decode("latin-1")
    return OcspResult(r, [])


def cache_max_age(headers):
    cc = headers.get("cache-control", "")
    m = re.search(r"(?:^|[ ,])max-age=(\d+)", cc)
    return int(m.group(1)) if m else None


def now():
    return time.time()


# --------------------------------------------------------------------------
# Challenges


CHALLENGE_LOCATION_RE = r"^{url}/api/v1/challenge/([0-9a-f]{{32}})/solve$"


def start_challenge(user, body=None, csr=None, days=None):
    """A request that must answer 202: (token, solve URL, challenge id)."""
    r = user.request(body) if csr is None else user.request_csr(csr, days=days)
    assert r.status == 202, r
    assert r.content_type == "text/plain", r.headers
    token = r.text
    assert CHALLENGE_TOKEN_RE.match(token), token
    loc = r.headers.get("x-challenge-location", "")
    url = "https://" + f"{user.client.https_host}:{user.client.https_port}"
    m = re.match(CHALLENGE_LOCATION_RE.format(url=re.escape(url)), loc)
    assert m, f"X-Challenge-Location {loc!r}"
    assert "x-certificate-location" not in r.headers
    assert "x-privatekey-location" not in r.headers
    return token, loc, m.group(1)


def solve(user, loc, port=None, header="X-Challenge-Port"):
    return user.fetch(loc, headers={header: str(port)} if port is not None else None)


class Expiring:
    pass


_EXPIRING = []


@pytest.fixture(scope="session")
def expiring_challenges(make_cm_tenant):
    """A tenant whose challenges live 60 s (the minimum), with one challenge
    left pending and one solved at once.  Session-scoped and first asked
    for early (test_certmaker.py), so that test_certmaker_challenge.py's
    expiry test waits out little of the minute itself."""
    # Fixtures imported into two modules are two definitions: keep one.
    if _EXPIRING:
        return _EXPIRING[0]
    e = Expiring()
    _EXPIRING.append(e)
    e.tenant = make_cm_tenant(settings={"certmaker.require_challenge": "on",
                                        "certmaker.challenge_ttl": 60})
    e.user = e.tenant.user()
    # 'localhost' is never validated: no server needed to solve these.
    e.created = time.time()
    _, e.pending, _ = start_challenge(e.user, {"domains": ["localhost"]})
    _, e.solved, _ = start_challenge(e.user, {"domains": ["localhost"]})
    e.solved_answer = solve(e.user, e.solved)
    assert e.solved_answer.status == 200, e.solved_answer
    return e
