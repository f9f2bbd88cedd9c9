"""GET /metrics (issue 10): fleetpkid's counters through nginx and on its
FastCGI socket, fleetpki-worker's on its own loopback listener.  Every
scrape must pass `promtool check metrics`; counters move with requests and
are the host's, not one worker's; a non-loopback peer needs the token."""

import re
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers import assert_json_error

PROMTOOL = "/usr/bin/promtool"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def conf_value(stack, key):
    for line in (stack.dir / "fleetpki.conf").read_text().splitlines():
        k, sep, v = line.partition("=")
        if sep and k.strip() == key:
            return v.strip()
    return None


def promtool_ok(text):
    """promtool check metrics passes (exit 0, nothing reported)."""
    if not Path(PROMTOOL).exists():
        pytest.fail(f"{PROMTOOL} missing: apt-get install prometheus")
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", \
        (r.returncode, r.stdout, r.stderr, text[:2000])


def parse(text):
    """{(name, frozenset(labels)): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, line
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        key = (m.group(1), labels)
        assert key not in out, f"duplicate series: {line}"
        out[key] = float(m.group(4))
    return out


def value(samples, name, **labels):
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def scrape(client):
    r = client.get("/metrics", token=None)
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers
    return r.text


# ---- fleetpkid's FastCGI socket, driven directly ---------------------------

def _fcgi_record(rtype, content, req_id=1):
    return struct.pack(">BBHHBB", 1, rtype, req_id, len(content), 0, 0) + content


def _fcgi_pairs(params):
    out = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        for n in (len(k), len(v)):
            out += bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
        out += k + v
    return out


def fcgi_get(path, sock_path, remote_addr, authorization=None):
    """GET 'path' over FastCGI as if nginx had a peer 'remote_addr'.
    Returns (status, headers dict, body bytes)."""
    params = {"REQUEST_METHOD": "GET", "REQUEST_URI": path, "SCRIPT_NAME": path,
              "QUERY_STRING": "", "REMOTE_ADDR": remote_addr,
              "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_LENGTH": ""}
    if authorization is not None:
        params["HTTP_AUTHORIZATION"] = authorization
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    try:
        s.connect(sock_path)
        s.sendall(_fcgi_record(1, struct.pack(">HB5x", 1, 0))
                  + _fcgi_record(4, _fcgi_pairs(params)) + _fcgi_record(4, b"")
                  + _fcgi_record(5, b""))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    stdout, i = b"", 0
    while i + 8 <= len(data):
        _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", data[i:i + 8])
        if rtype == 6:
            stdout += data[i + 8:i + 8 + clen]
        i += 8 + clen + plen
        if rtype == 3:
            break
    head, _, body = stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n"):
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body


@pytest.fixture
def fcgi_socket(stack):
    listen = conf_value(stack, "listen")
    if not listen or not listen.startswith("/"):
        pytest.skip(f"fleetpkid listens on {listen}, not a unix socket")
    return listen


# ---- fleetpki-worker's listener --------------------------------------------

def worker_addr(stack):
    where = conf_value(stack, "worker_metrics_listen")
    if not where:
        pytest.skip("worker_metrics_listen is not set on this stack")
    host, _, port = where.rpartition(":")
    return host, int(port)


def raw_http(addr, data, timeout=30):
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:])}
    return status, headers, body


def worker_scrape(stack):
    status, headers, body = raw_http(worker_addr(stack),
                                     b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200, (status, body[:300])
    assert headers["connection"] == "close"
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    assert int(headers["content-length"]) == len(body)
    return body.decode()


# ---- tests ------------------------------------------------------------------

def test_scrape_passes_promtool(client):
    text = scrape(client)
    promtool_ok(text)
    s = parse(text)
    for family in ("fleetpki_http_requests_total", "fleetpki_ocsp_responses_total",
                   "fleetpki_certificates_issued_total", "fleetpki_db_errors_total",
                   "fleetpki_http_request_duration_seconds", "fleetpki_jobs",
                   "fleetpki_webhook_deliveries", "fleetpki_db_reconnects_total"):
        assert f"# TYPE {family} " in text, family
    assert value(s, "fleetpki_queue_stats_up") == 1
    # Every dialect's issuance counter exists, at least at 0.
    assert ("fleetpki_certificates_issued_total", frozenset({("dialect", "x509")})) in s
    for st in ("pending", "retrying", "dead"):
        assert ("fleetpki_webhook_deliveries", frozenset({("state", st)})) in s


def test_plain_http_listener_serves_loopback(client):
    r = client.get("/metrics", plain=True, token=None)
    assert r.status == 200, r
    promtool_ok(r.text)


def test_issuance_and_routes_by_pattern(client, default_tenant, work):
    before = parse(scrape(client))
    fp, pem = default_tenant.issue(work.csr())
    # A matched route with a parameter: counted under its pattern.
    missing = "ab" * 32
    r = default_tenant.get(f"/x509/v1/certificates/{missing}")
    assert r.status == 404, r
    text = scrape(client)
    promtool_ok(text)
    after = parse(text)
    issued = ("fleetpki_certificates_issued_total", frozenset({("dialect", "x509")}))
    assert after[issued] == before.get(issued, 0) + 1
    assert value(after, "fleetpki_http_requests_total", route="/x509/v1/certificates",
                 method="POST", status="201", dialect="x509") >= 1
    assert value(after, "fleetpki_http_requests_total", route="/x509/v1/certificates/{}",
                 method="GET", status="404") >= 1
    assert missing not in text and fp not in text
    assert value(after, "fleetpki_http_request_duration_seconds_count",
                 route="/x509/v1/certificates", method="POST") >= 1


def test_ocsp_counts_by_status(client, env, default_tenant, work):
    _, pem = default_tenant.issue(work.csr())
    cert = work.write("cert", pem)
    ca = work.write("ca", default_tenant.ca_pem())
    before = parse(scrape(client))
    r = subprocess.run(["openssl", "ocsp", "-issuer", str(ca), "-cert", str(cert),
                        "-url", env["FLEETPKI_HTTP_URL"] + "/ocsp", "-noverify"],
                       capture_output=True, text=True, timeout=60)
    assert ": good" in r.stdout, (r.stdout, r.stderr)
    bad = client.post("/ocsp", b"not DER", plain=True,
                      headers={"Content-Type": "application/ocsp-request"})
    assert bad.status == 200, bad
    after = parse(scrape(client))
    for st in ("good", "malformed_request"):
        k = ("fleetpki_ocsp_responses_total", frozenset({("status", st)}))
        assert after[k] == before[k] + 1, st
    k = ("fleetpki_ocsp_responses_total", frozenset({("status", "revoked")}))
    assert after[k] == before[k]


def test_counts_are_shared_by_the_workers(client):
    """Requests served by both workers at once sum up in one scrape, and
    every scrape (whichever worker answers it) shows the same total."""
    key = dict(route="/api/health", method="GET", status="200")
    before = value(parse(scrape(client)), "fleetpki_http_requests_total", **key)
    n, errors = 24, []

    def hit():
        for _ in range(n // 8):
            r = client.get("/api/health", token=None)
            if r.status != 200:
                errors.append(r)

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    totals = {value(parse(scrape(client)), "fleetpki_http_requests_total", **key)
              for _ in range(6)}
    assert totals == {before + n}, (before, totals)


def test_non_loopback_peer_needs_the_token(stack, fcgi_socket):
    token = conf_value(stack, "metrics_token")
    assert token, "conftest sets metrics_token"
    status, _, body = fcgi_get("/metrics", fcgi_socket, "203.0.113.9")
    assert status == 403, body
    assert b"loopback" in body and b"# TYPE" not in body
    for wrong in ("Bearer " + token + "x", "Bearer " + token[:-1], token,
                  "Basic " + token, "Bearer "):
        status, _, body = fcgi_get("/metrics", fcgi_socket, "203.0.113.9", wrong)
        assert status == 403, (wrong, body)
    status, headers, body = fcgi_get("/metrics", fcgi_socket, "203.0.113.9",
                                     "Bearer " + token)
    assert status == 200, body
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    promtool_ok(body.decode())
    # IPv6 loopback and IPv4-mapped loopback need none.
    for addr in ("::1", "::ffff:127.0.0.1", "127.0.0.5"):
        status, _, _ = fcgi_get("/metrics", fcgi_socket, addr)
        assert status == 200, addr
    # Not loopback, however it is spelled.
    for addr in ("::ffff:10.0.0.1", "1270.0.0.1", ""):
        status, _, _ = fcgi_get("/metrics", fcgi_socket, addr)
        assert status == 403, addr


def test_refused_scrape_is_json_through_nginx(client):
    r = client.post("/metrics", {"a": 1}, token=None)
    assert r.status == 405, r
    assert_json_error(r, 405)


def test_worker_endpoint(stack):
    text = worker_scrape(stack)
    promtool_ok(text)
    s = parse(text)
    assert "# TYPE fleetpki_worker_jobs_total counter" in text
    assert "# TYPE fleetpki_webhook_delivery_lag_seconds histogram" in text
    assert ("fleetpki_webhook_delivery_lag_seconds_bucket",
            frozenset({("le", "+Inf")})) in s
    for res in ("delivered", "failed_retry", "failed_dead", "gone"):
        assert ("fleetpki_webhook_delivery_attempts_total",
                frozenset({("result", res)})) in s
    # The scheduled jobs run at start and every worker_interval: the
    # counters of the children reach the listener child.
    deadline = time.time() + 120
    while value(s, "fleetpki_worker_jobs_total", result="ok") == 0:
        assert time.time() < deadline, "no job counted by the worker"
        time.sleep(2)
        s = parse(worker_scrape(stack))


def test_worker_endpoint_refuses_what_it_does_not_serve(stack):
    addr = worker_addr(stack)
    status, h, body = raw_http(addr, b"GET /other HTTP/1.1\r\n\r\n")
    assert status == 404 and h["connection"] == "close", body
    assert body.startswith(b'{"message"')
    status, h, _ = raw_http(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    assert status == 405 and h["allow"] == "GET"
    status, _, _ = raw_http(addr, b"GARBAGE\r\n\r\n")
    assert status == 400
    status, _, _ = raw_http(addr, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
    assert status == 431
    # A silent client is dropped after the read deadline; meanwhile the
    # listener still answers the next connection after it.
    s = socket.create_connection(addr, timeout=60)
    try:
        s.sendall(b"GET /met")
        assert s.recv(1) == b""
    finally:
        s.close()
    worker_scrape(stack)
