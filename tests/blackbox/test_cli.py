"""The fleetpki CLI (and the daemons' command lines): help, bad input, migrate."""

import subprocess
import threading

import pytest

from helpers import random_name, sanitizer_report


def one_line_error(r):
    assert r.returncode != 0, (r.args, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"{r.args}: stderr {r.stderr!r}"
    return lines[0]


@pytest.mark.parametrize("args", [
    ["--help"], ["migrate", "--help"], ["tenant", "create", "--help"],
    ["tenant", "show", "--help"], ["tenant", "list", "--help"],
    ["ca", "create", "--help"], ["ca", "list", "--help"], ["token", "--help"],
    ["servercert", "set", "--help"],
    ["job", "list", "--help"], ["job", "show", "--help"], ["job", "retry", "--help"],
])
def test_help(cli, args):
    r = cli.run(*args, config=False)
    assert r.returncode == 0
    assert r.stdout.strip(), f"fleetpki {' '.join(args)}: no help on stdout"


@pytest.mark.parametrize("program", ["fleetpkid", "fleetpki-worker"])
def test_daemon_help(cli, program):
    r = cli.run("--help", config=False, program=program, timeout=30)
    assert r.returncode == 0
    assert r.stdout.strip()


@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["tenant", "create"],
    ["tenant", "create", ""],
    ["tenant", "create", "default"],
    ["tenant", "frobnicate"],
    ["ca", "create", "--name", "x"],
    ["ca", "create", "--tenant", "default"],
    ["ca", "create", "--tenant", "default", "--name", "k1", "--key", "dsa-1024"],
    ["ca", "create", "--tenant", "default", "--name", "k2", "--key", "rsa-1024"],
    ["ca", "create", "--tenant", "default", "--name", "k3", "--days", "abc"],
    ["ca", "create", "--tenant", "default", "--name", "k4", "--days", "-1"],
    ["ca", "create", "--tenant", "no-such-tenant-x", "--name", "x"],
    ["ca", "create", "--tenant", "default", "--name", "default"],
    ["ca", "create", "--tenant", "default", "--name", "k5", "--bogus"],
    ["ca", "list"],
    ["ca", "list", "--tenant", "no-such-tenant-x"],
    ["token"],
    ["token", "--tenant", "no-such-tenant-x"],
    ["token", "--tenant", "default", "--ttl", "abc"],
    ["token", "--tenant", "default", "--ttl", "0"],
    ["token", "--tenant", "default", "--ttl", "2592001"],
    ["servercert", "set", "--server", "api", "--slot", "primary", "--cert"],
    ["migrate", "extra-argument"],
    ["job", "show"],
    ["job", "show", "1", "2"],
    ["job", "show", "x1"],
    ["job", "retry"],
    ["job", "retry", "0"],
    ["job", "list", "--limit", "0"],
    ["job", "list", "--tenant", "default"],
    ["job", "frobnicate"],
])
def test_bad_input_one_line(cli, args):
    one_line_error(cli.run(*args, check=False))


def test_no_command(cli):
    r = cli.run(check=False)
    assert r.returncode != 0


def test_bad_input_changes_nothing(cli):
    before = cli.run("ca", "list", "--tenant", "default").stdout
    for name in ("k1", "k2", "k3", "k4", "k5"):
        assert name not in before.split()
    cli.run("ca", "create", "--tenant", "default", "--name", "k9", "--key", "nope",
            check=False)
    assert cli.run("ca", "list", "--tenant", "default").stdout == before


def test_missing_config(cli, tmp_path):
    one_line_error(cli.run("migrate", config=tmp_path / "nope.conf", check=False))


@pytest.mark.parametrize("line", ["frobnicate = 1", "workers = many", "master_key = 00",
                                  "just some words"])
def test_bad_config_is_refused(cli, tmp_path, line):
    conf = tmp_path / "bad.conf"
    conf.write_text(open(cli.config).read() + line + "\n")
    conf.chmod(0o600)
    one_line_error(cli.run("tenant", "list", config=conf, check=False))


def test_daemons_refuse_unknown_keys(cli, tmp_path):
    conf = tmp_path / "bad.conf"
    text = open(cli.config).read()
    text = "\n".join(l for l in text.splitlines()
                     if not l.strip().startswith(("listen", "pid_file")))
    conf.write_text(text + f"\nlisten = {tmp_path}/x.sock\nfrobnicate = 1\n")
    conf.chmod(0o600)
    for program in ("fleetpkid", "fleetpki-worker"):
        r = cli.run(config=conf, program=program, check=False, timeout=30)
        assert r.returncode != 0
        assert "frobnicate" in r.stderr, r.stderr


def test_tenant_show_and_list(cli):
    assert cli.run("tenant", "show", "default").returncode == 0
    r = cli.run("tenant", "show", "no-such-tenant-x", check=False)
    assert r.returncode == 1
    name = random_name()
    cli.run("tenant", "create", name)
    listed = cli.run("tenant", "list").stdout.split()
    assert "default" in listed and name in listed


def test_ca_create_and_list(cli, make_tenant, work):
    t = make_tenant()
    first = t.get("/x509/v1/ca").json()["certificateFingerprint"]
    cli.run("ca", "create", "--tenant", t.name, "--name", "second", "--key", "rsa-2048",
            "--days", "30")
    assert sorted(cli.run("ca", "list", "--tenant", t.name).stdout.split()) == ["ca1", "second"]
    # The first CA stays the tenant's default.
    assert t.get("/x509/v1/ca").json()["certificateFingerprint"] == first
    one_line_error(cli.run("ca", "create", "--tenant", t.name, "--name", "second",
                           check=False))


def test_config_from_environment(cli):
    env = dict(cli.env, FLEETPKI_CONFIG=cli.config)
    r = cli.run("tenant", "show", "default", config=False, env=env)
    assert r.returncode == 0


def test_token_is_a_jwt(cli):
    tok = cli.token("default", ttl=60)
    assert tok.count(".") == 2 and "\n" not in tok


def test_migrate_twice(cli):
    cli.run("migrate")
    cli.run("migrate")


def test_migrate_concurrently(cli):
    results = [None] * 4

    def run(i):
        results[i] = subprocess.run(
            [str(cli.bin / "fleetpki"), "--config", cli.config, "migrate"],
            capture_output=True, text=True, timeout=120, env=cli.env)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert r.returncode == 0, r.stderr
        assert sanitizer_report(r.stderr) is None, r.stderr
