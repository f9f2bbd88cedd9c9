"""The admin portal in a real browser (issue 9): headless Debian chromium
driven by playwright-core (package.json) through tests/browser/portal.mjs:
log in, a wrong password, create a device and read its secret, see it
listed, import a CSV, open the device, disable it, see the expiry chart,
log out, and a CSRF attempt without the token refused.  Screenshots go
to this test's tmp_path (printed)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import psql, random_name
from portal_helpers import PASSWORD, make_operator

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests/browser/portal.mjs"
CHROMIUM = "/usr/bin/chromium"


def test_portal_in_a_browser(stack, tmp_path):
    node = shutil.which("node")
    if node is None or not Path(CHROMIUM).exists():
        pytest.fail("the browser test needs node and /usr/bin/chromium (scripts/lib.sh)")
    if not (REPO / "node_modules/playwright-core").is_dir():
        pytest.fail("node_modules/playwright-core is missing: run npm ci (scripts/check does)")
    tenant = random_name()
    stack.cli.run("tenant", "create", tenant)
    name = make_operator(stack.cli, tenant)
    # Devices holding certificates (as the worker leaves them): three
    # expiring in week 2 from now, one in week 10, for the chart.
    held = {f"held-{tenant[-8:].lower()}-{i}": days
            for i, days in enumerate((15, 16, 20, 73))}
    for dev in held:
        stack.cli.run("device", "add", "--tenant", tenant, "--id", dev)
    for dev, days in held.items():
        psql(stack.env["FLEETPKI_DATABASE_URL"],
             f"UPDATE enroll_devices SET state = 'issued', not_after = now() + "
             f"interval '{days} days 1 hour' WHERE device_id = '{dev}'")
    prefix = "br" + random_name("")[-8:].lower().replace("_", "-")
    csv = tmp_path / "devices.csv"
    ids = [f"{prefix}-{i:04d}" for i in range(1, 1201)] + ["Not_Valid", f"{prefix}-0001"]
    csv.write_text("id\n" + "\n".join(ids) + "\n")
    shots = tmp_path / "screenshots"
    env = dict(os.environ, PORTAL_URL=stack.env["FLEETPKI_URL"], PORTAL_TENANT=tenant,
               PORTAL_NAME=name, PORTAL_PASSWORD=PASSWORD, PORTAL_PREFIX=prefix,
               PORTAL_CSV=str(csv), PORTAL_EXPECT_ADDED="1200", PORTAL_EXPECT_WEEKS="2:3,10:1",
               PORTAL_SHOTS=str(shots), CHROMIUM=CHROMIUM)
    r = subprocess.run([node, str(SCRIPT)], cwd=REPO, env=env, capture_output=True,
                       text=True, timeout=300, stdin=subprocess.DEVNULL)
    print(f"\nscreenshots in {shots}")
    print(r.stdout)
    assert r.returncode == 0, f"{SCRIPT.name} failed:\n{r.stdout}\n{r.stderr}"
    assert len(list(shots.glob("*.png"))) >= 8
