"""fleetpki-worker's job queue (issue 6): the CRL refresh runs as a job,
scheduled once however many workers run; failed jobs are retried by the
operator (`fleetpki job list|show|retry`); a job whose worker died is taken
over when its lease runs out."""

import signal
import subprocess
import time

import pytest

from helpers import psql as _psql, random_name, second_worker_config, wait_until


def psql(env, sql):
    return _psql(env.get("FLEETPKI_DATABASE_URL"), sql)

JOB_FIELDS = ["id", "kind", "key", "tenant_id", "state", "attempts", "max_attempts",
              "run_at", "lease_until", "locked_by", "created_at", "updated_at",
              "finished_at", "args", "last_error"]




def job_list(cli):
    """`fleetpki job list` as dicts: one line per job, tab-separated."""
    rows = []
    for line in cli.run("job", "list", "--limit", "1000").stdout.splitlines():
        f = line.split("\t")
        assert len(f) == 6, line
        attempts, max_attempts = f[3].split("/")
        rows.append({"id": int(f[0]), "kind": f[1], "state": f[2],
                     "attempts": int(attempts), "max_attempts": int(max_attempts),
                     "run_at": f[4], "last_error": f[5]})
    return rows


def job_show(cli, job_id):
    out = cli.run("job", "show", job_id).stdout
    fields = dict(line.split(": ", 1) for line in out.splitlines())
    assert list(fields) == JOB_FIELDS, out
    return fields


def insert_job(env, **cols):
    names = ", ".join(cols)
    values = ", ".join(v if v.startswith(("now()", "'")) or v.isdigit() else f"'{v}'"
                       for v in cols.values())
    return int(psql(env, f"INSERT INTO jobs ({names}) VALUES ({values}) RETURNING id"))


def test_crl_refresh_is_a_scheduled_job(cli):
    """The worker's first pass runs crl.refresh at once and queues the next
    run: one queued row, however often the schedulers pass."""
    done = wait_until(lambda: [j for j in job_list(cli) if j["kind"] == "crl.refresh"
                               and j["state"] == "done"], 120, "a crl.refresh job done")
    j = job_show(cli, done[0]["id"])
    assert j["state"] == "done" and j["key"] == "-" and j["tenant_id"] == "-"
    assert int(j["attempts"]) >= 1
    assert j["finished_at"] != "-" and j["lease_until"] == "-"
    assert ":pki" in j["locked_by"], j


def test_show_and_retry_refuse_what_is_not_there(cli):
    for args in (["job", "show", "abc"], ["job", "show", "0"], ["job", "retry", "-1"],
                 ["job", "show", "9223372036854775807"], ["job", "retry", "9223372036854775807"]):
        r = cli.run(*args, check=False)
        assert r.returncode != 0, args
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = cli.run("job", "show", "9223372036854775807", check=False)
    assert "no job" in r.stderr


def test_retry_makes_a_failed_job_run_now(cli, env):
    key = "bb-retry-" + random_name()
    job_id = insert_job(env, kind="crl.refresh", key=key, state="failed", attempts="3",
                        max_attempts="3", last_error="injected by the test",
                        finished_at="now()")
    assert job_show(cli, job_id)["state"] == "failed"
    listed = [j for j in job_list(cli) if j["id"] == job_id]
    assert listed and listed[0]["state"] == "failed"
    assert listed[0]["last_error"] == "injected by the test"
    assert listed[0]["attempts"] == 3

    r = cli.run("job", "retry", job_id)
    assert f"job {job_id} runnable now" in r.stdout
    # The NOTIFY wakes a worker; the job runs and succeeds.
    j = wait_until(lambda: (lambda f: f if f["state"] == "done" else None)(
        job_show(cli, job_id)), 120, f"job {job_id} done")
    assert j["attempts"] == "1"
    # A done job is not retried.
    r = cli.run("job", "retry", job_id, check=False)
    assert r.returncode == 1
    assert f"job {job_id} is done" in r.stderr


def test_retry_refuses_a_second_queued_job(cli, env):
    """One queued job per kind and key: retrying a failed one while another
    is pending is refused, and changes nothing."""
    key = "bb-dup-" + random_name()
    failed = insert_job(env, kind="crl.refresh", key=key, state="failed", attempts="3",
                        max_attempts="3", finished_at="now()")
    insert_job(env, kind="crl.refresh", key=key, state="pending",
               run_at="now() + interval '1 day'")
    r = cli.run("job", "retry", failed, check=False)
    assert r.returncode == 1
    assert "already queued" in r.stderr
    assert job_show(cli, failed)["state"] == "failed"
    psql(env, f"DELETE FROM jobs WHERE key = '{key}'")


def test_expired_lease_is_taken_over(cli, env):
    """A job held by a worker that died (its lease ran out) is claimed again
    and finished by a live worker."""
    key = "bb-lease-" + random_name()
    job_id = insert_job(env, kind="crl.refresh", key=key, state="running", attempts="1",
                        max_attempts="3", locked_by="dead-host:1:pki",
                        lease_until="now() - interval '1 second'")
    psql(env, "SELECT pg_notify('fleetpki_jobs', 'crl.refresh')")
    j = wait_until(lambda: (lambda f: f if f["state"] == "done" else None)(
        job_show(cli, job_id)), 120, f"job {job_id} taken over")
    assert j["locked_by"] != "dead-host:1:pki"
    assert j["attempts"] == "2"
    assert "lease expired" in j["last_error"]


def test_last_attempt_lost_lease_fails_for_good(cli, env):
    key = "bb-dead-" + random_name()
    job_id = insert_job(env, kind="crl.refresh", key=key, state="running", attempts="3",
                        max_attempts="3", locked_by="dead-host:1:pki",
                        lease_until="now() - interval '1 second'")
    psql(env, "SELECT pg_notify('fleetpki_jobs', 'crl.refresh')")
    j = wait_until(lambda: (lambda f: f if f["state"] == "failed" else None)(
        job_show(cli, job_id)), 120, f"job {job_id} failed")
    assert "lease expired" in j["last_error"]
    assert j["attempts"] == "3"


def test_two_workers_share_one_schedule(owned, cli, env, tmp_path):
    """A second fleetpki-worker (another host, as far as the queue can
    tell) runs beside the stack's: the CRL refresh stays one queued job."""
    stack = owned
    conf = tmp_path / "worker2.conf"
    second_worker_config(cli.config, conf)
    log = open(tmp_path / "worker2.log", "w")
    p = subprocess.Popen([str(stack.cli.bin / "fleetpki-worker"), "--config", str(conf),
                          "--pid-file", str(tmp_path / "worker2.pid")],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         env=stack.cli.env)
    try:
        wait_until(lambda: "running pki jobs" in (tmp_path / "worker2.log").read_text(),
                   60, "the second worker's job runner")
        for _ in range(10):
            n = psql(env, "SELECT count(*) FROM jobs WHERE kind = 'crl.refresh' "
                          "AND key = '' AND state IN ('pending', 'running')")
            assert int(n) <= 1, n
            time.sleep(0.3)
        assert p.poll() is None
    finally:
        p.terminate()
        assert p.wait(timeout=60) == 0
        log.close()
    assert "stopped" in (tmp_path / "worker2.log").read_text()


def test_reload_applies_the_log_level(owned, cli, tmp_path):
    """SIGHUP re-reads the configuration, log_level included (fleetpkid's
    master did; fleetpki-worker now shares its code): debug lines appear
    only after the reload."""
    stack = owned
    conf = tmp_path / "worker.conf"
    text = second_worker_config(cli.config, conf)
    logf = tmp_path / "worker3.log"
    log = open(logf, "w")
    p = subprocess.Popen([str(stack.cli.bin / "fleetpki-worker"), "--config", str(conf)],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         env=stack.cli.env)
    try:
        wait_until(lambda: "running pki jobs" in logf.read_text(), 60,
                   "the worker's job runner")
        assert " debug: " not in logf.read_text()
        lines = [line for line in text.splitlines()
                 if not line.startswith("log_level")]
        conf.write_text("\n".join(lines + ["log_level = debug"]) + "\n")
        p.send_signal(signal.SIGHUP)
        wait_until(lambda: "configuration reloaded" in logf.read_text(), 60, "the reload")
        # The replaced job runner's start is logged at debug level.
        wait_until(lambda: " debug: job runner 0 started" in logf.read_text(), 60,
                   "a debug line")
        assert "running pki jobs" in logf.read_text().split("configuration reloaded")[1]
    finally:
        p.terminate()
        assert p.wait(timeout=60) == 0
        log.close()
