"""Security services, accounts and tokens (issue 8): `fleetpki apikey
create|list|revoke`, POST /authenticate and /refreshauthtoken, AuthTokens of
their own audience, RefreshTokens rotated on use with reuse revoking the
family, and the race of concurrent refreshes."""

import base64
import concurrent.futures
import json
import time

import pytest

from helpers import assert_json_error, random_name

NOT_AUTHORIZED = "Not Authorized."


def apikey(cli, tenant):
    out = cli.run("apikey", "create", "--tenant", tenant).stdout.splitlines()
    assert len(out) == 2, out
    k, s = out[0].split(" ", 1), out[1].split(" ", 1)
    assert k[0] == "APIKey" and s[0] == "APISecret", out
    return k[1], s[1]


@pytest.fixture(scope="module")
def tenant(cli):
    name = random_name()
    cli.run("tenant", "create", name)
    return name


@pytest.fixture(scope="module")
def key(cli, tenant):
    return apikey(cli, tenant)


def authenticate(client, key, secret):
    return client.post("/authenticate", {"APIKey": key, "APISecret": secret})


def refresh(client, key, token):
    return client.post("/refreshauthtoken", {"APIKey": key, "RefreshToken": token})


def claims(jwt):
    p = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def version(client, token):
    return client.post("/apiversion", headers={"Authorization": "Bearer " + token})


def test_apikey_create_prints_two_lines(cli, tenant):
    k, s = apikey(cli, tenant)
    assert len(k) == 36 and k.count("-") == 4
    assert len(s) == 32 and s.isalnum()
    listed = cli.run("apikey", "list", "--tenant", tenant).stdout
    assert any(line.split("\t")[:2] == [k, "active"] for line in listed.splitlines())
    assert s not in listed


def test_authenticate(client, key, tenant):
    r = authenticate(client, *key)
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"AuthToken", "RefreshToken"}
    assert r.headers.get("cache-control") == "no-store"
    c = claims(body["AuthToken"])
    assert c["aud"] == "fleetpki-security-services" and c["sub"] == key[0]
    assert c["tenant"] == tenant and c["exp"] - c["iat"] == 3600
    assert version(client, body["AuthToken"]).json() == {"Version": "1.1.29"}


@pytest.mark.parametrize("which", ["wrong secret", "unknown key", "malformed key"])
def test_authenticate_refusals_look_alike(client, key, which):
    k, s = key
    if which == "wrong secret":
        s = s[:-1] + ("A" if s[-1] != "A" else "B")
    elif which == "unknown key":
        k = "00000000-0000-4000-8000-000000000000"
    else:
        k = "not-a-key"
    r = authenticate(client, k, s)
    assert_json_error(r, 401, message=NOT_AUTHORIZED)


@pytest.mark.parametrize("body, why", [
    ({"APIKey": "k"}, 'required field "APISecret"'),
    ({"APIKey": "k", "APISecret": "s", "x": 1}, 'unknown field "x"'),
    ({"APIKey": 1, "APISecret": "s"}, '"APIKey" must be a string'),
])
def test_authenticate_schema(client, body, why):
    r = client.post("/authenticate", body)
    assert why in assert_json_error(r, 400)["message"]


def test_tokens_do_not_cross_dialects(client, key, token):
    auth = authenticate(client, *key).json()["AuthToken"]
    # An AuthToken is not a token of the X.509 identity API ...
    assert_json_error(client.get("/x509/v1/ca", token=auth), 401)
    # ... nor the other way round.
    assert_json_error(version(client, token), 401, message=NOT_AUTHORIZED)
    assert_json_error(client.post("/apiversion"), 401, message=NOT_AUTHORIZED)


def test_refresh_rotates(client, key):
    first = authenticate(client, *key).json()
    r = refresh(client, key[0], first["RefreshToken"])
    assert r.status == 200, r
    second = r.json()
    assert second["RefreshToken"] != first["RefreshToken"]
    assert version(client, second["AuthToken"]).status == 200
    third = refresh(client, key[0], second["RefreshToken"])
    assert third.status == 200, third


def test_reuse_revokes_the_family(client, key):
    first = authenticate(client, *key).json()
    second = refresh(client, key[0], first["RefreshToken"]).json()
    # Past the grace for racing clients, the spent token comes back: a copy.
    time.sleep(11)
    assert_json_error(refresh(client, key[0], first["RefreshToken"]), 401,
                      message=NOT_AUTHORIZED)
    # Its whole family is gone, the newest token included.
    assert_json_error(refresh(client, key[0], second["RefreshToken"]), 401)
    # Another authentication is a new family and works.
    again = authenticate(client, *key).json()
    assert refresh(client, key[0], again["RefreshToken"]).status == 200


def test_refresh_needs_the_tokens_own_key(cli, client, tenant, key):
    other = apikey(cli, tenant)
    first = authenticate(client, *key).json()
    assert_json_error(refresh(client, other[0], first["RefreshToken"]), 401)
    assert_json_error(refresh(client, key[0], "x" * 43), 401)
    # Not spent by the failed tries.
    assert refresh(client, key[0], first["RefreshToken"]).status == 200


def test_fifty_concurrent_refreshes_one_wins(client, key):
    first = authenticate(client, *key).json()

    def one(_):
        return refresh(client, key[0], first["RefreshToken"])

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(50)))
    won = [r for r in answers if r.status == 200]
    assert len(won) == 1, [r.status for r in answers]
    assert all(r.status == 401 for r in answers if r.status != 200)
    # A race is no theft: the winner's family stands.
    assert refresh(client, key[0], won[0].json()["RefreshToken"]).status == 200


def test_revoked_key(cli, client, tenant):
    k, s = apikey(cli, tenant)
    session = authenticate(client, k, s).json()
    out = cli.run("apikey", "revoke", "--tenant", tenant, k).stdout
    assert out.strip() == f"revoked {k}"
    assert_json_error(authenticate(client, k, s), 401, message=NOT_AUTHORIZED)
    assert_json_error(refresh(client, k, session["RefreshToken"]), 401)
    assert_json_error(version(client, session["AuthToken"]), 401)
    r = cli.run("apikey", "revoke", "--tenant", tenant, k, check=False)
    assert r.returncode != 0
    listed = cli.run("apikey", "list", "--tenant", tenant).stdout
    assert any(line.split("\t")[:2] == [k, "revoked"] for line in listed.splitlines())


def test_keys_are_per_tenant(cli, client, key):
    other = random_name()
    cli.run("tenant", "create", other)
    assert cli.run("apikey", "list", "--tenant", other).stdout == ""
    r = cli.run("apikey", "revoke", "--tenant", other, key[0], check=False)
    assert r.returncode != 0
    assert authenticate(client, *key).status == 200
