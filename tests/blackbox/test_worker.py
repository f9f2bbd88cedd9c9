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
