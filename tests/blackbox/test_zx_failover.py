"""Database failover (issue 7): a fleetpki host on a primary with a
synchronous streaming standby, both on loopback, through one multi-host
libpq URL (`postgresql://h1,h2/fleetpki?target_session_attrs=read-write`).
Under a stream of issuances the primary is killed with SIGKILL and the
standby promoted: requests answer 503 for the outage (never hang, never
another status), then succeed against the new primary; every certificate
answered 201 before the kill is on the new primary (synchronous
replication: zero loss), and none is answered twice."""

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import helpers
from conftest import free_ports, read_env
from helpers import Client, scripts_down, scripts_up

CERTS = "/x509/v1/certificates"


def pg_bin(name):
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not hits:
        pytest.skip(f"no PostgreSQL {name}")
    return hits[-1]


def as_pg(*cmd, check=True, timeout=120):
    """Run a PostgreSQL program as the postgres user (as ourselves when not root)."""
    if os.getuid() == 0:
        cmd = ("runuser", "-u", "postgres", "--") + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check:
        assert r.returncode == 0, (cmd, r.stdout[-2000:], r.stderr[-2000:])
    return r


def psql(port, sql, db="postgres"):
    return as_pg("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                 str(port), "-U", "postgres", "-d", db, "-Atc", sql).stdout.strip()


class Cluster:
    def __init__(self, base, name, port):
        self.data = base / name
        self.port = port
        self.log = base / f"{name}.log"

    def start(self):
        as_pg(pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
              "-o", f"-p {self.port} -k {self.data}", "start")

    def pid(self):
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self):
        if (self.data / "postmaster.pid").exists():
            as_pg(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop",
                  check=False)


@pytest.fixture(scope="module")
def replicated(stack):
    """A primary and a synchronous standby on loopback, with fleetpki's
    database and its two roles."""
    if not stack.owned:
        pytest.skip("an external stack: no replicated PostgreSQL is started beside it")
    base = Path(tempfile.mkdtemp(prefix="fleetpki-failover-", dir="/tmp"))
    os.chmod(base, 0o711)
    p1, p2 = free_ports(2)
    primary, standby = Cluster(base, "primary", p1), Cluster(base, "standby", p2)
    try:
        if os.getuid() == 0:
            shutil.chown(base, "postgres")
        as_pg(pg_bin("initdb"), "-D", str(primary.data), "-U", "postgres", "-A", "trust",
              "-E", "UTF8", "--locale=C.UTF-8")
        with open(primary.data / "postgresql.conf", "a") as f:
            f.write("listen_addresses = '127.0.0.1'\n"
                    "wal_level = replica\nmax_wal_senders = 4\n"
                    "synchronous_commit = on\n")
        primary.start()
        psql(p1, "CREATE ROLE fleetpki_owner LOGIN NOSUPERUSER NOBYPASSRLS")
        psql(p1, "CREATE ROLE fleetpki_app LOGIN NOSUPERUSER NOBYPASSRLS")
        psql(p1, "CREATE ROLE fleetpki_report NOLOGIN")
        psql(p1, "CREATE DATABASE fleetpki OWNER fleetpki_owner")
        as_pg(pg_bin("pg_basebackup"), "-D", str(standby.data), "-X", "stream", "-R", "-c", "fast",
              "-d", f"host=127.0.0.1 port={p1} user=postgres application_name=standby1")
        standby.start()
        # Synchronous from now on: a commit waits for the standby's flush.
        # (Set before the standby exists, the setup's own commits would wait.)
        psql(p1, "ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
        psql(p1, "SELECT pg_reload_conf()")
        deadline = time.monotonic() + 60
        while psql(p1, "SELECT sync_state FROM pg_stat_replication "
                       "WHERE application_name = 'standby1'") != "sync":
            assert time.monotonic() < deadline, "the standby never became synchronous"
            time.sleep(0.2)
        yield primary, standby
    finally:
        standby.stop()
        primary.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def host(replicated):
    primary, standby = replicated
    hosts = f"127.0.0.1:{primary.port},127.0.0.1:{standby.port}"
    query = "target_session_attrs=read-write&connect_timeout=3"
    d = Path(tempfile.mkdtemp(prefix="fleetpki-failover-host-", dir="/tmp"))
    os.chmod(d, 0o711)
    https, http = free_ports(2)
    r = scripts_up(d, "--port", str(https), "--http-port", str(http), "--workers", "2",
                   "--database-url", f"postgresql://fleetpki_owner@{hosts}/fleetpki?{query}",
                   "--app-database-url", f"postgresql://fleetpki_app@{hosts}/fleetpki?{query}")
    try:
        assert r.returncode == 0, r.stderr[-4000:]
        yield read_env(d / "env"), d
    finally:
        scripts_down(d)
        shutil.rmtree(d, ignore_errors=True)


class Stream:
    """Issuances one after another on a thread, every answer recorded."""

    def __init__(self, client, token, csrs):
        self.client, self.token, self.csrs = client, token, csrs
        self.answers = []  # (status, fingerprint or None, monotonic time)
        self.errors = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        i = 0
        while not self.stop.is_set():
            csr = self.csrs[i % len(self.csrs)]
            i += 1
            try:
                r = self.client.post(CERTS, {"csr": csr}, token=self.token, timeout=30)
            except Exception as e:  # a hang or a dropped connection: a failure
                self.errors.append(repr(e))
                continue
            fp = r.json().get("certificateFingerprint") if r.status == 201 else None
            self.answers.append((r.status, fp, time.monotonic()))
            if r.status != 201:
                time.sleep(0.05)

    def count(self, status, after=0.0):
        return sum(1 for s, _, t in self.answers if s == status and t >= after)

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while not pred():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            assert self.thread.is_alive()
            time.sleep(0.1)


def test_failover_loses_nothing(replicated, host, work):
    primary, standby = replicated
    env, d = host
    client = Client(env)
    cli = helpers.env_without_fleetpki()
    tok = subprocess.run([str(Path(env["FLEETPKI_BIN"]) / "fleetpki"), "--config",
                          env["FLEETPKI_CONFIG"], "token", "--tenant", "default"],
                         capture_output=True, text=True, check=True, env=cli).stdout.strip()
    csrs = [work.csr(subject=f"/CN=failover {i}") for i in range(4)]
    s = Stream(client, tok, csrs)
    s.thread.start()
    try:
        s.wait(lambda: s.count(201) >= 20, 120, "20 issuances on the primary")
        killed_at = time.monotonic()
        os.kill(primary.pid(), signal.SIGKILL)
        s.wait(lambda: s.count(503, killed_at) >= 3, 60, "503 during the outage")
        as_pg(pg_bin("pg_ctl"), "-D", str(standby.data), "-w", "-t", "60", "promote")
        promoted_at = time.monotonic()
        s.wait(lambda: s.count(201, promoted_at) >= 20, 120,
               "20 issuances on the promoted standby")
    finally:
        s.stop.set()
        s.thread.join(timeout=60)
    assert not s.errors, s.errors[:5]
    statuses = {st for st, _, _ in s.answers}
    assert statuses <= {201, 503}, statuses
    answered = [fp for st, fp, _ in s.answers if st == 201]
    # None answered twice.
    assert len(answered) == len(set(answered))
    # Every certificate answered 201 is on the new primary.
    on_new = set(psql(standby.port, "SELECT fingerprint FROM certificates",
                      db="fleetpki").split())
    missing = [fp for fp in answered if fp not in on_new]
    assert not missing, f"{len(missing)} answered certificates lost: {missing[:3]}"
    serials = psql(standby.port, "SELECT count(*) - count(DISTINCT (ca_id, serial)) "
                                 "FROM certificates", db="fleetpki")
    assert serials == "0"
