"""fleetpki-worker: the CRL job."""

from helpers import Crl, pid_alive_in, serial


def config_with(cli, tmp_path, **settings):
    """A copy of the stack's config with 'settings' replaced or added."""
    lines = []
    for line in open(cli.config).read().splitlines():
        key = line.split("=", 1)[0].strip()
        if key in settings:
            continue
        lines.append(line)
    lines += [f"{k} = {v}" for k, v in settings.items()]
    conf = tmp_path / "worker.conf"
    conf.write_text("\n".join(lines) + "\n")
    conf.chmod(0o600)
    return conf


def test_worker_runs(stack):
    assert pid_alive_in(stack.dir / "run/fleetpki-worker.pid")


def test_once_leaves_fresh_crls_alone(cli, make_tenant):
    t = make_tenant()
    before = Crl(t.crl_pem())
    cli.run("--once", program="fleetpki-worker", timeout=120)
    after = Crl(t.crl_pem())
    assert after.number == before.number
    assert after.pem == before.pem


def test_once_regenerates_crls_within_the_margin(cli, make_tenant, tmp_path, work):
    t = make_tenant()
    ca = t.ca_pem()
    fp, pem = t.issue(work.csr("p256"))
    assert t.delete(f"/x509/v1/certificates/{fp}").status == 204
    before = t.crl_with(serial(pem))
    # A refresh margin longer than the validity: every CRL is due.
    conf = config_with(cli, tmp_path, crl_validity=86400, crl_refresh_margin=172800)
    cli.run("--once", program="fleetpki-worker", config=conf, timeout=120)
    after = Crl(t.crl_pem())
    assert after.number > before.number
    assert after.serials == before.serials
    assert after.verifies_with(ca, work)


def test_crl_history_is_bounded(cli, make_tenant, tmp_path, work, env):
    """The worker keeps the newest crl_history CRLs of each CA (sql/015):
    the newest is still served, CRL numbers still grow."""
    from helpers import psql

    t = make_tenant()
    for i in range(4):
        fp, pem = t.issue(work.csr("p256", subject=f"/CN=history {i}"))
        assert t.delete(f"/x509/v1/certificates/{fp}").status == 204
        t.crl_with(serial(pem))
    url = env["FLEETPKI_DATABASE_URL"]
    q = (f"SELECT count(*), max(l.crl_number) FILTER (WHERE base_number IS NULL) "
         f"FROM crls l JOIN tenants t ON "
         f"t.id = l.tenant_id WHERE t.name = '{t.name}'")
    count, newest = map(int, psql(url, q).split("|"))
    assert count >= 5  # the CA's first CRL and one a revocation at least
    conf = config_with(cli, tmp_path, crl_history=2)
    cli.run("--once", program="fleetpki-worker", config=conf, timeout=120)
    # Per kind (sql/027): the newest two complete CRLs, the newest two
    # deltas, and the newest base whatever its age (the deltas need it).
    q2 = (f"SELECT count(*) FILTER (WHERE base_number IS NULL AND NOT is_base), "
          f"count(*) FILTER (WHERE base_number IS NOT NULL), "
          f"count(*) FILTER (WHERE is_base), "
          f"max(crl_number) FILTER (WHERE base_number IS NULL) FROM crls l "
          f"JOIN tenants t ON t.id = l.tenant_id WHERE t.name = '{t.name}'")
    plain, deltas, bases, newest2 = map(int, psql(url, q2).split("|"))
    assert plain <= 2 and plain + bases <= 3 and deltas == 2 and bases == 1
    assert newest2 >= newest
    crl = Crl(t.crl_pem())
    assert crl.number == newest2 and len(crl.serials) == 4


def test_expired_certificates_leave_the_crl(cli, make_tenant, tmp_path, work, env):
    """A revoked certificate stays on the CRL until crl_expired_keep after
    its notAfter, then leaves it (RFC 5280 3.3); OCSP still knows it."""
    from helpers import psql

    t = make_tenant()
    fp_old, pem_old = t.issue(work.csr("p256", subject="/CN=expired"))
    fp_new, pem_new = t.issue(work.csr("p256", subject="/CN=current"))
    for fp in (fp_old, fp_new):
        assert t.delete(f"/x509/v1/certificates/{fp}").status == 204
    t.crl_with(serial(pem_old), serial(pem_new))
    # As if the first had expired ten days ago.
    psql(env["FLEETPKI_DATABASE_URL"],
         f"UPDATE certificates SET not_after = now() - interval '10 days' "
         f"WHERE fingerprint = '{fp_old}'")
    # Kept 30 days: still listed at the next CRL.
    conf = config_with(cli, tmp_path, crl_expired_keep=30 * 86400, crl_refresh_margin=172800,
                       crl_validity=86400)
    cli.run("--once", program="fleetpki-worker", config=conf, timeout=120)
    assert {serial(pem_old), serial(pem_new)} <= Crl(t.crl_pem()).serials
    # Kept a day: gone from the next one; the other stays.
    conf = config_with(cli, tmp_path, crl_expired_keep=86400, crl_refresh_margin=172800,
                       crl_validity=86400)
    cli.run("--once", program="fleetpki-worker", config=conf, timeout=120)
    crl = Crl(t.crl_pem())
    assert serial(pem_new) in crl.serials and serial(pem_old) not in crl.serials
    assert crl.verifies_with(t.ca_pem(), work)


def test_a_crl_lacking_a_revocation_is_due(cli, make_tenant, work, env):
    """A revocation no job announced (written behind the app's back, as a
    revocation that committed while a CRL was being signed looks to the
    worker) still makes its CA due: the newest CRL's count of revocations
    differs (sql/014, asked of CAs with recent revocations, sql/017)."""
    from helpers import psql

    t = make_tenant()
    fp, pem = t.issue(work.csr("p256", subject="/CN=unannounced"))
    before = Crl(t.crl_pem())
    psql(env["FLEETPKI_DATABASE_URL"],
         f"INSERT INTO revocations (certificate_id, tenant_id, ca_id, serial, reason) "
         f"SELECT id, tenant_id, ca_id, serial, 1 FROM certificates WHERE fingerprint = '{fp}'")
    due = psql(env["FLEETPKI_DATABASE_URL"],
               f"SELECT count(*) FROM fleetpki_crl_due(0, 0, 0, true) d JOIN tenants t ON t.id = d.tenant_id "
               f"WHERE t.name = '{t.name}'")
    # Due, unless the stack's own worker's scheduled pass issued it already.
    assert due == "1" or serial(pem) in Crl(t.crl_pem()).serials
    # The stack's worker or this one-shot run issues it, whichever is first.
    cli.run("--once", program="fleetpki-worker", timeout=120)
    after = t.crl_with(serial(pem))
    assert after.number > before.number


def test_idle_job_runners_sleep(stack):
    """A job class with nothing queued sleeps until a NOTIFY or its tick:
    the revinfo child (whose one kind, ocsp.purge, is only ever queued by
    a revocation) once woke at once forever, because "when is the next
    job due" said 0 for none (greatest() skips a NULL), spinning a core
    between itself and PostgreSQL.  Each pass waits on the database a few
    times, so a spinning child switches context thousands of times a
    second, an idle one a handful.  Sampled up to four times, so a real
    job running meanwhile cannot fail it."""
    import subprocess
    import time

    sup = int((stack.dir / "run/fleetpki-worker.pid").read_text().split()[0])
    kids = [int(p) for p in subprocess.run(["pgrep", "-P", str(sup)], capture_output=True,
                                           text=True).stdout.split()]
    assert kids

    def switches(pid):
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
        raise AssertionError(f"no voluntary_ctxt_switches for {pid}")

    busy = {}
    for _ in range(4):
        before = {p: switches(p) for p in kids}
        time.sleep(3)
        busy = {p: switches(p) - before[p] for p in kids}
        busy = {p: n for p, n in busy.items() if n > 300}
        if not busy:
            break
    assert not busy, f"worker children waking while idle (switches in 3 s): {busy}"
