"""Black-box harness: one real fleetpki stack per pytest session.

The session fixture 'stack' runs scripts/up into a fresh directory under /tmp
on free loopback ports (2 workers, rate limit on): a private PostgreSQL
cluster, nginx, fleetpkid and fleetpki-worker, exactly as a person would run
them.  It stops everything with scripts/down at the end, also when tests
fail or the run is interrupted.

Environment:
  FLEETPKI_BUILD_DIR   binaries to test (scripts/check sets it); default:
                       scripts/up builds ./build itself
  FLEETPKI_NO_BUILD=1  pass --no-build to scripts/up (scripts/check sets it)
  FLEETPKI_TEST_KEEP=1 keep the stack's directory (logs, data) afterwards
  FLEETPKI_TEST_ENV    path of a running stack's DIR/env: test that stack
                       instead of starting one (disruptive tests skip)

Tests that must run late are in files named so that pytest collects them
last: test_y_resilience.py (kills workers, restarts PostgreSQL),
test_zy_expired_token.py (waits out the JWT leeway), test_zz_ratelimit.py
(empties the rate-limit bucket), test_zzz_shutdown.py (stops fleetpkid and
checks the logs for sanitizer reports).
"""

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import helpers
from helpers import Client, Workdir, random_name, sanitizer_report

REPO = Path(__file__).resolve().parents[2]
UP_TIMEOUT = 1800
METRICS_TOKEN = "mt-" + os.urandom(16).hex()  # the first scripts/up may install packages and build


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1."""
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


def read_env(path):
    env = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip()
    return env


class Cli:
    """The fleetpki binaries of the stack under test."""

    def __init__(self, env):
        self.bin = Path(env["FLEETPKI_BIN"])
        self.config = env["FLEETPKI_CONFIG"]
        self.env = helpers.env_without_fleetpki()
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=0")

    def run(self, *args, check=True, config=True, program="fleetpki",
            timeout=180, env=None):
        cmd = [str(self.bin / program)]
        if config is True:
            cmd += ["--config", self.config]
        elif config:
            cmd += ["--config", str(config)]
        cmd += [str(a) for a in args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=env or self.env, stdin=subprocess.DEVNULL)
        bad = sanitizer_report(r.stderr)
        assert bad is None, f"{' '.join(cmd)}: sanitizer report: {bad}\n{r.stderr}"
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}: "
                                 f"{r.stderr.strip()}")
        return r

    def token(self, tenant, ttl=3600):
        return self.run("token", "--tenant", tenant, "--ttl", ttl).stdout.strip()


class Stack:
    def __init__(self, env, owned, started_at):
        self.env = env
        self.owned = owned          # started by this session: may be disrupted
        self.dir = Path(env["FLEETPKI_DIR"])
        self.started_at = started_at
        self.client = Client(env)
        self.cli = Cli(env)
        self.token = env["FLEETPKI_TOKEN"]
        self.tenant = env["FLEETPKI_TENANT"]
        self.short_token = None     # --ttl 1, minted right after start-up
        self.short_token_at = None

    def logs(self):
        return sorted(self.dir.glob("log/*.log")) + sorted(self.dir.glob("nginx/logs/*.log"))

    def master_pid(self):
        return int((self.dir / "run/fleetpkid.pid").read_text().split()[0])

    def _children(self):
        r = subprocess.run(["pgrep", "-P", str(self.master_pid())],
                           capture_output=True, text=True)
        kids = []
        for p in r.stdout.split():
            try:
                comm = Path(f"/proc/{p}/comm").read_text().strip()
            except OSError:
                continue  # gone meanwhile
            kids.append((int(p), comm))
        return kids

    def worker_pids(self):
        """The master's FastCGI workers (not its signer)."""
        return sorted(p for p, comm in self._children() if comm != "fleetpki-signer")

    def signer_pids(self):
        """The master's signer process (a list: none while it is respawned)."""
        return sorted(p for p, comm in self._children() if comm == "fleetpki-signer")


def _run_up(dirpath):
    https, http, pg, wmetrics = free_ports(4)
    cmd = ["bash", str(REPO / "scripts/up"), "--dir", str(dirpath),
           "--port", str(https), "--http-port", str(http), "--pg-port", str(pg),
           "--workers", "2", "--rate-limit", "on",
           # The challenge tests serve tokens on 127.0.0.2 (and probe
           # 127.0.0.3): loopback is denied by default, so re-allow it.
           "--set", "outbound_allow=127.0.0.0/8",
           # test_metrics.py: the token for non-loopback scrapers and
           # fleetpki-worker's metrics listener.
           "--set", f"metrics_token={METRICS_TOKEN}",
           "--set", f"worker_metrics_listen=127.0.0.1:{wmetrics}"]
    if os.environ.get("FLEETPKI_BUILD_DIR"):
        cmd += ["--build-dir", os.environ["FLEETPKI_BUILD_DIR"]]
    if os.environ.get("FLEETPKI_NO_BUILD") == "1":
        cmd.append("--no-build")
    env = helpers.env_without_fleetpki()
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=UP_TIMEOUT,
                       env=env, stdin=subprocess.DEVNULL, cwd=REPO)
    return r, time.monotonic() - t0


def _run_down(dirpath):
    subprocess.run(["bash", str(REPO / "scripts/down"), "--dir", str(dirpath)],
                   capture_output=True, text=True, timeout=180,
                   env=helpers.env_without_fleetpki(), stdin=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def stack():
    external = os.environ.get("FLEETPKI_TEST_ENV")
    if external:
        env = read_env(external)
        env.setdefault("FLEETPKI_DIR", str(Path(external).parent))
        yield Stack(env, owned=False, started_at=time.time())
        return

    d = Path(tempfile.mkdtemp(prefix="fleetpki-bb-", dir="/tmp"))
    os.chmod(d, 0o711)  # PostgreSQL runs as the postgres user: it must reach d
    stopped = []

    def stop():
        if not stopped:
            stopped.append(True)
            _run_down(d)

    atexit.register(stop)
    r, took = _run_up(d)
    if r.returncode != 0:
        stop()
        logs = ""
        for f in sorted(d.glob("log/*.log")) + sorted(d.glob("nginx/logs/error.log")):
            logs += f"\n--- {f} (last lines)\n" + "\n".join(
                f.read_text(errors="replace").splitlines()[-25:])
        pytest.exit(f"scripts/up failed (exit {r.returncode}) in {d}:\n"
                    f"{r.stderr[-4000:]}{logs}", returncode=1)
    env = read_env(d / "env")
    st = Stack(env, owned=True, started_at=time.time())
    # A token that expires at once, used by test_zy_expired_token.py after
    # the leeway has passed.
    st.short_token = st.cli.token(st.tenant, ttl=1)
    st.short_token_at = time.time()
    print(f"\nfleetpki stack in {d} (scripts/up took {took:.1f}s)")
    try:
        yield st
    finally:
        stop()
        if os.environ.get("FLEETPKI_TEST_KEEP") == "1":
            print(f"\nkept {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def env(stack):
    return stack.env


@pytest.fixture(scope="session")
def client(stack):
    return stack.client


@pytest.fixture(scope="session")
def cli(stack):
    return stack.cli


@pytest.fixture(scope="session")
def token(stack):
    return stack.token


@pytest.fixture
def owned(stack):
    """Tests that stop or kill parts of the stack run only on their own."""
    if not stack.owned:
        pytest.skip("disruptive test: not run against FLEETPKI_TEST_ENV")
    return stack


@pytest.fixture
def work(tmp_path):
    return Workdir(tmp_path)


class Tenant:
    def __init__(self, name, token, client):
        self.name = name
        self.token = token
        self.client = client

    def get(self, path, **kw):
        return self.client.get(path, token=self.token, **kw)

    def post(self, path, body=None, **kw):
        return self.client.post(path, body=body, token=self.token, **kw)

    def delete(self, path, **kw):
        return self.client.delete(path, token=self.token, **kw)

    def issue(self, csr_pem):
        """POST a CSR; returns (fingerprint, certificate PEM)."""
        r = self.post("/x509/v1/certificates", {"csr": csr_pem})
        assert r.status == 201, f"issue: {r!r}"
        b = r.json()
        return b["certificateFingerprint"], b["certificatePem"]

    def ca_pem(self):
        r = self.get("/x509/v1/ca")
        assert r.status == 200, r
        return r.json()["caPem"]

    def crl_pem(self):
        r = self.get("/x509/v1/ca/crl")
        assert r.status == 200, r
        return r.json()["crl"]

    def crl_with(self, *serials):
        """The CRL once the worker has put 'serials' in it."""
        return helpers.crl_with(self.crl_pem, *serials)


@pytest.fixture(scope="session")
def make_tenant(stack):
    """A fresh tenant with one CA (its default) and a token for it."""

    def make(key="ec-p256"):
        name = random_name()
        stack.cli.run("tenant", "create", name)
        stack.cli.run("ca", "create", "--tenant", name, "--name", "ca1", "--key", key)
        return Tenant(name, stack.cli.token(name), stack.client)

    return make


@pytest.fixture(scope="session")
def default_tenant(stack):
    return Tenant(stack.tenant, stack.token, stack.client)
