"""Device profiles (issue 8): `fleetpki profile create`."""

import re

import pytest

from helpers import psql
from secsvc_helpers import make_secsvc_tenant


@pytest.fixture(scope="module")
def t(stack):
    return make_secsvc_tenant(stack)


def test_profile_create_prints_uid_last(stack, t):
    out = stack.cli.run("profile", "create", "--tenant", t.name, "--name", "Line A").stdout
    uid = out.splitlines()[-1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", uid), out
    row = psql(t.url, f"SELECT tenant_id, name FROM device_profiles WHERE uid = '{uid}'")
    assert row == f"{t.id}|Line A"


def test_profile_names_are_unique_per_tenant_and_case_sensitive(stack, t):
    t.profile("dup")
    t.profile("DUP")
    r = stack.cli.run("profile", "create", "--tenant", t.name, "--name", "dup", check=False)
    assert r.returncode == 1 and "has a profile named 'dup'" in r.stderr
    other = make_secsvc_tenant(stack)
    other.profile("dup")


def test_seeded_devices(t):
    uid = t.profile()
    rots = t.seed_devices(5, profile=uid)
    assert len(rots) == 5 and all(re.fullmatch(r"[0-9A-F]{16}", r) for r in rots)
    assert psql(t.url, f"SELECT count(*) FROM devices WHERE profile_id = {t.profile_id(uid)}") == "5"
