"""fleetpki device seal / block / unblock (issue 8, docs/README-device.md):
one device or a production log in one set-based go, the secret printed
once and stored sealed only, every log line recorded (duplicates too),
bad lines refused with a reason, a ROT sealed once across tenants."""

import os
import re
import secrets

from helpers import psql, random_name
from secsvc_helpers import make_secsvc_tenant


def rot():
    return secrets.token_hex(8).upper()


def seal(stack, t, *args, check=True):
    return stack.cli.run("device", "seal", "--tenant", t.name, *args, check=check)


def test_seal_one_prints_secret_once_and_stores_it_sealed(stack):
    t = make_secsvc_tenant(stack)
    prof = t.profile()
    r = rot().lower()
    out = seal(stack, t, "--profile", prof, "--rot", r, "--serial", "SN-1",
               "--imei", "356938035643809").stdout
    lines = out.splitlines()
    secret = lines[-1]
    assert re.fullmatch(r"[0-9a-f]{64}", secret), out
    assert r.upper() in lines[0]
    url = t.url
    row = psql(url, f"SELECT tenant_id, serial, imei, state, profile_id, "
                    f"encode(secret_sealed, 'hex') FROM devices WHERE rot = '{r.upper()}'")
    tid, serial, imei, state, pid, sealed = row.split("|")
    assert (int(tid), serial, imei, state) == (t.id, "SN-1", "356938035643809", "SEALED")
    assert int(pid) == t.profile_id(prof)
    # stored sealed, never in clear
    assert secret not in sealed and len(sealed) > 64
    # printed once: sealing again is refused and prints no secret
    r2 = seal(stack, t, "--rot", r, "--serial", "SN-1", check=False)
    assert r2.returncode == 1 and "sealed already" in r2.stderr
    assert not re.search(r"[0-9a-f]{64}", r2.stdout + r2.stderr)
    # the single seal is not a production log
    assert psql(url, f"SELECT count(*) FROM device_prod_log WHERE rot = '{r.upper()}'") == "0"


def test_seal_one_without_profile_and_bad_input(stack):
    t = make_secsvc_tenant(stack)
    r = rot()
    out = seal(stack, t, "--rot", r, "--serial", "X").stdout
    assert psql(t.url, f"SELECT profile_id IS NULL FROM devices WHERE rot = '{r}'") == "t"
    assert re.fullmatch(r"[0-9a-f]{64}", out.splitlines()[-1])
    for args, msg in [
        (["--rot", "123", "--serial", "X"], "16 hex digits"),
        (["--rot", rot(), "--serial", "S" * 17], "DeviceSerialNumber"),
        (["--rot", rot(), "--serial", "X", "--imei", "12a"], "IMEI"),
        (["--rot", rot(), "--serial", "X", "--profile", "nosuchprofile123"], "no profile"),
        (["--rot", rot()], "--serial"),
    ]:
        res = seal(stack, t, *args, check=False)
        assert res.returncode != 0, args
        assert msg in res.stderr, (args, res.stderr)
    assert psql(t.url, f"SELECT count(*) FROM devices WHERE tenant_id = {t.id}") == "1"


def test_rot_sealed_in_one_tenant_only(stack):
    a, b = make_secsvc_tenant(stack), make_secsvc_tenant(stack)
    r = rot()
    seal(stack, a, "--rot", r, "--serial", "A")
    res = seal(stack, b, "--rot", r, "--serial", "B", check=False)
    assert res.returncode == 1 and "sealed already" in res.stderr
    assert psql(a.url, f"SELECT tenant_id FROM devices WHERE rot = '{r}'") == str(a.id)


def test_seal_batch(stack, tmp_path):
    t = make_secsvc_tenant(stack)
    prof = t.profile()
    rots = [rot() for _ in range(2500)]
    lines = ["ROTPublicUID,DeviceSerialNumber,IMEI,DeviceProfileUID,SCLSerialNumber"]
    for i, r in enumerate(rots):
        serial = "DUP-1" if i in (3, 4) else f"S{i}"
        lines.append(f"{r},{serial},{'35693803564%04d' % i if i % 2 else ''},{prof},SCL{i}")
    dup = rots[10]
    lines.append(f"{dup},S-dup,,{prof},SCL-dup")         # a duplicated ROT
    lines.append("nothex,S-bad,,,")                       # bad ROT
    lines.append(f"{rot()},{'T' * 17},,,")                # serial too long
    lines.append(f"{rot()},S-noprof,,unknownprofile99,")  # unknown profile
    lines.append(f"{rot()},S-imei,12x,,")                 # bad IMEI
    log = tmp_path / "production-log.csv"
    log.write_text("\n".join(lines) + "\n")
    out_file = tmp_path / "secrets.txt"
    res = seal(stack, t, "--from", log, "--secrets-out", out_file)
    assert "2505 lines, 2500 devices sealed, 5 lines refused" in res.stdout, res.stdout
    err = res.stderr
    for n, why in [(2503, "16 hex digits"), (2504, "DeviceSerialNumber"),
                   (2505, "no profile"), (2506, "IMEI"), (2502, "sealed already")]:
        assert f"line {n}: " in err and why in err, (n, err)
    # not a terminal: no progress bar
    assert "sealing [" not in err
    # the secrets file: 0600, one ROT,SECRET line per device sealed
    assert (os.stat(out_file).st_mode & 0o777) == 0o600
    got = dict(line.split(",") for line in out_file.read_text().splitlines())
    assert set(got) == set(rots)
    assert all(re.fullmatch(r"[0-9a-f]{64}", s) for s in got.values())
    url = t.url
    assert psql(url, f"SELECT count(*) FROM devices WHERE tenant_id = {t.id}") == "2500"
    assert psql(url, f"SELECT count(*) FROM devices WHERE tenant_id = {t.id} "
                     f"AND profile_id = {t.profile_id(prof)}") == "2500"
    # every line in the production log, duplicates and bad lines too
    assert psql(url, f"SELECT count(*), count(DISTINCT batch) FROM device_prod_log "
                     f"WHERE tenant_id = {t.id}") == "2505|1"
    assert psql(url, f"SELECT count(*) FROM device_prod_log WHERE tenant_id = {t.id} "
                     f"AND rot = '{dup}'") == "2"
    assert psql(url, f"SELECT count(*) FROM devices WHERE tenant_id = {t.id} "
                     f"AND serial = 'DUP-1'") == "2"
    # the first line of a duplicated ROT won
    assert psql(url, f"SELECT serial, scl_serial FROM devices WHERE rot = '{dup}'") == "S10|SCL10"
    # the secrets file must be new: an existing one is never overwritten
    res = seal(stack, t, "--from", log, "--secrets-out", out_file, check=False)
    assert res.returncode == 1 and "must not exist" in res.stderr


def test_seal_batch_with_root_secrets_and_no_secrets_file(stack, tmp_path):
    t = make_secsvc_tenant(stack)
    r1, r2 = rot(), rot()
    s1 = secrets.token_hex(32)
    log = tmp_path / "log.csv"
    log.write_text(f"DeviceSerialNumber,RootSecret,ROTPublicUID\nA,{s1},{r1}\nB,,{r2}\nC,zz,{rot()}\n")
    res = seal(stack, t, "--from", log)
    assert "3 lines, 1 devices sealed, 2 lines refused" in res.stdout
    assert "RootSecret" in res.stderr
    assert s1 not in res.stdout
    # without a RootSecret column the secrets need a file
    log2 = tmp_path / "log2.csv"
    log2.write_text(f"ROTPublicUID,DeviceSerialNumber\n{rot()},A\n")
    res = seal(stack, t, "--from", log2, check=False)
    assert res.returncode == 1 and "--secrets-out" in res.stderr
    log3 = tmp_path / "log3.csv"
    log3.write_text("ROTPublicUID,Serial\n")
    res = seal(stack, t, "--from", log3, "--secrets-out", tmp_path / "x", check=False)
    assert res.returncode == 1 and "unknown column" in res.stderr


def test_block_unblock(stack):
    t = make_secsvc_tenant(stack)
    r = rot()
    seal(stack, t, "--rot", r, "--serial", "B1")
    run = stack.cli.run
    assert "blocked" in run("device", "block", "--tenant", t.name, r.lower()).stdout
    assert psql(t.url, f"SELECT blocked_at IS NOT NULL FROM devices WHERE rot = '{r}'") == "t"
    res = run("device", "block", "--tenant", t.name, r, check=False)
    assert res.returncode == 1 and "already" in res.stderr
    run("device", "unblock", "--tenant", t.name, r)
    assert psql(t.url, f"SELECT blocked_at IS NULL FROM devices WHERE rot = '{r}'") == "t"
    assert psql(t.url, f"SELECT string_agg(payload->>'To', ',' ORDER BY id) FROM events "
                       f"WHERE rot = '{r}' AND type = 'DEVICE_STATE_CHANGE'") == "BLACKLISTED,SEALED"
    # another tenant's device is not found
    other = make_secsvc_tenant(stack)
    res = run("device", "block", "--tenant", other.name, r, check=False)
    assert res.returncode == 1 and "has no device" in res.stderr
    res = run("device", "block", "--tenant", t.name, "xyz", check=False)
    assert res.returncode == 1 and "16 hex digits" in res.stderr


def test_seal_batch_progress_bar_on_a_terminal(stack, tmp_path):
    """stderr a terminal: a progress bar; stdout still the plain summary."""
    import pty
    import subprocess

    t = make_secsvc_tenant(stack)
    log = tmp_path / "log.csv"
    log.write_text("ROTPublicUID,DeviceSerialNumber\n"
                   + "".join(f"{rot()},S{i}\n" for i in range(1500)))
    master, slave = pty.openpty()
    cmd = [str(stack.cli.bin / "fleetpki"), "--config", stack.cli.config, "device", "seal",
           "--tenant", t.name, "--from", str(log), "--secrets-out", str(tmp_path / "s")]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                       env=stack.cli.env, timeout=180, text=True)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert r.returncode == 0, err
    assert "1500 devices sealed" in r.stdout and "sealing [" not in r.stdout
    err = err.decode()
    assert "sealing [" in err and "1000/1500" in err and "1500/1500" in err, err
