"""An expired token is refused once the leeway (jwt_leeway, 60 s by default)
has passed.  The token was minted with --ttl 1 right after start-up; this
file runs late so that most of the wait has already gone by."""

import time

from helpers import assert_json_error

LEEWAY = 60  # the default jwt_leeway; scripts/up does not change it


def test_short_token_is_accepted_within_the_leeway(cli, client):
    tok = cli.token("default", ttl=1)
    time.sleep(2)
    assert client.get("/x509/v1/ca", token=tok).status == 200


def test_expired_token_is_refused(stack, client):
    assert stack.short_token, "no short-lived token (external stack?)"
    wait = stack.short_token_at + 1 + LEEWAY + 3 - time.time()
    if wait > 0:
        time.sleep(wait)
    for method, path in (("GET", "/x509/v1/ca"), ("GET", "/x509/v1/certificates"),
                         ("POST", "/x509/v1/certificates")):
        r = client.request(method, path, token=stack.short_token,
                           body={"csr": "x"} if method == "POST" else None)
        assert_json_error(r, 401)
