"""Pebble (an ACME test CA) and pebble-challtestsrv (its fake DNS) for the
enrollment tests, on free loopback ports.

  Pebble(workdir, ...)     a Pebble with its own TLS certificate (made here
                           with openssl), its DNS lookups pointed at a
                           challtestsrv; start(), stop(), restart()
  pebble.roots()           Pebble's root and intermediate (management API)
  pebble.hook              the exec DNS hook (HOOK present|cleanup FQDN
                           VALUE) that drives challtestsrv's /set-txt and
                           /clear-txt
  configure_tenant(...)    the tenant settings the ACME client needs

Pebble keeps everything in memory: a restart forgets accounts and
orders, and makes a new root.
"""

import json
import os
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from helpers import wait_until


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_udp_tcp_port():
    """A port free for both UDP and TCP on 127.0.0.1 (a DNS server's)."""
    for _ in range(50):
        (p,) = free_ports(1)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            u.close()
    raise AssertionError("no free port for DNS")


def b64d(s):
    import base64
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _run(*cmd, **kw):
    r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL, **kw)
    assert r.returncode == 0, f"{cmd}: {r.stderr}"
    return r.stdout


def make_tls(d):
    """A CA and a server certificate for 127.0.0.1/localhost in 'd'."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca = d / "ca.key", d / "ca.pem"
    key, csr, cert = d / "server.key", d / "server.csr", d / "server.pem"
    _run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(ca_key), "-out",
         str(ca), "-days", "2", "-subj", "/CN=pebble test TLS CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _run("openssl", "req", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out",
         str(csr), "-subj", "/CN=localhost")
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                   "basicConstraints=CA:FALSE\n"
                   "extendedKeyUsage=serverAuth\n")
    _run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca),
         "-CAkey", str(ca_key), "-CAcreateserial", "-out", str(cert),
         "-days", "2", "-extfile", str(ext))
    for f in (ca, cert, key):
        os.chmod(f, 0o644)
    return ca, cert, key


HOOK = """#!/bin/sh
# exec DNS-01 hook for pebble-challtestsrv: HOOK present|cleanup FQDN VALUE
set -e
mgmt={mgmt}
log={log}
echo "$1 $2 $3" >> "$log"
case "$1" in
present)
	curl -sS -f -X POST -d "{{\\"host\\":\\"$2.\\",\\"value\\":\\"$3\\"}}" "$mgmt/set-txt"
	# A test's way to stop Pebble in the middle of an order.
	if [ -e {dir}/kill-on-present ]; then
		rm -f {dir}/kill-on-present
		kill "$(cat {dir}/pebble.pid)" || true
	fi ;;
cleanup)
	curl -sS -f -X POST -d "{{\\"host\\":\\"$2.\\"}}" "$mgmt/clear-txt" ;;
*)
	echo "usage: $0 present|cleanup FQDN VALUE" >&2; exit 2 ;;
esac
"""


class Pebble:
    def __init__(self, workdir, env=None, eab_keys=None, validity_s=None,
                 name="pebble", dns_server=None):
        self.dir = Path(workdir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.tls_ca, cert, key = make_tls(self.dir / "tls")
        (self.port, self.mgmt_port, self.http_port, self.tls_port,
         self.cts_mgmt_port) = free_ports(5)
        self.dns_port = free_udp_tcp_port()
        # Another DNS server (knotd) instead of challtestsrv.
        self.dns_server = dns_server
        conf = {"pebble": {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
            "certificate": str(cert), "privateKey": str(key),
            "httpPort": self.http_port, "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": bool(eab_keys),
        }}
        if eab_keys:
            conf["pebble"]["externalAccountMACKeys"] = eab_keys
        if validity_s:
            conf["pebble"]["certificateValidityPeriod"] = validity_s
        self.config = self.dir / "pebble-config.json"
        self.config.write_text(json.dumps(conf, indent=1))
        self.env = dict(os.environ)
        self.env["PEBBLE_VA_NOSLEEP"] = "1"
        self.env["PEBBLE_WFE_NONCEREJECT"] = "0"
        self.env.update(env or {})
        self.hook_log = self.dir / "hook.log"
        self.hook_log.write_text("")
        os.chmod(self.hook_log, 0o666)
        self.hook = self.dir / "dns-hook"
        self.hook.write_text(HOOK.format(
            mgmt=f"http://127.0.0.1:{self.cts_mgmt_port}",
            log=self.hook_log, dir=self.dir))
        os.chmod(self.hook, 0o755)
        self.proc = None
        self.cts = None

    @property
    def directory_url(self):
        return f"https://127.0.0.1:{self.port}/dir"

    @property
    def resolver(self):
        return f"127.0.0.1:{self.dns_port}"

    def _ctx(self):
        return ssl.create_default_context(cafile=str(self.tls_ca))

    def start_dns(self):
        log = open(self.dir / "challtestsrv.log", "ab")
        self.cts = subprocess.Popen(
            ["pebble-challtestsrv",
             "-dns01", f"127.0.0.1:{self.dns_port}",
             "-management", f"127.0.0.1:{self.cts_mgmt_port}",
             "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        wait_until(lambda: self._up(f"http://127.0.0.1:{self.cts_mgmt_port}/",
                                    None), 30, "challtestsrv")

    def start(self):
        if self.cts is None and self.dns_server is None:
            self.start_dns()
        log = open(self.dir / "pebble.log", "ab")
        self.proc = subprocess.Popen(
            ["pebble", "-config", str(self.config),
             "-dnsserver", self.dns_server or f"127.0.0.1:{self.dns_port}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=self.env, cwd=self.dir, start_new_session=True)
        (self.dir / "pebble.pid").write_text(str(self.proc.pid))
        wait_until(lambda: self._up(self.directory_url, self._ctx()), 30,
                   "pebble's directory")
        return self

    def _up(self, url, ctx):
        try:
            urllib.request.urlopen(url, context=ctx, timeout=2)
            return True
        except urllib.error.HTTPError:
            return True
        except Exception:
            return False

    def kill_on_next_present(self):
        """Pebble dies right after the hook's next 'present'."""
        (self.dir / "kill-on-present").write_text("")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None

    def close(self):
        self.stop()
        if self.cts is not None:
            self.cts.terminate()
            try:
                self.cts.wait(10)
            except subprocess.TimeoutExpired:
                self.cts.kill()
            self.cts = None

    def mgmt(self, path):
        with urllib.request.urlopen(
                f"https://127.0.0.1:{self.mgmt_port}{path}",
                context=self._ctx(), timeout=10) as r:
            return r.read().decode()

    def roots(self):
        """(root PEM, intermediate PEM) of the running Pebble."""
        return self.mgmt("/roots/0"), self.mgmt("/intermediates/0")

    def hook_calls(self):
        return [l.split() for l in self.hook_log.read_text().splitlines()]


def configure_tenant(cli, tenant, pebble, domain, extra=()):
    """The settings an ACME-enrolled tenant needs, against 'pebble'."""
    settings = [
        ("enroll.domain", domain),
        ("acme.directory_url", pebble.directory_url),
        ("acme.ca_file", str(pebble.tls_ca)),
        ("acme.contact", "ops@example.com"),
        ("acme.dns_provider", "exec"),
        ("acme.dns_hook", str(pebble.hook)),
        ("acme.dns_resolvers", pebble.resolver),
    ] + list(extra)
    for k, v in settings:
        cli.run("setting", "set", "--tenant", tenant, k, v)


KNOT_CONF = """server:
    rundir: "{dir}"
    listen: 127.0.0.1@{port}
control:
    listen: "{dir}/knot.sock"
database:
    storage: "{dir}/db"
key:
  - id: {key_name}
    algorithm: hmac-sha256
    secret: {secret}
acl:
  - id: update
    key: {key_name}
    action: update
zone:
  - domain: {zone}
    storage: "{dir}/zones"
    file: {zone}.zone
    acl: update
    zonefile-sync: -1
log:
  - target: stderr
    any: info
"""

ZONE = """$ORIGIN {zone}.
$TTL 60
@   SOA ns.{zone}. hostmaster.{zone}. 1 60 60 3600 60
@   NS  ns
ns  A   127.0.0.1
"""


class Knot:
    """knotd on loopback, authoritative for 'zone', taking RFC 2136
    updates signed with a TSIG key (key_file: nsupdate -k's format)."""

    def __init__(self, workdir, zone="knot.test", key_name="fleet-key"):
        import base64
        self.dir = Path(workdir) / "knot"
        (self.dir / "zones").mkdir(parents=True, exist_ok=True)
        (self.dir / "db").mkdir(exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.zone = zone
        self.port = free_udp_tcp_port()
        secret = base64.b64encode(os.urandom(32)).decode()
        (self.dir / "knot.conf").write_text(KNOT_CONF.format(
            dir=self.dir, port=self.port, key_name=key_name, secret=secret,
            zone=zone))
        (self.dir / "zones" / f"{zone}.zone").write_text(ZONE.format(zone=zone))
        self.key_file = self.dir / "tsig.key"
        self.key_file.write_text(
            f'key "{key_name}" {{\n\talgorithm hmac-sha256;\n'
            f'\tsecret "{secret}";\n}};\n')
        os.chmod(self.key_file, 0o644)
        self.proc = None

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        log = open(self.dir / "knotd.log", "ab")
        self.proc = subprocess.Popen(
            ["knotd", "-c", str(self.dir / "knot.conf")], stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        wait_until(lambda: "SOA" in self.dig(self.zone, "SOA"), 30, "knotd")
        return self

    def dig(self, name, rtype="TXT"):
        r = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.port), "+short",
                            "+norecurse", "+time=1", "+tries=1", name, rtype],
                           capture_output=True, text=True, timeout=30)
        return r.stdout if rtype != "SOA" or r.stdout.strip() == "" \
            else "SOA " + r.stdout

    def close(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


class FakeAcme:
    """A scripted ACME server (no JWS checks) for answers Pebble never
    gives: newOrder answers 'order_status' with 'order_headers' and
    'order_body' (a rate limit by default)."""

    def __init__(self, workdir, retry_after="120", issue=False,
                 ari_window=None):
        """issue: a CA that validates every authorization at once, signs
        the CSR with its TLS CA and offers renewalInfo (RFC 9773) with
        the window 'ari_window' (start, end: RFC 3339)."""
        import http.server
        import threading

        self.dir = Path(workdir) / "fake-acme"
        self.tls_ca, cert, key = make_tls(self.dir / "tls")
        self.ca_key = self.dir / "tls" / "ca.key"
        self.issue = issue
        self.ari_window = ari_window
        self.ari_asked = []
        self.host = None
        self.chain = None
        self.serial = 4096
        self.hits = {}
        self.order_status = 429
        self.order_headers = {"Retry-After": retry_after}
        self.order_body = {"type": "urn:ietf:params:acme:error:rateLimited",
                           "detail": "too many certificates for devices.test "
                                     "this week", "status": 429}
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, status, body=None, headers=None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Replay-Nonce", os.urandom(8).hex())
                self.send_header("Content-Type", "application/problem+json"
                                 if status >= 400 else "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def do_HEAD(self):
                fake.hits[self.path] = fake.hits.get(self.path, 0) + 1
                self._send(200)

            def do_GET(self):
                fake.hits[self.path] = fake.hits.get(self.path, 0) + 1
                base = f"https://127.0.0.1:{fake.port}"
                if self.path == "/dir":
                    d = {"newNonce": base + "/nonce",
                         "newAccount": base + "/acct",
                         "newOrder": base + "/order"}
                    if fake.issue:
                        d["renewalInfo"] = base + "/ari"
                    self._send(200, d)
                elif self.path.startswith("/ari/") and fake.ari_window:
                    fake.ari_asked.append(self.path[len("/ari/"):])
                    self._send(200, {"suggestedWindow": {
                        "start": fake.ari_window[0],
                        "end": fake.ari_window[1]}}, {"Retry-After": "21600"})
                else:
                    self._send(404, {"type": "about:blank"})

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                jws = json.loads(self.rfile.read(n) or b"{}")
                payload = jws.get("payload", "")
                payload = json.loads(b64d(payload)) if payload else None
                fake.hits[self.path] = fake.hits.get(self.path, 0) + 1
                base = f"https://127.0.0.1:{fake.port}"
                if fake.issue and self.path != "/acct":
                    return fake.ca_post(self, base, payload)
                if self.path == "/acct":
                    self._send(201, {"status": "valid"},
                               {"Location": base + "/acct/1"})
                elif self.path == "/order":
                    self._send(fake.order_status, fake.order_body,
                               fake.order_headers)
                else:
                    self._send(404, {"type": "about:blank"})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.server.socket = ctx.wrap_socket(self.server.socket,
                                             server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()
        # What configure_tenant needs of it.
        self.hook = "/bin/true"
        self.resolver = "127.0.0.1:53"

    def ca_post(self, h, base, payload):
        """The issuing CA's POSTs: one order at a time, always valid."""
        order = lambda status: {  # noqa: E731
            "status": status,
            "identifiers": [{"type": "dns", "value": self.host}],
            "authorizations": [base + "/authz/1"],
            "finalize": base + "/finalize/1",
            **({"certificate": base + "/cert/1"} if status == "valid" else {})}
        if h.path == "/order":
            self.host = payload["identifiers"][0]["value"]
            self.chain = None
            return h._send(201, order("ready"), {"Location": base + "/order/1"})
        if h.path == "/authz/1":
            return h._send(200, {"status": "valid", "identifier": {
                "type": "dns", "value": self.host}, "challenges": []})
        if h.path == "/order/1":
            return h._send(200, order("valid" if self.chain else "ready"))
        if h.path == "/finalize/1":
            csr = self.dir / "req.der"
            csr.write_bytes(b64d(payload["csr"]))
            ext = self.dir / "leaf.cnf"
            ext.write_text(f"subjectAltName=DNS:{self.host}\n"
                           "authorityKeyIdentifier=keyid\n"
                           "basicConstraints=CA:FALSE\n")
            self.serial += 1
            leaf = _run("openssl", "x509", "-req", "-inform", "DER", "-in",
                        str(csr), "-CA", str(self.tls_ca), "-CAkey",
                        str(self.ca_key), "-set_serial", str(self.serial),
                        "-days", "90", "-extfile", str(ext))
            self.chain = leaf + self.tls_ca.read_text()
            return h._send(200, order("valid"))
        if h.path == "/cert/1":
            data = self.chain.encode()
            h.send_response(200)
            h.send_header("Replay-Nonce", os.urandom(8).hex())
            h.send_header("Content-Type", "application/pem-certificate-chain")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return None
        return h._send(404, {"type": "about:blank"})

    @property
    def directory_url(self):
        return f"https://127.0.0.1:{self.port}/dir"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
