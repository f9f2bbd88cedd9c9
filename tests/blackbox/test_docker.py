"""docker-compose.yml stays valid (Docker itself cannot run here)."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def compose(*args):
    exe = shutil.which("docker-compose")
    if not exe:
        pytest.fail("docker-compose is not installed (scripts/check installs it)")
    return subprocess.run([exe, "-f", str(REPO / "docker-compose.yml"), *args],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          stdin=subprocess.DEVNULL)


def test_compose_config_is_valid():
    r = compose("config", "-q")
    assert r.returncode == 0, r.stderr


def test_compose_services():
    r = compose("config", "--services")
    assert r.returncode == 0, r.stderr
    assert set(r.stdout.split()) == {"postgres", "app", "nginx"}


def test_dockerfile_and_entrypoints_exist():
    assert (REPO / "Dockerfile").is_file()
    for shell, f in (("bash", "docker/entrypoint.sh"), ("sh", "docker/nginx-entrypoint.sh"),
                     ("sh", "nginx/render")):
        p = REPO / f
        assert p.is_file(), f
        r = subprocess.run([shell, "-n", str(p)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
