"""Last: fleetpkid drains and exits on SIGTERM, nginx then answers 502 JSON,
and no process logged a sanitizer report during the whole run."""

import os
import signal
import time

from helpers import assert_json_error, pid_alive_in, sanitizer_report


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigterm_drains_and_exits(owned, client):
    stack = owned
    master = stack.master_pid()
    workers = stack.worker_pids()
    os.kill(master, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(p) for p in [master] + workers):
        time.sleep(0.1)
    assert not any(alive(p) for p in [master] + workers), "fleetpkid did not exit"
    r = client.get("/api/health")
    assert_json_error(r, 502)
    # The worker process is still there (it is stopped by scripts/down).
    assert pid_alive_in(stack.dir / "run/fleetpki-worker.pid")


def test_no_sanitizer_reports(stack):
    found = []
    for f in stack.logs():
        line = sanitizer_report(f.read_text(errors="replace"))
        if line:
            found.append(f"{f.name}: {line}")
    assert not found, "\n".join(found)


def test_no_worker_died_unexpectedly(stack):
    """The master logs each worker it reaps; the only death allowed is the
    SIGKILL of test_y_resilience.py (no input may crash a worker)."""
    import re
    text = (stack.dir / "log/fleetpkid.log").read_text(errors="replace")
    signals = re.findall(r"worker pid \d+ killed by signal (\d+)", text)
    statuses = [s for s in re.findall(r"worker pid \d+ exited with status (\d+)", text)
                if s != "0"]
    assert signals.count("9") <= 1 and set(signals) <= {"9"}, signals
    assert not statuses, statuses
    assert "crashing young" not in text
