"""fleetpkid's FastCGI socket (issue 6, hardening): only nginx reaches it,
and a connection that never sends a whole request costs a worker a bounded
time, so clients that reach the socket cannot stop the service by holding
connections open."""

import os
import socket
import stat
import struct
import subprocess
import time
from pathlib import Path

import pytest

from cm_helpers import free_port

WORKERS = 2  # the stack's (conftest runs scripts/up --workers 2)


def conf_value(stack, key):
    for line in (stack.dir / "fleetpki.conf").read_text().splitlines():
        k, sep, v = line.partition("=")
        if sep and k.strip() == key:
            return v.strip()
    return None


def socket_path(stack):
    listen = conf_value(stack, "listen")
    if not listen or not listen.startswith("/"):
        pytest.skip(f"fleetpkid listens on {listen}, not a unix socket")
    return listen


def test_socket_is_for_nginx_only(stack):
    """scripts/up: DIR/run is 0700 and the socket 0600; nginx's workers run
    as the stack's user.  Another local user cannot connect."""
    path = socket_path(stack)
    run = Path(path).parent
    assert stat.S_IMODE(os.stat(run).st_mode) & 0o077 == 0, oct(os.stat(run).st_mode)
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, oct(os.stat(path).st_mode)
    if os.getuid() != 0:
        return
    # As 'nobody': refused by the directory, before the socket's own mode.
    probe = ("import socket, sys\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "try:\n"
             "    s.connect(sys.argv[1])\n"
             "except PermissionError:\n"
             "    sys.exit(3)\n")
    r = subprocess.run(["runuser", "-u", "nobody", "--", "python3", "-c", probe, path],
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 3, (r.returncode, r.stderr)


def test_idle_connections_do_not_stop_the_service(stack, client):
    """More silent connections than workers, held open: /api/health still
    answers through nginx while they are open."""
    path = socket_path(stack)
    idle = []
    try:
        for _ in range(WORKERS + 2):
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            idle.append(s)
        r = client.get("/api/health", timeout=60)
        assert r.status == 200, r
        assert r.json()["status"] == "ok"
    finally:
        for s in idle:
            s.close()


# ---- a FastCGI client, for talking to fleetpkid without nginx -------------

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 3, 4, 5, 6


def record(rtype, content, req_id=1):
    pad = -len(content) % 8
    return (struct.pack(">BBHHBB", 1, rtype, req_id, len(content), pad, 0)
            + content + b"\0" * pad)


def nv(name, value):
    name, value = name.encode(), value.encode()
    assert len(name) < 128 and len(value) < 128
    return bytes([len(name), len(value)]) + name + value


def fcgi_get(sock, uri):
    """Send a whole GET request; return fleetpkid's answer (the CGI-style
    head and body) once it has ended the request."""
    params = b"".join(nv(k, v) for k, v in (
        ("REQUEST_METHOD", "GET"), ("REQUEST_URI", uri), ("QUERY_STRING", ""),
        ("SERVER_PROTOCOL", "HTTP/1.1"), ("REMOTE_ADDR", "127.0.0.1"),
        ("CONTENT_LENGTH", "")))
    sock.sendall(record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))
                 + record(FCGI_PARAMS, params) + record(FCGI_PARAMS, b"")
                 + record(FCGI_STDIN, b""))
    out, buf = b"", b""
    while True:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before the end of the request: {out!r}"
        buf += chunk
        while len(buf) >= 8:
            _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", buf[:8])
            if len(buf) < 8 + clen + plen:
                break
            content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
            if rtype == FCGI_STDOUT:
                out += content
            elif rtype == FCGI_END_REQUEST:
                return out


@pytest.fixture
def tcp_fleetpkid(owned, tmp_path):
    """A second fleetpkid of the stack's, with one worker, listening on
    loopback TCP (as in Docker), where the deadline comes from the
    listening socket."""
    stack = owned
    port = free_port()
    conf = tmp_path / "fleetpki.conf"
    lines = [line for line in (stack.dir / "fleetpki.conf").read_text().splitlines()
             if line.partition("=")[0].strip() not in ("listen", "workers", "pid_file")]
    lines += [f"listen = 127.0.0.1:{port}", "workers = 1",
              f"pid_file = {tmp_path}/fleetpkid.pid"]
    conf.write_text("\n".join(lines) + "\n")
    conf.chmod(0o600)
    log = open(tmp_path / "fleetpkid.log", "w")
    p = subprocess.Popen([str(stack.cli.bin / "fleetpkid"), "--config", str(conf)],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         env=stack.cli.env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
                break
            except OSError:
                assert p.poll() is None, (tmp_path / "fleetpkid.log").read_text()
                assert time.monotonic() < deadline, "fleetpkid did not listen"
                time.sleep(0.2)
        yield port
    finally:
        p.terminate()
        p.wait(timeout=60)
        log.close()


def test_stalled_connection_is_dropped(tcp_fleetpkid):
    """A client that sends part of a record and stalls holds the only
    worker until the read deadline, then the worker serves the next
    connection; the stalled one is closed."""
    port = tcp_fleetpkid
    stalled = socket.create_connection(("127.0.0.1", port), timeout=120)
    ok = socket.create_connection(("127.0.0.1", port), timeout=120)
    try:
        # Three bytes of an 8-byte record header: libfcgi waits for more.
        # It connected first: the worker accepts it first.
        stalled.sendall(record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0))[:3])
        answer = fcgi_get(ok, "/api/health")
        assert b'"ok"' in answer, answer
        # The stalled connection was given up on: closed by fleetpkid.
        assert stalled.recv(1) == b""
    finally:
        stalled.close()
        ok.close()
