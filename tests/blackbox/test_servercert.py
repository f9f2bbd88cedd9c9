"""GET /api/v2/certificates/{server}/{name}/file|hash (no authentication)."""

import hashlib
import re
import time

import pytest

from helpers import assert_json_error, pem_der

BASE = "/api/v2/certificates"
DISPOSITION_RE = re.compile(r'^attachment;\s*filename="?([^";]+)"?$')


def get(client, path, headers=None):
    """GET, waiting out the rate limit (this file is not about it)."""
    for _ in range(40):
        r = client.get(path, headers=headers)
        if r.status != 429:
            return r
        time.sleep(0.5)
    raise AssertionError(f"{path}: still 429 after 20 s")


@pytest.fixture(scope="module")
def api_pem(env):
    """The bytes scripts/up registered as api/primary: nginx's certificate."""
    with open(env["FLEETPKI_DIR"] + "/tls/server.pem", "rb") as f:
        return f.read()


def self_signed(work, cn):
    key = work.key("p256")
    out = work.file("cert.pem")
    from helpers import openssl
    openssl("req", "-new", "-x509", "-key", str(key), "-subj", f"/CN={cn}",
            "-days", "30", "-out", str(out))
    return out


def filename(r):
    m = DISPOSITION_RE.match(r.headers.get("content-disposition", ""))
    assert m, r.headers
    return m.group(1)


def test_file_pem(client, api_pem):
    r = get(client, f"{BASE}/api/primary/file")
    assert r.status == 200, r
    assert r.body == api_pem
    assert r.content_type and r.content_type != "application/json", r.headers
    assert filename(r).endswith(".pem")
    r2 = get(client, f"{BASE}/api/primary/file?encoding=pem")
    assert r2.status == 200 and r2.body == api_pem


def test_file_der(client, api_pem):
    r = get(client, f"{BASE}/api/primary/file?encoding=der")
    assert r.status == 200, r
    assert r.body == pem_der(api_pem)
    assert filename(r).endswith(".der")
    assert r.content_type and r.content_type != "application/json", r.headers


def test_no_authentication_needed_nor_harmful(client, token, api_pem):
    r = client.get(f"{BASE}/api/primary/file", token=token)
    assert r.status in (200, 429)
    if r.status == 200:
        assert r.body == api_pem


@pytest.mark.parametrize("query,algo,der", [
    ("", "sha256", False),
    ("?algorithm=sha256", "sha256", False),
    ("?algorithm=sha256&encoding=pem", "sha256", False),
    ("?algorithm=md5", "md5", False),
    ("?encoding=der", "sha256", True),
    ("?algorithm=md5&encoding=der", "md5", True),
    ("?encoding=der&algorithm=sha256", "sha256", True),
])
def test_hash(client, api_pem, query, algo, der):
    r = get(client, f"{BASE}/api/primary/hash{query}")
    assert r.status == 200, r
    assert r.content_type == "application/json"
    data = pem_der(api_pem) if der else api_pem
    assert r.json() == {"hash": hashlib.new(algo, data).hexdigest()}


@pytest.mark.parametrize("query", ["?encoding=xml", "?encoding=", "?encoding=PEMX",
                                   "?algorithm=sha1", "?algorithm=", "?algorithm=crc32",
                                   "?algorithm=md5&encoding=base64"])
def test_bad_parameters_are_400_json(client, query):
    for what in ("hash", "file"):
        if what == "file" and "algorithm" in query:
            continue
        assert_json_error(get(client, f"{BASE}/api/primary/{what}{query}"), 400)


@pytest.mark.parametrize("path", ["nope/primary/file", "nope/primary/hash",
                                  "api/tertiary/file", "api/tertiary/hash",
                                  "api/secondary/file", "api/secondary/hash",
                                  "api/primary/other", "api/primary",
                                  "..%2f..%2fetc/primary/file"])
def test_unknown_is_404_json(client, path):
    r = get(client, f"{BASE}/{path}")
    assert_json_error(r, 404)


@pytest.mark.parametrize("query", ["", "?encoding=der", "?algorithm=md5&encoding=pem"])
def test_polls_are_answered_from_nginx_cache(client, api_pem, query):
    """nginx keeps the answers to the spec's query strings for a second."""
    for _ in range(6):
        first = get(client, f"{BASE}/api/primary/hash{query}")
        again = get(client, f"{BASE}/api/primary/hash{query}")
        assert first.status == again.status == 200, (first, again)
        assert again.body == first.body
        if again.headers.get("x-cache") == "HIT":
            return
    raise AssertionError(again.headers)


@pytest.mark.parametrize("query", ["?n=1", "?encoding=pem&encoding=der",
                                   "?%65ncoding=der", "?encoding=pem&x"])
def test_other_query_strings_bypass_nginx_cache(client, api_pem, query):
    """Anything but the spec's parameters reaches fleetpkid uncached: junk
    cannot fill nginx's cache, nor make it answer one query with another's
    bytes (fleetpkid decodes '%65ncoding' as 'encoding')."""
    for _ in range(2):
        r = get(client, f"{BASE}/api/primary/file{query}")
        assert r.headers.get("x-cache") == "BYPASS", (query, r.headers)


def test_etag(client, api_pem):
    r = get(client, f"{BASE}/api/primary/file")
    etag = r.headers.get("etag")
    assert etag, r.headers
    r = get(client, f"{BASE}/api/primary/file", headers={"If-None-Match": etag})
    assert r.status == 304, r
    assert r.body == b""
    r = get(client, f"{BASE}/api/primary/file", headers={"If-None-Match": '"something-else"'})
    assert r.status == 200 and r.body == api_pem
    r = get(client, f"{BASE}/api/primary/file",
            headers={"If-None-Match": '"x", ' + etag})
    assert r.status == 304, r
    r = get(client, f"{BASE}/api/primary/file", headers={"If-None-Match": "*"})
    assert r.status == 304, r

    # The DER representation is another entity: another tag.
    r_der = get(client, f"{BASE}/api/primary/file?encoding=der")
    assert r_der.headers.get("etag") and r_der.headers["etag"] != etag
    r = get(client, f"{BASE}/api/primary/file?encoding=der",
            headers={"If-None-Match": etag})
    assert r.status == 200 and r.body == pem_der(api_pem)


def test_register_secondary_and_replace(cli, client, work):
    c1 = self_signed(work, "mqtt one")
    c2 = self_signed(work, "mqtt two")
    cli.run("servercert", "set", "--server", "mqtt-broker", "--slot", "secondary",
            "--cert", c1)
    r = get(client, f"{BASE}/mqtt-broker/secondary/file")
    assert r.status == 200 and r.body == c1.read_bytes(), r
    etag1 = r.headers.get("etag")
    h = get(client, f"{BASE}/mqtt-broker/secondary/hash").json()
    assert h == {"hash": hashlib.sha256(c1.read_bytes()).hexdigest()}
    # Its primary slot was never registered.
    assert_json_error(get(client, f"{BASE}/mqtt-broker/primary/file"), 404)

    cli.run("servercert", "set", "--server", "mqtt-broker", "--slot", "secondary",
            "--cert", c2)
    # Each worker keeps what it read for up to 2 s (core/servercert.c): after
    # 3 s every worker answers with the new certificate.
    time.sleep(3)
    r = get(client, f"{BASE}/mqtt-broker/secondary/file", headers={"If-None-Match": etag1})
    assert r.status == 200 and r.body == c2.read_bytes(), r
    assert r.headers.get("etag") != etag1
    for _ in range(4):  # more requests than workers
        h = get(client, f"{BASE}/mqtt-broker/secondary/hash?algorithm=md5&encoding=der").json()
        assert h == {"hash": hashlib.md5(pem_der(c2.read_text())).hexdigest()}


@pytest.mark.parametrize("args", [
    ["--server", "api", "--slot", "tertiary", "--cert", "{cert}"],
    ["--server", "api", "--slot", "primary", "--cert", "/nonexistent.pem"],
    ["--server", "api", "--slot", "primary", "--cert", "{garbage}"],
    ["--server", "api", "--slot", "primary", "--cert", "{key}"],
    ["--server", "api", "--slot", "primary"],
    ["--slot", "primary", "--cert", "{cert}"],
])
def test_servercert_set_refuses_bad_input(cli, client, work, api_pem, args):
    files = {"cert": str(self_signed(work, "x")),
             "garbage": str(work.file("garbage.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n"
                                      "-----END CERTIFICATE-----\n")),
             "key": str(work.key("p256"))}
    r = cli.run("servercert", "set", *[a.format(**files) for a in args], check=False)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0], r.stderr
    # Nothing changed.
    assert get(client, f"{BASE}/api/primary/file").body == api_pem
