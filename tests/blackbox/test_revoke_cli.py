"""Mass revocation (issue 12): `fleetpki revoke --tenant T --ca NAME
(--serials FILE | --issued-between FROM TO) --reason R`, set-based, with a
report of the serials it did not find; the worker issues the CRL."""

import datetime
import secrets

from helpers import psql, serial


def issue(t, work, n, prefix):
    pems = []
    for i in range(n):
        _, pem = t.issue(work.csr("p256", subject=f"/CN={prefix} {i}"))
        pems.append(pem)
    return pems


def hexserial(pem):
    return format(serial(pem), "X")


def canon(h):
    """A serial as the CLI reports it: as stored, the integer's bytes in
    upper-case hex (even length, no leading zero byte)."""
    h = h.upper().lstrip("0") or "0"
    return h if len(h) % 2 == 0 else "0" + h


def revoked_in_db(url, tenant, serials):
    lst = ",".join(f"'{s}'" for s in serials)
    return int(psql(url, f"SELECT count(*) FROM revocations r JOIN tenants t ON "
                         f"t.id = r.tenant_id WHERE t.name = '{tenant}' AND "
                         f"ltrim(r.serial, '0') = ANY (ARRAY[{lst}])"))


def test_revoke_serials_from_a_file(make_tenant, cli, env, work, tmp_path):
    t = make_tenant()
    other = make_tenant()
    pems = issue(t, work, 6, "mass")
    theirs = issue(other, work, 1, "theirs")[0]
    hexes = [hexserial(p) for p in pems]
    # Spellings: lower case, colons; a comment, blanks, a duplicate, one
    # unknown serial, one that is no serial, and another tenant's.
    colons = ":".join(hexes[1][i:i + 2] for i in range(0, len(hexes[1]), 2))
    unknown = secrets.token_hex(16).upper()
    lines = ["# batch 7", hexes[0].lower(), colons, "", hexes[2], hexes[2],
             unknown, "not-a-serial", hexserial(theirs), f"  {hexes[3]}  "]
    f = tmp_path / "serials.txt"
    f.write_text("\n".join(lines) + "\n")
    r = cli.run("revoke", "--tenant", t.name, "--ca", "ca1", "--serials", f,
                "--reason", "keyCompromise")
    out = r.stdout.splitlines()
    assert out[-1] == "revoked 4, already revoked 0, not found 3", r.stdout
    assert sorted(out[:-1]) == sorted(f"not found {s}" for s in
                                      (canon(unknown), "not-a-serial", canon(hexserial(theirs))))
    url = env["FLEETPKI_DATABASE_URL"]
    assert revoked_in_db(url, t.name, hexes[:4]) == 4
    assert revoked_in_db(url, t.name, hexes[4:]) == 0
    assert revoked_in_db(url, other.name, [hexserial(theirs)]) == 0
    crl = t.crl_with(*[serial(p) for p in pems[:4]])
    assert not crl.serials & {serial(p) for p in pems[4:]}
    assert crl.verifies_with(t.ca_pem(), work)
    assert "Key Compromise" in crl.text
    # Again: nothing new, all four already revoked.
    r = cli.run("revoke", "--tenant", t.name, "--ca", "ca1", "--serials", f,
                "--reason", "superseded")
    assert r.stdout.splitlines()[-1] == "revoked 0, already revoked 4, not found 3"


def test_revoke_issued_between(make_tenant, cli, work):
    t = make_tenant()
    pems = issue(t, work, 3, "window")
    now = datetime.datetime.now(datetime.timezone.utc)
    before = (now - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    after = (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # A window in the past matches nothing.
    r = cli.run("revoke", "--tenant", t.name, "--ca", "ca1", "--issued-between",
                "2020-01-01", "2020-02-01", "--reason", "superseded")
    assert r.stdout.strip() == "revoked 0, already revoked 0, not found 0"
    r = cli.run("revoke", "--tenant", t.name, "--ca", "ca1", "--issued-between",
                before, after, "--reason", "cessationOfOperation")
    assert r.stdout.strip() == "revoked 3, already revoked 0, not found 0"
    t.crl_with(*[serial(p) for p in pems])


def test_revoke_many_serials_in_one_run(make_tenant, cli, env, work, tmp_path):
    """More serials than one statement carries (CORE_REVOKE_CHUNK): the
    chunks add up, the unknown ones are all reported."""
    t = make_tenant()
    pems = issue(t, work, 3, "chunk")
    junk = [secrets.token_hex(10).upper() for _ in range(12000)]
    f = tmp_path / "many.txt"
    f.write_text("\n".join(junk[:6000] + [hexserial(p) for p in pems] + junk[6000:]))
    r = cli.run("revoke", "--tenant", t.name, "--ca", "ca1", "--serials", f,
                "--reason", "superseded")
    out = r.stdout.splitlines()
    assert out[-1] == "revoked 3, already revoked 0, not found 12000"
    assert len(out) == 12001


def test_revoke_refusals(make_tenant, cli, tmp_path):
    t = make_tenant()
    f = tmp_path / "s.txt"
    f.write_text("0A\n")
    base = ["revoke", "--tenant", t.name]
    cases = [
        (base + ["--ca", "nope", "--serials", f, "--reason", "superseded"], 1, "has no CA 'nope'"),
        (base + ["--ca", "ca1", "--serials", f, "--reason", "stolen"], 1, "unknown reason"),
        (base + ["--ca", "ca1", "--serials", f, "--reason", "removeFromCRL"], 1, "unknown reason"),
        (base + ["--ca", "ca1", "--reason", "superseded"], 1, "usage"),
        (base + ["--ca", "ca1", "--serials", f, "--issued-between", "2020-01-01", "2020-02-01",
                 "--reason", "superseded"], 1, "usage"),
        (base + ["--ca", "ca1", "--issued-between", "2020-01-01", "--reason", "superseded"], 1,
         "usage"),
        (base + ["--ca", "ca1", "--issued-between", "2020-02-30", "2020-03-01", "--reason",
                 "superseded"], 1, "ISO 8601"),
        (base + ["--ca", "ca1", "--issued-between", "2020-03-01", "2020-02-01", "--reason",
                 "superseded"], 1, "after its start"),
        (base + ["--ca", "ca1", "--serials", tmp_path / "missing.txt", "--reason",
                 "superseded"], 1, "missing.txt"),
    ]
    for args, code, why in cases:
        r = cli.run(*args, check=False)
        assert r.returncode == code, (args, r.stderr)
        assert why in r.stderr, (args, r.stderr)
