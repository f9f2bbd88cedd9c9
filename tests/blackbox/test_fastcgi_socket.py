"""fleetpkid's FastCGI socket (issue 6, hardening): only nginx reaches it,
and silent connections cost a worker a bounded time, so clients that reach
the socket cannot stop the service by holding connections open."""

import os
import socket
import stat
import struct
import subprocess
from pathlib import Path

import pytest


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


FCGI_BEGIN_REQUEST = 1


def test_stalled_connections_are_dropped(stack, client):
    """Clients that send part of a record and stop hold a worker only until
    the read deadline: more of them than there are workers, and /api/health
    still answers through nginx; fleetpkid closes each stalled connection."""
    path = socket_path(stack)
    begin = struct.pack(">BBHHBB", 1, FCGI_BEGIN_REQUEST, 1, 8, 0, 0)
    stalled = []
    try:
        for _ in range(WORKERS + 1):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(120)
            s.connect(path)
            # Three bytes of an 8-byte record header: a reader waits for more.
            s.sendall(begin[:3])
            stalled.append(s)
        r = client.get("/api/health", timeout=120)
        assert r.status == 200, r
        for s in stalled:
            assert s.recv(1) == b"", "a stalled connection was kept open"
    finally:
        for s in stalled:
            s.close()
