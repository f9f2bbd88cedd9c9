"""Shared by the security-services tests (issue 8): a tenant with an API
key and an AuthToken, profiles through the CLI, and devices seeded in bulk
straight into the registry (as the owner, set-based) for the routes that
only read or tag them.  Devices that must speak the device protocol are
sealed with `fleetpki device seal` instead: a seeded device's root secret
is a placeholder that opens nowhere."""

import secrets

from helpers import psql, random_name


class SecsvcTenant:
    """A tenant of the security-services dialect, signed in."""

    def __init__(self, stack, name=None):
        self.stack = stack
        self.client = stack.client
        self.url = stack.env["FLEETPKI_DATABASE_URL"]
        self.name = name or random_name()
        stack.cli.run("tenant", "create", self.name)
        self.id = int(psql(self.url, f"SELECT id FROM tenants WHERE name = '{self.name}'"))
        out = stack.cli.run("apikey", "create", "--tenant", self.name).stdout.split()
        self.key, self.secret = out[1], out[3]
        r = self.client.post("/authenticate", {"APIKey": self.key, "APISecret": self.secret})
        assert r.status == 200, r
        self.auth_token = r.json()["AuthToken"]
        self.refresh_token = r.json()["RefreshToken"]

    def post(self, path, body=None, token=None, **kw):
        return self.client.post(path, body=body, token=token or self.auth_token, **kw)

    def profile(self, name=None):
        """A new device profile: its DeviceProfileUID (the CLI's last line)."""
        out = self.stack.cli.run("profile", "create", "--tenant", self.name,
                                 "--name", name or random_name("p")).stdout
        return out.splitlines()[-1]

    def profile_id(self, uid):
        return int(psql(self.url, f"SELECT id FROM device_profiles WHERE uid = '{uid}'"))

    def seed_devices(self, n, profile=None, serial=None, state="SEALED"):
        """'n' devices in one statement; returns their ROTs (upper-case hex).
        'serial' None gives each its own; a string gives them all that one
        (for the duplicated-serial reports)."""
        base = secrets.randbits(40) << 20
        prof = f"(SELECT id FROM device_profiles WHERE uid = '{profile}')" if profile else "NULL"
        ser = f"'{serial}'" if serial else "'S' || lpad(to_hex(" + str(base) + " + g), 15, '0')"
        rows = psql(self.url, f"""
            INSERT INTO devices (tenant_id, rot, profile_id, serial, secret_sealed, state)
            SELECT {self.id}, upper(lpad(to_hex({base}::bigint + g), 16, '0')), {prof},
                   {ser}, '\\x00'::bytea, '{state}'
            FROM generate_series(1, {int(n)}) g
            RETURNING rot""")
        return rows.splitlines()


def make_secsvc_tenant(stack, name=None):
    return SecsvcTenant(stack, name)
