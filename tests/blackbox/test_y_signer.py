"""The signer: CA keys and the master key live in one small process of
fleetpkid, never in the workers that parse what clients send.

- a worker's memory holds neither the master key (raw or as the config's
  hex) nor a CA's private scalar, while the signer's holds both (so the
  search is one that finds them);
- every signature is logged by the signer with the worker that asked, and
  only the signer opens CA keys;
- the signer refuses a key id that is no CA, and a peer that is not one of
  the master's workers;
- a stopped signer makes requests answer 503 (the worker's deadline), not
  hang; a killed one is respawned and requests work again.

Runs late (file name): the last test stops and kills the signer.
"""

import os
import re
import signal
import socket
import struct
import time

import pytest

from helpers import assert_json_error, psql as _psql, random_name, wait_until
from cm_helpers import make_cm_tenant, ocsp_query  # noqa: F401 (a fixture)

try:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.serialization import load_der_private_key
except ImportError:  # pragma: no cover - python3-cryptography is a dependency
    AESGCM = None




def psql(stack, sql):
    return _psql(stack.env["FLEETPKI_DATABASE_URL"], sql)

def master_key(stack):
    text = (stack.dir / "fleetpki.conf").read_text()
    m = re.search(r"^\s*master_key\s*=\s*([0-9a-fA-F]{64})\s*$", text, re.M)
    assert m, "no master_key in fleetpki.conf"
    return bytes.fromhex(m.group(1))



def ca_scalar(stack, tenant):
    """The private scalar of 'tenant's default CA, unsealed as the signer
    does it: AES-256-GCM under master_key, AAD ca:<tenant id>:<public id>."""
    if AESGCM is None:
        pytest.skip("no python3-cryptography")
    row = psql(stack, "SELECT c.tenant_id, c.public_id, encode(c.key_sealed, 'hex') "
                      "FROM cas c JOIN tenants t ON t.id = c.tenant_id "
                      f"WHERE t.name = '{tenant}' AND c.is_default")
    tid, public_id, sealed = row.split("|")
    blob = bytes.fromhex(sealed)
    der = AESGCM(master_key(stack)).decrypt(blob[:12], blob[12:],
                                            f"ca:{tid}:{public_id}".encode())
    key = load_der_private_key(der, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey), "the default CA is EC"
    n = (key.curve.key_size + 7) // 8
    return key.private_numbers().private_value.to_bytes(n, "big")


def memory_holds(pid, needles):
    """Which of 'needles' occur anywhere in the readable memory of 'pid'
    (/proc/<pid>/mem over /proc/<pid>/maps; huge reserved ranges such as
    ASan's shadow, and the kernel's vvar/vsyscall, are skipped)."""
    found = set()
    with open(f"/proc/{pid}/maps") as f:
        maps = f.read().splitlines()
    with open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            name = parts[5] if len(parts) > 5 else ""
            if parts[1][0] != "r" or name.startswith("[v") or hi - lo > (1 << 30):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            for label, n in needles.items():
                if n in data:
                    found.add(label)
    return found


def secrets(stack, tenant):
    mk = master_key(stack)
    d = ca_scalar(stack, tenant)
    return {
        "master key": mk,
        "master key hex": mk.hex().encode(),
        "master key HEX": mk.hex().upper().encode(),
        # DER/PKCS#8 copies are big-endian; OpenSSL's BIGNUM limbs are
        # little-endian words, least significant first.
        "CA scalar": d,
        "CA scalar (BIGNUM)": d[::-1],
    }


def exercise(stack, default_tenant, make_cm_tenant, work):
    """Sign a certificate, an OCSP response and unseal a server-made key
    through the workers, so each has touched everything it ever would."""
    for _ in range(4):  # reach both workers, most likely
        default_tenant.issue(work.csr(subject=f"/CN={random_name('sg')}"))
    _, pem = default_tenant.issue(work.csr(subject="/CN=signer probe"))
    res = ocsp_query(work, default_tenant.ca_pem(), certs=[pem],
                     url=stack.env["FLEETPKI_HTTP_URL"] + "/ocsp")
    assert res.rc == 0, res
    u = make_cm_tenant().user()
    serial, _, key_pem = u.issue(domains=["signer-probe.example.com"])
    assert "BEGIN PRIVATE KEY" in key_pem
    return serial


def signer_log(stack):
    return (stack.dir / "log/fleetpkid.log").read_text(errors="replace")


def test_workers_hold_no_key(stack, default_tenant, make_cm_tenant, work):
    exercise(stack, default_tenant, make_cm_tenant, work)
    needles = secrets(stack, default_tenant.name)
    signers = stack.signer_pids()
    assert len(signers) == 1, signers
    # The search finds them where they are: in the signer.
    held = memory_holds(signers[0], needles)
    assert {"master key", "CA scalar (BIGNUM)"} <= held, held
    workers = stack.worker_pids()
    assert len(workers) == 2, workers
    for pid in workers:
        assert memory_holds(pid, needles) == set(), f"worker {pid}"


def test_every_signature_is_logged_by_the_signer(stack, default_tenant, make_cm_tenant, work):
    before = len(signer_log(stack))
    serial = exercise(stack, default_tenant, make_cm_tenant, work)
    log = signer_log(stack)[before:]
    workers = {str(p) for p in stack.worker_pids()}
    lines = re.findall(r"signer\[\d+\] info: signed (\S+) for pid (\d+): tenant \d+ CA \d+, "
                       r"SHA2-256 [0-9a-f]{16}\.\.\.", log)
    kinds = {k for k, _ in lines}
    assert {"certificate", "ocsp"} <= kinds, log
    assert {pid for _, pid in lines} <= workers, (lines, workers)
    # The certificate maker's key: sealed and unsealed by the signer.
    for op in ("sealed", "unsealed"):
        assert re.search(rf"signer\[\d+\] info: {op} 'cert:\d+:\d+:{re.escape(serial)}' for pid",
                         log, re.I), (op, log)
    # Only the signer ever opened a CA key in fleetpkid.
    whole = signer_log(stack)
    opened = re.findall(r"(\w+)\[\d+\] info: opened the key of tenant", whole)
    assert opened and set(opened) == {"signer"}, opened
    assert "signer = off" not in whole


def test_signer_refuses_a_key_id_of_no_ca(stack, make_tenant, work):
    """A worker still holding a CA that is gone from the database asks the
    signer for it: refused, logged, and no certificate."""
    t = make_tenant()
    for _ in range(8):  # each worker most likely caches the CA
        assert t.get("/x509/v1/ca").status == 200
    tid, caid = psql(stack, "SELECT c.tenant_id, c.id FROM cas c JOIN tenants t "
                            f"ON t.id = c.tenant_id WHERE t.name = '{t.name}'").split("|")
    psql(stack, f"DELETE FROM crls WHERE ca_id = {caid}; "
               f"DELETE FROM ca_key_hashes WHERE ca_id = {caid}; DELETE FROM cas WHERE id = {caid}")
    before = len(signer_log(stack))
    refused = re.compile(r"signer\[\d+\] warn: signer: refused to sign certificate for pid \d+: "
                         f"tenant {tid} has no CA {caid}\n")
    for _ in range(20):
        r = t.post("/x509/v1/certificates", {"csr": work.csr(subject="/CN=orphan")})
        assert r.status != 201, r
        if refused.search(signer_log(stack)[before:]):
            break
    assert refused.search(signer_log(stack)[before:]), signer_log(stack)[before:]


def test_signer_refuses_other_peers(stack):
    """Only the master's workers may talk to the signer: this test process
    (same user, not their sibling) is refused at once."""
    master = stack.master_pid()
    names = re.findall(rf"@(fleetpki-signer-{master}-[0-9a-f]+)",
                       open("/proc/net/unix").read())
    assert names, "the signer's abstract socket is not listed"
    before = len(signer_log(stack))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect("\0" + names[0])
        # A well-formed header of a sign request (its body never comes).
        s.sendall(struct.pack(">IHHIHHI", 0x46505347, 1, 1, 1, 0, 0, 40))
        assert s.recv(64) == b"", "the signer answered a stranger"
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    wait_until(lambda: f"refused a connection from pid {os.getpid()} "
               in signer_log(stack)[before:], 10, "the signer's refusal in its log")


def test_stopped_signer_503_killed_signer_respawned(owned, default_tenant, work):
    stack = owned
    csr = work.csr(subject="/CN=signer outage")
    default_tenant.issue(csr)  # the workers are connected to the signer
    old = stack.signer_pids()
    assert len(old) == 1, old
    os.kill(old[0], signal.SIGSTOP)
    try:
        # A signer that does not answer: the worker's deadline, then 503.
        t0 = time.monotonic()
        r = default_tenant.post("/x509/v1/certificates", {"csr": csr}, timeout=30)
        assert_json_error(r, 503)
        assert time.monotonic() - t0 < 30
    finally:
        os.kill(old[0], signal.SIGKILL)
    new = wait_until(lambda: [p for p in stack.signer_pids() if p not in old], 30,
                     "a new signer")
    assert len(new) == 1, new

    def issued():
        fresh = work.csr(subject=f"/CN={random_name('so')}")
        r = default_tenant.post("/x509/v1/certificates", {"csr": fresh}, timeout=30)
        assert r.status in (201, 503), r
        return r.status == 201

    wait_until(issued, 30, "issuance after the signer's respawn")
    log = signer_log(stack)
    assert f"signer pid {old[0]} killed by signal 9" in log

