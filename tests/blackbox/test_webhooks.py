"""Webhooks (issue 10): /notification/webhook/create|update|delete|get and
their delivery by fleetpki-worker to a real HTTPS receiver on loopback,
whose certificate fleetpki issued and which the worker trusts through
outbound_ca_file.

The stack's worker is replaced by one of this module's (its
configuration plus outbound_ca_file and a denied address) for the
delivery tests, and put back at the end."""

import json
import re
import time

import pytest

from helpers import assert_json_error, psql, random_name, wait_until
from cm_helpers import CmTenant
from webhook_helpers import (CREATE, DELETE, DENIED_IP, GET, TYPES, UPDATE,
                             CountingListener, HookTenant, Receiver, Worker,
                             free_port, ids_of, start_stack_worker,
                             stop_stack_worker, verify_signature)


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def hooks(stack):
    return HookTenant(stack)


@pytest.fixture(scope="module")
def tls(stack, tmp_path_factory):
    """A server certificate for 127.0.0.1 from a fleetpki CA (certificate
    maker), its key, and that CA as the worker's bundle."""
    d = tmp_path_factory.mktemp("wh-tls")
    name = random_name("whtls")
    stack.cli.run("tenant", "create", name)
    stack.cli.run("ca", "create", "--tenant", name, "--name", "ca1")
    cm = CmTenant(stack, name)
    user = cm.user()
    _, cert, key = user.issue(domains=["localhost"], ips=["127.0.0.1"], days=7)
    (d / "cert.pem").write_text(cert)
    (d / "key.pem").write_text(key)
    (d / "key.pem").chmod(0o600)
    (d / "ca.pem").write_text(cm.ca_pem())
    return d


@pytest.fixture(scope="module")
def receiver(tls):
    r = Receiver(str(tls / "cert.pem"), str(tls / "key.pem"))
    yield r
    r.stop()


@pytest.fixture(scope="module")
def worker(stack, tls, tmp_path_factory):
    """This module's worker in place of the stack's."""
    if not stack.owned:
        pytest.skip("disruptive test: not run against FLEETPKI_TEST_ENV")
    w = Worker(stack, tmp_path_factory.mktemp("wh-worker"),
               [f"outbound_ca_file = {tls / 'ca.pem'}",
                f"outbound_deny = {DENIED_IP}/32",
                "log_level = debug"])
    stop_stack_worker(stack)
    try:
        w.start()
        yield w
    finally:
        try:
            w.stop()
        finally:
            start_stack_worker(stack)


def new_path():
    return "/" + random_name("hook")


# --------------------------------------------------------------------------
# the routes


@pytest.mark.parametrize("body,why", [
    ({"AuthorizationToken": "t", "NotificationType": "CERTIFICATE_ISSUED"}, "no URL"),
    ({"NotificationURL": "https://example.com/", "NotificationType": "CERTIFICATE_ISSUED"},
     "no token"),
    ({"NotificationURL": "https://example.com/", "AuthorizationToken": "t"}, "no type"),
    ({"NotificationURL": "http://example.com/", "AuthorizationToken": "t",
      "NotificationType": "CERTIFICATE_ISSUED"}, "http"),
    ({"NotificationURL": "example.com/x", "AuthorizationToken": "t",
      "NotificationType": "CERTIFICATE_ISSUED"}, "no scheme"),
    ({"NotificationURL": "https://", "AuthorizationToken": "t",
      "NotificationType": "CERTIFICATE_ISSUED"}, "no host"),
    ({"NotificationURL": "https://exa mple.com/", "AuthorizationToken": "t",
      "NotificationType": "CERTIFICATE_ISSUED"}, "space"),
    ({"NotificationURL": "https://u:p@example.com/", "AuthorizationToken": "t",
      "NotificationType": "CERTIFICATE_ISSUED"}, "credentials"),
    ({"NotificationURL": "https://example.com/#x", "AuthorizationToken": "t",
      "NotificationType": "CERTIFICATE_ISSUED"}, "fragment"),
    ({"NotificationURL": "https://169.254.169.254/latest", "AuthorizationToken": "t",
      "NotificationType": "CERTIFICATE_ISSUED"}, "metadata address"),
    ({"NotificationURL": "https://example.com/" + "a" * 2100, "AuthorizationToken": "t",
      "NotificationType": "CERTIFICATE_ISSUED"}, "long"),
    ({"NotificationURL": "https://example.com/", "AuthorizationToken": "a\r\nX-Evil: 1",
      "NotificationType": "CERTIFICATE_ISSUED"}, "CRLF in the token"),
    ({"NotificationURL": "https://example.com/", "AuthorizationToken": "",
      "NotificationType": "CERTIFICATE_ISSUED"}, "empty token"),
    ({"NotificationURL": "https://example.com/", "AuthorizationToken": "t",
      "NotificationType": "DEVICE_SNEEZE"}, "unknown type"),
    ({"NotificationURL": "https://example.com/", "AuthorizationToken": "t",
      "NotificationType": "CERTIFICATE_ISSUED", "Extra": 1}, "unknown member"),
    ({"NotificationURL": 5, "AuthorizationToken": "t",
      "NotificationType": "CERTIFICATE_ISSUED"}, "not a string"),
])
def test_create_refuses_bad_input(hooks, body, why):
    r = hooks.post(CREATE, body)
    assert_json_error(r, 400)
    # Nothing was created.
    assert hooks.post(GET, {}).json() == [], why


def test_create_get_update_delete(hooks):
    url = "https://hooks.example.com/a?x=1"
    token = "Bearer " + random_name("secret-token")
    r = hooks.post(CREATE, {"NotificationURL": url, "AuthorizationToken": token,
                            "NotificationType": "DEVICE_BOOTSTRAP_EVENT"})
    assert r.status == 200, r
    b = r.json()
    assert b["NotificationURL"] == url and b["NotificationType"] == "DEVICE_BOOTSTRAP_EVENT"
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{32}", b["SigningSecret"]), b
    assert b["message"]
    # The same URL and type again: refused; another type: added, and the
    # secret is not shown again.
    assert_json_error(hooks.post(CREATE, {"NotificationURL": url, "AuthorizationToken": token,
                                          "NotificationType": "DEVICE_BOOTSTRAP_EVENT"}), 400)
    r = hooks.post(CREATE, {"NotificationURL": url, "AuthorizationToken": token,
                            "NotificationType": "CERTIFICATE_ISSUED"})
    assert r.status == 200, r
    assert "SigningSecret" not in r.json()

    r = hooks.post(GET)
    assert r.status == 200, r
    got = r.json()
    assert sorted((g["NotificationURL"], g["NotificationType"]) for g in got) == [
        (url, "CERTIFICATE_ISSUED"), (url, "DEVICE_BOOTSTRAP_EVENT")]
    assert all(g["Enabled"] is True for g in got)
    # Neither the token nor the secret is ever answered again.
    assert token not in r.text and b["SigningSecret"] not in r.text
    assert hooks.post(GET, {"NotificationType": "CERTIFICATE_ISSUED"}).json()[0][
        "NotificationType"] == "CERTIFICATE_ISSUED"
    # Stored sealed: not in the table as text.
    raw = psql(hooks.url, f"SELECT encode(token_sealed, 'escape') || encode(secret_sealed, "
                          f"'hex') FROM webhooks WHERE tenant_id = {hooks.id}")
    assert token not in raw

    r = hooks.post(UPDATE, {"NotificationURL": url, "AuthorizationToken": "Bearer new"})
    assert r.status == 200, r
    assert_json_error(hooks.post(UPDATE, {"NotificationURL": url + "x",
                                          "AuthorizationToken": "t"}), 404)
    assert_json_error(hooks.post(UPDATE, {"NotificationURL": url}), 400)
    assert_json_error(hooks.post(DELETE, {"NotificationURL": url + "x"}), 404)
    assert_json_error(hooks.post(DELETE, {}), 400)
    r = hooks.post(DELETE, {"NotificationURL": url})
    assert r.status == 200, r
    assert hooks.post(GET).json() == []


def test_routes_need_an_auth_token(hooks, client):
    for path in (CREATE, UPDATE, DELETE, GET):
        assert_json_error(client.post(path, {}), 401)
        assert_json_error(client.post(path, {}, token="nope"), 401)


def test_tenants_do_not_see_each_others_hooks(stack, hooks):
    other = HookTenant(stack)
    url = "https://other.example.com/" + random_name()
    other.create(url, "CERTIFICATE_ISSUED")
    assert url not in hooks.post(GET).text
    assert_json_error(hooks.post(DELETE, {"NotificationURL": url}), 404)
    assert_json_error(hooks.post(UPDATE, {"NotificationURL": url,
                                          "AuthorizationToken": "x"}), 404)
    assert len(other.post(GET).json()) == 1


# --------------------------------------------------------------------------
# delivery


def test_every_type_arrives_signed_with_its_token(stack, worker, receiver):
    t = HookTenant(stack)
    path = new_path()
    url = receiver.url(path)
    token = "Bearer " + random_name("tok")
    for ty in TYPES:
        t.create(url, ty, token=token)
    secret = t.secrets[url]
    rot = "0000200456789544"
    want = {}
    want["DEVICE_BOOTSTRAP_EVENT"] = t.event("DEVICE_INFO_CHANGE",
                                             {"Changes": {"IMEI": {"To": "1"}}}, rot)
    want["DEVICE_PROPERTIES_CHANGE_EVENT"] = t.event(
        "DEVICE_PROPERTIES_CHANGE", {"CommandId": "p-1", "Properties": {"a": 1}}, rot)
    want["DEVICE_ERRORS_EVENT"] = t.event("DEVICE_ERROR", {"Error": "Invalid KeySetId"}, rot)
    for ty in ("DEVICE_CERTIFICATE_RENEWAL_EVENT", "DEVICE_CERTIFICATE_EXPIRATION_EVENT"):
        want[ty] = t.event(ty, {"CertificateSerialNumber": "AB", "DaysToExpiration": 60}, rot)
    want["ROOTCA_EXPIRATION_EVENT"] = t.event("ROOTCA_EXPIRATION_EVENT",
                                              {"CertificateAuthorityName": "ca1",
                                               "DaysToExpiration": 30})
    # Events the device protocol writes but no webhook type names: none sent.
    t.event("DEVICE_STATE_CHANGE", {"From": "SEALED", "To": "ACTIVATED"}, rot)
    # Certificates of the certificate maker, issued and revoked.
    user = CmTenant(stack, t.name).user()
    serial, _, _ = user.issue(domains=["dev1.example.com"], days=7)
    r = user.revoke(serial, reason="keyCompromise")
    assert r.status == 200, r

    n = len(TYPES)
    wait_until(lambda: len(receiver.at(path)) >= n, 60, f"{n} deliveries")
    time.sleep(1)
    got = receiver.at(path)
    assert len(got) == n, [g["body"] for g in got]
    by_type = {}
    for g in got:
        h = g["headers"]
        assert h["authorization"] == token
        assert h["content-type"] == "application/json"
        assert verify_signature(secret, h, g["body"]), h
        assert abs(int(h["webhook-timestamp"]) - g["at"]) < 300
        body = json.loads(g["body"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["Timestamp"]), body
        by_type[body["EventType"]] = (h["webhook-id"], body)
    assert sorted(by_type) == sorted(TYPES)
    for ty, eid in want.items():
        hid, body = by_type[ty]
        assert hid == f"evt_{eid}"
        if ty != "ROOTCA_EXPIRATION_EVENT":
            assert body["ROTPublicUID"] == rot
        else:
            assert "ROTPublicUID" not in body
    assert by_type["DEVICE_ERRORS_EVENT"][1]["Payload"] == {"Error": "Invalid KeySetId"}
    issued = by_type["CERTIFICATE_ISSUED"][1]["Payload"]
    assert issued["CertificateSerialNumber"] == serial
    assert issued["CertificateAuthorityName"] == "ca1"
    revoked = by_type["CERTIFICATE_REVOKED"][1]["Payload"]
    assert revoked["CertificateSerialNumber"] == serial
    assert revoked["RevocationReason"] == 1
    # A tampered body does not verify (the check can fail).
    g = got[0]
    assert not verify_signature(secret, g["headers"], g["body"] + b" ")
    # The token is in no log line.
    for f in stack.logs() + [worker.logf]:
        assert token not in f.read_text(errors="replace"), f


def test_one_url_gets_its_events_in_order(stack, worker, receiver):
    t = HookTenant(stack)
    path = new_path()
    t.create(receiver.url(path), "DEVICE_ERRORS_EVENT")
    ids = []
    for _ in range(4):
        ids += t.events("DEVICE_ERROR", 10)
    wait_until(lambda: len(receiver.at(path)) >= len(ids), 60, "40 deliveries")
    assert ids_of(receiver.at(path)) == [f"evt_{i}" for i in ids]


def test_500_then_200_sends_again_with_the_same_id(stack, worker, receiver):
    t = HookTenant(stack)
    path = new_path()
    receiver.answers[path] = [(500, {})]
    t.create(receiver.url(path), "DEVICE_ERRORS_EVENT")
    eid = t.event("DEVICE_ERROR", {"Error": "x"})
    wait_until(lambda: len(receiver.at(path)) >= 2, 60, "the retry")
    time.sleep(1)
    got = receiver.at(path)
    assert ids_of(got) == [f"evt_{eid}"] * 2
    assert got[0]["body"] == got[1]["body"]
    d = wait_until(lambda: [x for x in t.deliveries() if x["state"] == "delivered"], 30,
                   "delivered")
    assert d[0]["attempts"] == "2" and d[0]["last_status"] == "200"


def test_retry_after_is_honoured(stack, worker, receiver):
    t = HookTenant(stack)
    path = new_path()
    # Longer than the first back-off (5 s, at most 6 with jitter).
    receiver.answers[path] = [(503, {"Retry-After": "9"})]
    t.create(receiver.url(path), "DEVICE_ERRORS_EVENT")
    t.event("DEVICE_ERROR", {"Error": "x"})
    wait_until(lambda: len(receiver.at(path)) >= 2, 60, "the retry")
    a, b = receiver.at(path)[:2]
    assert b["at"] - a["at"] >= 8.5


def test_a_receiver_down_then_up_gets_everything(stack, worker, tls):
    t = HookTenant(stack)
    port = free_port()
    path = new_path()
    t.create(f"https://127.0.0.1:{port}{path}", "DEVICE_ERRORS_EVENT")
    ids = t.events("DEVICE_ERROR", 5)
    # Refused at least once (nothing listens), then up.
    wait_until(lambda: any(int(d["attempts"]) >= 1 for d in t.deliveries()), 60,
               "a failed attempt")
    ids += t.events("DEVICE_ERROR", 5)
    r = Receiver(str(tls / "cert.pem"), str(tls / "key.pem"), port=port)
    try:
        wait_until(lambda: len(r.at(path)) >= len(ids), 90, "every delivery")
        time.sleep(1)
        got = ids_of(r.at(path))
        # Every one, in order, none twice (the receiver kept up once up).
        assert got == [f"evt_{i}" for i in ids]
    finally:
        r.stop()
    assert all(d["state"] == "delivered" for d in t.deliveries())


def test_a_slow_receiver_does_not_hold_back_another(stack, worker, receiver):
    slow, fast = HookTenant(stack), HookTenant(stack)
    sp, fp = new_path(), new_path()
    receiver.delay[sp] = 5
    slow.create(receiver.url(sp), "DEVICE_ERRORS_EVENT")
    fast.create(receiver.url(fp), "DEVICE_ERRORS_EVENT")
    slow.events("DEVICE_ERROR", 10)
    ids = fast.events("DEVICE_ERROR", 20)
    wait_until(lambda: len(receiver.at(fp)) >= len(ids), 60, "the fast receiver's events")
    # The slow one has not had even half of its own meanwhile.
    assert len(receiver.at(sp)) < 5
    receiver.delay[sp] = 0


def test_kill_9_of_the_worker_loses_nothing(stack, worker, receiver):
    t = HookTenant(stack)
    path = new_path()
    receiver.delay[path] = 0.3
    t.create(receiver.url(path), "DEVICE_ERRORS_EVENT")
    ids = t.events("DEVICE_ERROR", 30)
    wait_until(lambda: len(receiver.at(path)) >= 5, 60, "deliveries under way")
    worker.kill9()
    ids += t.events("DEVICE_ERROR", 5)
    receiver.delay[path] = 0
    worker.start()
    # The lease of the killed child runs out (30 s), then the rest goes.
    wait_until(lambda: set(ids_of(receiver.at(path))) >= {f"evt_{i}" for i in ids}, 120,
               "every event after the kill")
    wait_until(lambda: all(d["state"] == "delivered" for d in t.deliveries()), 30,
               "all recorded delivered")
    got = ids_of(receiver.at(path))
    # At least once, in order: an event seen twice is the one in flight.
    assert len(got) - len(set(got)) <= 1, got
    firsts = sorted(set(got), key=got.index)
    assert firsts == [f"evt_{i}" for i in ids]


def test_two_workers_never_deliver_one_attempt_twice(stack, worker, receiver, tls,
                                                     tmp_path_factory):
    """A second worker (another host's, as far as the queue can tell)
    beside the module's: the webhooks' leases split the work, every
    event arrives once, in order per URL, and both workers delivered."""
    second = Worker(stack, tmp_path_factory.mktemp("wh-worker2"),
                    [f"outbound_ca_file = {tls / 'ca.pem'}", "log_level = debug"])
    second.start()
    before = len(worker.log())
    try:
        t = HookTenant(stack)
        paths = [new_path() for _ in range(8)]
        for p in paths:
            # Slow enough that both workers' children are busy at once.
            receiver.delay[p] = 0.05
            t.create(receiver.url(p), "DEVICE_ERRORS_EVENT")
        ids = t.events("DEVICE_ERROR", 25)
        n = len(ids) * len(paths)
        wait_until(lambda: sum(len(receiver.at(p)) for p in paths) >= n, 120,
                   f"{n} deliveries")
        wait_until(lambda: len(t.deliveries("delivered")) == n, 30, "all recorded")
        time.sleep(1)
        for p in paths:
            assert ids_of(receiver.at(p)) == [f"evt_{i}" for i in ids], p
            receiver.delay[p] = 0
        # One attempt each: no delivery was sent by both workers.
        assert {d["attempts"] for d in t.deliveries()} == {"1"}
        done = re.compile(r"delivery \d+ delivered")
        mine = len(done.findall(worker.log()[before:]))
        theirs = len(done.findall(second.log()))
        assert theirs > 0 and mine > 0, (mine, theirs)
    finally:
        second.stop()


def test_410_disables_the_webhook(stack, worker, receiver):
    t = HookTenant(stack)
    path = new_path()
    receiver.answers[path] = [(410, {})]
    url = receiver.url(path)
    t.create(url, "DEVICE_ERRORS_EVENT")
    t.event("DEVICE_ERROR", {"Error": "x"})
    g = wait_until(lambda: [x for x in t.post(GET).json() if x["Enabled"] is False], 60,
                   "the webhook disabled")
    assert "410" in g[0]["DisabledReason"]
    assert "disabled" in stack.cli.run("webhook", "list", "--tenant", t.name).stdout
    # Nothing more is sent while it is disabled.
    t.event("DEVICE_ERROR", {"Error": "y"})
    time.sleep(3)
    assert len(receiver.at(path)) == 1
    # An update (a new token) enables it again; the pending one goes.
    assert t.post(UPDATE, {"NotificationURL": url, "AuthorizationToken": "Bearer b"}).status \
        == 200
    wait_until(lambda: len(receiver.at(path)) >= 2, 60, "the delivery after the update")
    assert receiver.at(path)[-1]["headers"]["authorization"] == "Bearer b"
    assert t.post(GET).json()[0]["Enabled"] is True


def test_a_denied_address_is_never_connected_to(stack, worker):
    t = HookTenant(stack)
    lst = CountingListener(DENIED_IP)
    try:
        # fleetpkid does not deny it (its configuration is the stack's);
        # the worker's outbound_deny does, on the resolved address.
        t.create(f"https://{DENIED_IP}:{lst.port}/x", "DEVICE_ERRORS_EVENT")
        t.event("DEVICE_ERROR", {"Error": "x"})
        d = wait_until(lambda: [x for x in t.deliveries() if int(x["attempts"]) >= 1], 60,
                       "an attempt")
        assert d[0]["state"] == "pending"
        assert d[0]["last_status"] == "0"
        assert d[0]["last_error"] != "-"
        assert lst.accepted == 0
    finally:
        lst.stop()
    assert lst.accepted == 0


def test_dead_letter_and_replay(stack, worker, receiver):
    t = HookTenant(stack)
    stack.cli.run("setting", "set", "--tenant", t.name, "webhook.max_attempts", "2")
    path = new_path()
    receiver.answers[path] = [(500, {}), (500, {})]
    t.create(receiver.url(path), "DEVICE_ERRORS_EVENT")
    eid = t.event("DEVICE_ERROR", {"Error": "x"})
    dead = wait_until(lambda: t.deliveries("dead"), 60, "the dead letter")
    assert len(dead) == 1 and dead[0]["webhook-id"] == f"evt_{eid}"
    assert dead[0]["attempts"] == "2" and dead[0]["last_status"] == "500"
    assert "dead=1" in stack.cli.run("webhook", "list", "--tenant", t.name).stdout
    time.sleep(2)
    assert len(receiver.at(path)) == 2
    # Replay: only dead deliveries; unknown or other tenants' ids are not.
    r = stack.cli.run("webhook", "replay", "--tenant", t.name, "999999999", check=False)
    assert r.returncode != 0
    other = HookTenant(stack)
    r = stack.cli.run("webhook", "replay", "--tenant", other.name, dead[0]["id"], check=False)
    assert r.returncode != 0
    r = stack.cli.run("webhook", "replay", "--tenant", t.name, dead[0]["id"])
    assert "1 of 1" in r.stdout
    wait_until(lambda: len(receiver.at(path)) >= 3, 60, "the replayed delivery")
    assert ids_of(receiver.at(path))[-1] == f"evt_{eid}"
    wait_until(lambda: t.deliveries("delivered"), 30, "delivered")
    assert t.deliveries("dead") == []


def test_nothing_rolled_back_is_announced(stack, worker, receiver):
    t = HookTenant(stack)
    path = new_path()
    t.create(receiver.url(path), "DEVICE_ERRORS_EVENT")
    r = psql(t.url, f"""BEGIN;
        INSERT INTO events (tenant_id, type, payload) VALUES ({t.id}, 'DEVICE_ERROR', '{{}}');
        ROLLBACK;
        SELECT count(*) FROM webhook_deliveries WHERE tenant_id = {t.id}""")
    assert r.splitlines()[-1] == "0"
    eid = t.event("DEVICE_ERROR", {"Error": "after"})
    wait_until(lambda: receiver.at(path), 60, "the committed one")
    time.sleep(1)
    assert ids_of(receiver.at(path)) == [f"evt_{eid}"]


def test_cli_listings(stack, hooks):
    r = stack.cli.run("webhook", "deliveries", "--tenant", hooks.name, "--state", "bogus",
                      check=False)
    assert r.returncode != 0
    r = stack.cli.run("webhook", "list", "--tenant", "no-such-tenant-" + random_name(),
                      check=False)
    assert r.returncode != 0
