"""Helpers for the black-box suite: HTTP, the fleetpki CLI, the openssl CLI
and JWTs.  Standard library only; every cryptographic check goes through
the openssl command line, never through what the server says about itself.
"""

import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import ssl
import subprocess
import urllib.parse
from pathlib import Path

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "SUMMARY: UndefinedBehaviorSanitizer",
    "SUMMARY: AddressSanitizer",
)


def sanitizer_report(text):
    """The first sanitizer line in 'text', or None."""
    for line in text.splitlines():
        if any(m in line for m in SANITIZER_MARKERS):
            return line
    return None


# --------------------------------------------------------------------------
# HTTP


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {}
        for k, v in headers:
            k = k.lower()
            self.headers[k] = self.headers[k] + ", " + v if k in self.headers else v
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError(
                f"HTTP {self.status}: body is not JSON ({e}): {self.body[:300]!r}"
            ) from None

    @property
    def content_type(self):
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def __repr__(self):
        return f"<HTTP {self.status} {self.content_type} {self.body[:200]!r}>"


class Client:
    """Requests to the stack through nginx: HTTPS (trusting the local TLS CA
    only) or plain HTTP.  One connection per request; no redirects."""

    def __init__(self, env):
        u = urllib.parse.urlsplit(env["FLEETPKI_URL"])
        self.https_host, self.https_port = u.hostname, u.port or 443
        u = urllib.parse.urlsplit(env["FLEETPKI_HTTP_URL"])
        self.http_host, self.http_port = u.hostname, u.port or 80
        self.ctx = ssl.create_default_context(cafile=env["FLEETPKI_TLS_CA"])
        self.default_token = env.get("FLEETPKI_TOKEN")

    def request(self, method, path, body=None, headers=None, token=None,
                plain=False, timeout=30):
        if plain:
            conn = http.client.HTTPConnection(self.http_host, self.http_port,
                                              timeout=timeout)
        else:
            conn = http.client.HTTPSConnection(self.https_host, self.https_port,
                                               context=self.ctx, timeout=timeout)
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            return Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def fetch_url(self, url, timeout=30):
        """GET an absolute URL on either listener of this stack."""
        u = urllib.parse.urlsplit(url)
        path = u.path + ("?" + u.query if u.query else "")
        if u.scheme == "http":
            assert (u.hostname, u.port or 80) == (self.http_host, self.http_port), url
            return self.get(path, plain=True, timeout=timeout)
        assert (u.hostname, u.port or 443) == (self.https_host, self.https_port), url
        return self.get(path, timeout=timeout)


def assert_json_error(r, status, message=None, prefix=None):
    """'r' is 'status' with a JSON object body holding a string "message"
    (exactly 'message', or starting with 'prefix', when given)."""
    assert r.status == status, f"expected {status}, got {r!r}"
    assert r.content_type == "application/json", f"Content-Type of {r!r}"
    body = r.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("message"), str) and body["message"], body
    if message is not None:
        assert body["message"] == message, body
    if prefix is not None:
        assert body["message"].startswith(prefix), body
    return body


# --------------------------------------------------------------------------
# openssl


def openssl(*args, input=None, check=True):
    """Run the openssl CLI; returns CompletedProcess with text output."""
    if isinstance(input, bytes):
        r = subprocess.run(["openssl", *args], input=input, capture_output=True,
                           timeout=120)
        r.stdout_text = r.stdout.decode("latin-1")
        r.stderr_text = r.stderr.decode("latin-1")
    else:
        r = subprocess.run(["openssl", *args], input=input, capture_output=True,
                           text=True, timeout=120)
        r.stdout_text, r.stderr_text = r.stdout, r.stderr
    if check and r.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} exited {r.returncode}: "
                             f"{r.stderr_text.strip()}")
    return r


KEY_KINDS = {
    "p256": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "p384": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "p521": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
    "secp256k1": ["genpkey", "-algorithm", "EC", "-pkeyopt",
                  "ec_paramgen_curve:secp256k1"],
    "p256-explicit": ["genpkey", "-algorithm", "EC", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-pkeyopt",
                      "ec_param_enc:explicit"],
    "rsa1024": ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
    "rsa2048": ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rsa2048-e3": ["genpkey", "-algorithm", "RSA", "-pkeyopt",
                   "rsa_keygen_bits:2048", "-pkeyopt", "rsa_keygen_pubexp:3"],
    "ed25519": ["genpkey", "-algorithm", "ED25519"],
}


class Workdir:
    """Files of one test in its tmp_path."""

    def __init__(self, path):
        self.path = Path(path)
        self.n = 0

    def file(self, stem, data=None):
        self.n += 1
        p = self.path / f"{self.n:03d}-{stem}"
        if data is not None:
            p.write_bytes(data.encode() if isinstance(data, str) else data)
        return p

    def key(self, kind="p256"):
        p = self.file(f"{kind}.key")
        openssl(*KEY_KINDS[kind], "-out", str(p))
        return p

    def csr(self, kind="p256", subject="/CN=device 1", addext=(), key=None,
            digest="-sha256"):
        """A CSR (PEM text) for a new key of 'kind' (or 'key')."""
        key = key or self.key(kind)
        out = self.file("csr.pem")
        args = ["req", "-new", "-utf8", "-key", str(key), "-subj", subject,
                "-out", str(out)]
        if kind != "ed25519":
            args.append(digest)
        for ext in addext:
            args += ["-addext", ext]
        openssl(*args)
        return out.read_text()

    def write(self, stem, pem):
        return self.file(stem, pem)


def pem_der(pem):
    """The DER bytes of the first PEM block in 'pem'."""
    m = re.search(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----",
                  pem if isinstance(pem, str) else pem.decode(), re.S)
    assert m, f"no PEM block in {pem[:100]!r}"
    return base64.b64decode("".join(m.group(2).split()))


def der_pem(der, label):
    b = base64.b64encode(der).decode()
    lines = [b[i:i + 64] for i in range(0, len(b), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def x509_text(pem):
    return openssl("x509", "-noout", "-text", input=pem).stdout_text


def fingerprint(pem):
    """SHA-256 of the certificate's DER, upper-case hex pairs with colons,
    from openssl."""
    out = openssl("x509", "-noout", "-fingerprint", "-sha256", input=pem).stdout_text
    return out.strip().split("=", 1)[1]


def fp_of_der(der):
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def serial(pem):
    out = openssl("x509", "-noout", "-serial", input=pem).stdout_text
    return int(out.strip().split("=", 1)[1], 16)


def subject_entries(pem):
    """[(short name, value), ...] of the certificate's subject, in order."""
    out = openssl("x509", "-noout", "-subject", "-nameopt",
                  "sep_multiline,sname,utf8,esc_ctrl,space_eq",
                  input=pem).stdout_text
    entries = []
    for line in out.splitlines()[1:]:
        line = line.strip()
        if line:
            k, v = line.split(" = ", 1)
            entries.append((k, v))
    return entries


def pubkey(pem, kind="x509"):
    return openssl(kind, "-noout", "-pubkey", input=pem).stdout_text


def verify(ca_pem, cert_pem, workdir, crl_pem=None, strict=True):
    """openssl verify: (ok, output)."""
    ca = workdir.write("ca.pem", ca_pem)
    cert = workdir.write("cert.pem", cert_pem)
    args = ["verify", "-CAfile", str(ca)]
    if strict:
        args.append("-x509_strict")
    if crl_pem is not None:
        crl = workdir.write("crl.pem", crl_pem)
        args += ["-crl_check", "-CRLfile", str(crl)]
    r = openssl(*args, str(cert), check=False)
    out = r.stdout_text + r.stderr_text
    return r.returncode == 0 and out.strip().endswith(": OK"), out


class Crl:
    def __init__(self, pem):
        self.pem = pem
        self.text = openssl("crl", "-noout", "-text", input=pem).stdout_text
        m = re.search(r"X509v3 CRL Number:\s*\n\s*(\S+)", self.text)
        assert m, f"CRL without crlNumber:\n{self.text}"
        self.number = int(m.group(1), 0)
        self.serials = {int(s, 16) for s in
                        re.findall(r"Serial Number: ([0-9A-Fa-f]+)", self.text)}
        self.has_next_update = "Next Update:" in self.text and \
            "Next Update: NONE" not in self.text

    def verifies_with(self, ca_pem, workdir):
        ca = workdir.write("ca.pem", ca_pem)
        crl = workdir.write("crl.pem", self.pem)
        r = openssl("crl", "-in", str(crl), "-CAfile", str(ca), "-noout",
                    check=False)
        return r.returncode == 0 and "verify OK" in r.stdout_text + r.stderr_text


def crl_with(fetch_pem, *serials, timeout=30):
    """The CRL 'fetch_pem()' answers once it lists every serial in 'serials'
    (ints, or hex strings): revocations reach the CRL through the worker
    (sql/014), within seconds rather than in the revoking request."""
    want = {int(x, 16) if isinstance(x, str) else x for x in serials}

    def ready():
        c = Crl(fetch_pem())
        return c if want <= c.serials else None

    return wait_until(ready, timeout, f"a CRL listing {sorted(want)}")


def crl_dp_urls(cert_pem):
    text = x509_text(cert_pem)
    m = re.search(r"X509v3 CRL Distribution Points:\s*\n(.*?)"
                  r"(?:\n\s*X509v3|\n\s*Authority Information Access|\n\s*Signature Algorithm|\Z)",
                  text, re.S)
    assert m, f"no CRL distribution point in:\n{text}"
    return re.findall(r"URI:(\S+)", m.group(1))


def ocsp_urls(cert_pem):
    """The AIA OCSP responder URLs of a certificate."""
    return re.findall(r"OCSP - URI:(\S+)", x509_text(cert_pem))


def tamper_signature(csr_pem):
    """The CSR with the last byte of its signature flipped: still DER."""
    der = bytearray(pem_der(csr_pem))
    der[-1] ^= 0x01
    return der_pem(bytes(der), "CERTIFICATE REQUEST")


# --------------------------------------------------------------------------
# JWT (ES256) built by hand, for tokens the server must refuse.


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), s


def _der_ints(der):
    """r, s of a DER ECDSA-Sig-Value."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = []
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out.append(int.from_bytes(der[i + 2:i + 2 + n], "big"))
        i += 2 + n
    return out


def es256_sign(key_path, signing_input):
    """Raw r||s (64 bytes) ES256 signature over 'signing_input' by an EC
    P-256 key file, via openssl dgst."""
    r = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key_path)],
                       input=signing_input.encode(), capture_output=True, check=True)
    rr, ss = _der_ints(r.stdout)
    return rr.to_bytes(32, "big") + ss.to_bytes(32, "big")


def make_jwt(header, payload, key_path=None, signature=None):
    si = b64url(json.dumps(header, separators=(",", ":"))) + "." + \
        b64url(json.dumps(payload, separators=(",", ":")))
    if signature is None:
        signature = b64url(es256_sign(key_path, si)) if key_path else ""
    return si + "." + signature


def ec_public_jwk(key_path):
    der = subprocess.run(["openssl", "pkey", "-in", str(key_path), "-pubout",
                          "-outform", "DER"], capture_output=True, check=True).stdout
    point = der[-65:]
    assert point[0] == 4
    return {"kty": "EC", "crv": "P-256", "x": b64url(point[1:33]),
            "y": b64url(point[33:])}


def random_name(prefix="t"):
    return prefix + secrets.token_hex(5)


def env_without_fleetpki():
    """The environment minus FLEETPKI_* (a developer's sourced DIR/env must
    not steer the harness)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FLEETPKI_")}


def pid_alive_in(pidfile):
    """The process named in 'pidfile' exists and is not a zombie."""
    try:
        pid = int(open(pidfile).read().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# --------------------------------------------------------------------------
# shared by the tests that reach into the database, wait, or start a stack

REPO = Path(__file__).resolve().parents[2]


def psql(url, sql):
    """Run 'sql' with psql against 'url' (the owner's, as DIR/env has it);
    its output, unaligned, stripped.  Skips the test when psql is missing."""
    import shutil

    import pytest

    if not shutil.which("psql") or not url:
        pytest.skip("no psql or no database URL")
    r = subprocess.run(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-Atc", sql],
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def wait_until(pred, timeout, what, step=0.2):
    """Poll 'pred' until it returns something true (returned), or fail
    after 'timeout' seconds naming 'what'."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def scripts_up(dirpath, *args):
    """scripts/up --dir 'dirpath' with 'args', on the binaries under test
    (FLEETPKI_BUILD_DIR, FLEETPKI_NO_BUILD as scripts/check sets them)."""
    cmd = ["bash", str(REPO / "scripts/up"), "--dir", str(dirpath), *args]
    if os.environ.get("FLEETPKI_BUILD_DIR"):
        cmd += ["--build-dir", os.environ["FLEETPKI_BUILD_DIR"]]
    if os.environ.get("FLEETPKI_NO_BUILD") == "1":
        cmd.append("--no-build")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                          env=env_without_fleetpki(), stdin=subprocess.DEVNULL, cwd=REPO)


def scripts_down(dirpath):
    subprocess.run(["bash", str(REPO / "scripts/down"), "--dir", str(dirpath)],
                   capture_output=True, text=True, timeout=180,
                   env=env_without_fleetpki(), stdin=subprocess.DEVNULL)


def second_worker_config(config, dest):
    """The text of the stack's fleetpki.conf ('config') for another
    fleetpki-worker beside the stack's, written to 'dest' (mode 0600):
    without the stack worker's worker_metrics_listen, whose port is
    taken (a worker that cannot bind it refuses to start)."""
    text = "\n".join(l for l in open(config).read().splitlines()
                     if not l.strip().startswith("worker_metrics_listen")) + "\n"
    dest = Path(dest)
    dest.write_text(text)
    dest.chmod(0o600)
    return text
