"""Bearer JWTs on /x509/v1, tenant isolation, unknown routes and methods."""

import hashlib
import hmac
import json

import pytest

from helpers import (assert_json_error, b64url, ec_public_jwk, jwt_parts,
                     make_jwt)

CERTS = "/x509/v1/certificates"
PROTECTED = [("GET", "/x509/v1/ca"), ("GET", "/x509/v1/ca/crl"), ("GET", CERTS),
             ("POST", CERTS), ("GET", CERTS + "/" + ":".join(["AB"] * 32)),
             ("DELETE", CERTS + "/" + ":".join(["AB"] * 32))]


def call(client, method, path, token=None, headers=None):
    body = {"csr": "x"} if method == "POST" else None
    return client.request(method, path, body=body, token=token, headers=headers)


@pytest.mark.parametrize("method,path", PROTECTED)
def test_no_token(client, method, path):
    assert_json_error(call(client, method, path), 401)


@pytest.fixture(scope="module")
def parts(token):
    return jwt_parts(token)


def test_the_real_token_works(client, token, parts):
    header, payload, _ = parts
    assert header["alg"] == "ES256"
    assert "kid" in header
    assert "tenant" in payload and "exp" in payload
    assert client.get("/x509/v1/ca", token=token).status == 200


def hs256(header, payload, secret):
    h = dict(header, alg="HS256")
    si = b64url(json.dumps(h, separators=(",", ":"))) + "." + \
        b64url(json.dumps(payload, separators=(",", ":")))
    return si + "." + b64url(hmac.new(secret.encode(), si.encode(), hashlib.sha256).digest())


def forged_tokens(token, parts, keyfile):
    header, payload, sig = parts
    h, p, s = token.split(".")
    other = dict(payload, tenant="someone-else")
    later = dict(payload, exp=payload["exp"] + 86400 * 365)
    return {
        "garbage": "garbage",
        "empty": "",
        "two parts": h + "." + p,
        "four parts": token + ".x",
        "bad base64": h + "." + p + ".!!!!",
        "alg none": make_jwt(dict(header, alg="none"), payload, signature=""),
        "alg none keeps sig": make_jwt(dict(header, alg="none"), payload, signature=s),
        "alg None": make_jwt(dict(header, alg="None"), payload, signature=""),
        "no alg": make_jwt({k: v for k, v in header.items() if k != "alg"}, payload,
                           signature=s),
        "alg ES384": make_jwt(dict(header, alg="ES384"), payload, signature=s),
        "alg RS256": make_jwt(dict(header, alg="RS256"), payload, signature=s),
        "tenant changed": make_jwt(header, other, signature=s),
        "exp extended": make_jwt(header, later, signature=s),
        "sig truncated": h + "." + p + "." + s[:-4],
        "sig flipped": h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:],
        "sig empty": h + "." + p + ".",
        "other key": make_jwt(header, payload, key_path=keyfile),
        "other key, unknown kid": make_jwt(dict(header, kid="nope"), payload,
                                           key_path=keyfile),
        "other key in jwk header": make_jwt(dict(header, jwk=ec_public_jwk(keyfile)),
                                            payload, key_path=keyfile),
        "HS256 keyed with the kid": hs256(header, payload, str(header.get("kid"))),
        "HS256 keyed with nothing": hs256(header, payload, ""),
        "huge": "e" * 6000,
    }


def test_forged_tokens_are_refused(client, token, parts, work):
    keyfile = work.key("p256")
    for name, forged in forged_tokens(token, parts, keyfile).items():
        for method, path in (("GET", "/x509/v1/ca"), ("POST", CERTS)):
            r = call(client, method, path, token=forged)
            assert r.status == 401, (name, method, r)
            assert_json_error(r, 401)


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer  ", "Token {t}",
                                   "{t}", "Bearer {t} extra"])
def test_malformed_authorization_header(client, token, value):
    r = client.get("/x509/v1/ca", headers={"Authorization": value.format(t=token)})
    assert_json_error(r, 401)


def test_token_for_an_unknown_tenant_cannot_be_minted(cli):
    r = cli.run("token", "--tenant", "no-such-tenant-xyz", check=False)
    assert r.returncode != 0


# --- tenant isolation --------------------------------------------------------

def test_tenants_do_not_see_each_other(make_tenant, work):
    a, b = make_tenant(), make_tenant()
    fp, pem = a.issue(work.csr("p256", subject="/CN=belongs to a"))
    assert_json_error(b.get(f"{CERTS}/{fp}"), 404)
    assert_json_error(b.get(f"{CERTS}/{fp.replace(':', '').lower()}"), 404)
    assert_json_error(b.delete(f"{CERTS}/{fp}"), 404)
    lb = b.get(CERTS).json()
    assert lb["paging"]["totalItems"] == 0 and lb["certificates"] == []
    # a's certificate is untouched by b's attempts.
    r = a.get(f"{CERTS}/{fp}")
    assert r.status == 200 and r.json()["pem"] == pem
    # Each has its own CA.
    assert a.get("/x509/v1/ca").json()["certificateFingerprint"] != \
        b.get("/x509/v1/ca").json()["certificateFingerprint"]
    # The same certificate cannot be fetched with the default tenant either.
    assert a.client.get(f"{CERTS}/{fp}", token=a.client.default_token).status == 404


# --- routes and methods ------------------------------------------------------

@pytest.mark.parametrize("path", ["/x509/v1/nope", "/x509/v2/certificates", "/nope",
                                  "/x509/v1/certificates/AB/extra/segments",
                                  "/x509/v1/ca/crl/more", "/api/v2/certificates"])
def test_unknown_route_is_404_json(client, token, path):
    assert_json_error(client.get(path, token=token), 404)


@pytest.mark.parametrize("method,path", [("PUT", CERTS), ("PATCH", "/x509/v1/ca"),
                                         ("POST", "/x509/v1/ca"),
                                         ("DELETE", "/x509/v1/ca/crl"),
                                         ("DELETE", CERTS),
                                         ("POST", "/api/v2/certificates/api/primary/file")])
def test_wrong_method_is_405_json(client, token, method, path):
    r = client.request(method, path, token=token, body=b"{}",
                       headers={"Content-Type": "application/json"})
    assert_json_error(r, 405)
    assert "allow" in r.headers, r.headers


def test_health(client):
    for plain in (False, True):
        r = client.get("/api/health", plain=plain)
        assert r.status == 200, r
        assert r.content_type == "application/json"
        b = r.json()
        # The other parts (worker, ACME CA) depend on what else the stack
        # runs; test_enroll_api checks them.
        assert b["status"] == "ok" and b["database"] == "ok", b


@pytest.mark.parametrize("path", ["/x509/v1/ca", "/api/v2/certificates/api/primary/file",
                                  "/", "/anything"])
def test_plain_http_serves_no_api(client, token, path):
    r = client.get(path, plain=True, token=token)
    assert_json_error(r, 404)
