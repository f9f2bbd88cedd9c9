"""Shared by test_webhooks.py (issue 10): an HTTPS receiver on loopback
that records what it gets, its certificate issued by fleetpki (certificate
maker) and trusted through outbound_ca_file; a fleetpki-worker of the
test's own in place of the stack's (with that CA bundle and an extra
denied address), and the stack's worker put back afterwards; Standard
Webhooks signature checks.  Standard library only."""

import base64
import hashlib
import hmac
import http.server
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

from helpers import pid_alive_in, psql, random_name, second_worker_config, wait_until
from secsvc_helpers import SecsvcTenant

CREATE = "/notification/webhook/create"
UPDATE = "/notification/webhook/update"
DELETE = "/notification/webhook/delete"
GET = "/notification/webhook/get"

TYPES = ["DEVICE_BOOTSTRAP_EVENT", "DEVICE_PROPERTIES_CHANGE_EVENT",
         "DEVICE_ERRORS_EVENT", "DEVICE_CERTIFICATE_RENEWAL_EVENT",
         "DEVICE_CERTIFICATE_EXPIRATION_EVENT", "ROOTCA_EXPIRATION_EVENT",
         "CERTIFICATE_ISSUED", "CERTIFICATE_REVOKED"]

# The address the test's worker denies (outbound_deny), with a listener
# that counts connections: none may come.
DENIED_IP = "127.0.0.3"


def free_port(host="127.0.0.1"):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def verify_signature(secret, headers, body):
    """The Standard Webhooks check a receiver does: True when one of the
    v1 signatures is HMAC-SHA256 of id.timestamp.body under the secret."""
    assert secret.startswith("whsec_"), secret
    key = base64.b64decode(secret[len("whsec_"):])
    msg = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    want = base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
    for part in headers["webhook-signature"].split(" "):
        version, _, sig = part.partition(",")
        if version == "v1" and hmac.compare_digest(sig, want):
            return True
    return False


class Receiver:
    """An HTTPS server on 127.0.0.1 in a thread.  Every request is
    recorded (path, lower-cased headers, body, time).  answers[path] is
    a list of (status, headers) answered in turn, then 200; delay[path]
    seconds are slept before answering."""

    def __init__(self, cert_file, key_file, port=0):
        self.got = []
        self.answers = {}
        self.delay = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    outer.got.append({
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body, "at": time.time()})
                    queue = outer.answers.get(self.path)
                    status, hdrs = (queue.pop(0) if queue else (200, {}))
                    delay = outer.delay.get(self.path, 0)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_file, key_file)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def at(self, path):
        with self.lock:
            return [g for g in self.got if g["path"] == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class CountingListener:
    """A TCP listener that only counts the connections it accepts."""

    def __init__(self, host):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            c.close()

    def stop(self):
        self.running = False
        self.thread.join()
        self.sock.close()


class Worker:
    """The test's fleetpki-worker: the stack's configuration plus
    'extra' lines, in its own session (so kill9 takes its children)."""

    def __init__(self, stack, tmp, extra):
        self.stack = stack
        self.conf = Path(tmp) / "worker-webhooks.conf"
        text = second_worker_config(stack.cli.config, self.conf)
        self.conf.write_text(text + "\n".join(extra) + "\n")
        self.logf = Path(tmp) / "worker-webhooks.log"
        self.p = None

    def start(self):
        before = self.log().count("delivering webhooks") if self.logf.exists() else 0
        log = open(self.logf, "a")
        self.p = subprocess.Popen(
            [str(self.stack.cli.bin / "fleetpki-worker"), "--config", str(self.conf)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=self.stack.cli.env, start_new_session=True)
        log.close()
        # Every webhook child of the worker (WEBHOOK_CHILDREN, worker.h).
        wait_until(lambda: self.log().count("delivering webhooks") >= before + 4,
                   60, "the webhook children")

    def kill9(self):
        os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait(timeout=30)
        self.p = None

    def stop(self):
        if self.p is not None:
            self.p.terminate()
            rc = self.p.wait(timeout=60)
            self.p = None
            assert rc == 0, f"worker exited {rc}"

    def log(self):
        return self.logf.read_text(errors="replace")


def stop_stack_worker(stack):
    pidfile = stack.dir / "run/fleetpki-worker.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if not pid_alive_in(pidfile):
        return
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not pid_alive_in(pidfile), 60, "the stack's worker to stop")


def start_stack_worker(stack):
    """As scripts/up starts it (lib.sh start_service)."""
    pidfile = stack.dir / "run/fleetpki-worker.pid"
    logf = stack.dir / "log/fleetpki-worker.log"
    with open(logf, "a") as log:
        subprocess.Popen(
            [str(stack.cli.bin / "fleetpki-worker"), "--config", stack.cli.config,
             "--pid-file", str(pidfile)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=stack.cli.env, start_new_session=True)
    wait_until(lambda: pid_alive_in(pidfile), 60, "the stack's worker")


class HookTenant(SecsvcTenant):
    """A security-services tenant with a CA and a certificate-maker user
    (for certificate events), and what its webhooks answered."""

    def __init__(self, stack):
        super().__init__(stack)
        stack.cli.run("ca", "create", "--tenant", self.name, "--name", "ca1")
        self.secrets = {}

    def create(self, url, type_, token="Bearer tok-" + random_name()):
        r = self.post(CREATE, {"NotificationURL": url, "AuthorizationToken": token,
                               "NotificationType": type_})
        assert r.status == 200, r
        b = r.json()
        if "SigningSecret" in b:
            self.secrets[url] = b["SigningSecret"]
        return b

    def event(self, type_, payload, rot=None):
        """An event as the device protocol writes it (same transaction
        rules: the trigger does the rest); its id."""
        rot_sql = f"'{rot}'" if rot else "NULL"
        return int(psql(self.url, f"""
            INSERT INTO events (tenant_id, rot, type, payload)
            VALUES ({self.id}, {rot_sql}, '{type_}', '{json.dumps(payload)}'::jsonb)
            RETURNING id""").splitlines()[0])

    def events(self, type_, n):
        """'n' events in one statement (one transaction), in id order."""
        rows = psql(self.url, f"""
            INSERT INTO events (tenant_id, type, payload)
            SELECT {self.id}, '{type_}', jsonb_build_object('N', g)
            FROM generate_series(1, {int(n)}) g RETURNING id""")
        return [int(x) for x in rows.splitlines()]

    def deliveries(self, state=None):
        args = ["webhook", "deliveries", "--tenant", self.name, "--limit", "100000"]
        if state:
            args += ["--state", state]
        out = self.stack.cli.run(*args).stdout.splitlines()
        head = out[0].split("\t")
        return [dict(zip(head, line.split("\t"))) for line in out[1:]]


def ids_of(got):
    return [g["headers"]["webhook-id"] for g in got]
