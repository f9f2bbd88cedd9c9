"""The ZTP life cycle (issue 11) driven by fleetpki-device-sim: a root, a
device bootstrapping with ZTPV1 whose certificate is provisioned through
heartbeats with its own key, renew (same key), update (new key), revoke
(CRL and OCSP), transfer to another root, delete; a root in use refused
for deletion; the server-made key for devices that cannot make one; and
the device certificate used for real with mosquitto."""

import concurrent.futures
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import time

import pytest

from helpers import Crl, crl_with, openssl, psql, verify
from secsvc_helpers import make_secsvc_tenant


def _sim(stack, *args):
    env = stack.env
    return stack.cli.run("--url", env["FLEETPKI_URL"], "--cacert", env["FLEETPKI_TLS_CA"],
                         *args, program="fleetpki-device-sim", config=False, check=False)


def _q(t, sql):
    return psql(t.url, sql)


class Dev:
    """A sealed device with its slots in a directory (its secure storage)."""

    def __init__(self, stack, t, prof, slots):
        self.stack, self.t = stack, t
        self.rot = secrets.token_hex(8).upper()
        self.secret = stack.cli.run("device", "seal", "--tenant", t.name, "--rot", self.rot,
                                    "--serial", self.rot, "--profile", prof).stdout.splitlines()[-1]
        _q(t, f"INSERT INTO device_allowlist (tenant_id, kind, value) "
              f"VALUES ({t.id}, 'ROTPublicUID', '{self.rot}')")
        self.slots = slots
        self.booted = False

    def run(self, heartbeats=1):
        args = ["--rot", self.rot, "--secret", self.secret, "--heartbeats", str(heartbeats),
                "--slots", str(self.slots)]
        if self.booted:
            args.append("--no-bootstrap")
        res = _sim(self.stack, *args)
        assert res.returncode == 0, res.stdout + res.stderr
        self.booted = True
        return res.stdout

    def cert(self):
        p = self.slots / "ztp.crt.pem"
        return p.read_text() if p.exists() else None

    def key(self):
        p = self.slots / "ztp.key.pem"
        return p.read_text() if p.exists() else None

    def state(self):
        return _q(self.t, f"SELECT z.state || ':' || z.op FROM ztp_devices z JOIN devices d "
                          f"ON d.id = z.device_id WHERE d.rot = '{self.rot}'")


def _pub(pem, kind="x509"):
    if kind == "pkey":
        return openssl("pkey", "-pubout", input=pem).stdout_text
    return openssl(kind, "-noout", "-pubkey", input=pem).stdout_text


def _serial(pem):
    return openssl("x509", "-noout", "-serial", input=pem).stdout_text.strip().split("=")[1]


def _days_left(pem):
    end = openssl("x509", "-noout", "-enddate", input=pem).stdout_text.strip().split("=", 1)[1]
    t = time.mktime(time.strptime(end, "%b %d %H:%M:%S %Y %Z")) - time.timezone
    return (t - time.time()) / 86400


def _root(t, name, **kw):
    body = {"CAName": name, "CACertificateValidity": 1825, "DeviceCertificateValidity": 365}
    body.update(kw)
    r = t.post("/ztp/rootca/create", body)
    assert r.status == 200, r
    return r.json()["Certificate"]


def _ztp_profile(t, name):
    """A new profile linked to root 'name', its devices bootstrapping with ZTPV1."""
    prof = t.profile()
    r = t.post("/ztp/rootca/profile/set", {"CAName": name, "DeviceProfileUID": prof})
    assert r.status == 200, r
    _q(t, f"UPDATE device_profiles SET bootstrap = '{{\"ZTPV1\": true}}' WHERE uid = '{prof}'")
    return prof


def _provisioned(stack, t, prof, slots):
    """A device of 'prof' that bootstrapped and got its certificate."""
    slots.mkdir()
    d = Dev(stack, t, prof, slots)
    d.run()
    return d


def _due_for_renewal(t, d):
    """Make the device's certificate old (its row's notBefore 100 days back),
    so that a RenewBeforeExpiration of 60 finds it due (sql/031: never in
    the first half of its life)."""
    _q(t, f"UPDATE certificates c SET not_before = c.not_before - interval '100 days' "
          f"FROM ztp_devices z JOIN devices dv ON dv.id = z.device_id "
          f"WHERE c.id = z.cert_id AND dv.rot = '{d.rot}'")


def _ocsp(stack, work, root, cert):
    ca = work.write("ocsp-ca.pem", root)
    c = work.write("ocsp-cert.pem", cert)
    r = openssl("ocsp", "-issuer", str(ca), "-cert", str(c), "-CAfile", str(ca),
                "-url", stack.env["FLEETPKI_HTTP_URL"] + "/ocsp", check=False)
    return r.stdout_text + r.stderr_text


def _crl(t, name):
    r = t.post("/ztp/rootca/crl/get", {"CANames": [name]})
    assert r.status == 200, r
    return r.json()["CRLs"][0]


def _events(t, rot, typ):
    rows = _q(t, f"SELECT payload FROM events WHERE rot = '{rot}' AND type = '{typ}' ORDER BY id")
    return [json.loads(x) for x in rows.splitlines()]


def _usage(t, rot):
    return _q(t, f"SELECT string_agg(event || '=' || count, ',' ORDER BY event) FROM device_usage u "
                 f"JOIN devices d ON d.id = u.device_id WHERE d.rot = '{rot}'")


@pytest.fixture(scope="module")
def t(stack):
    t = make_secsvc_tenant(stack)
    # A life cycle is many heartbeats of one device in a few seconds.
    stack.cli.run("setting", "set", "--tenant", t.name, "device_heartbeat_burst", "1000")
    return t


def test_life_cycle(stack, t, work, tmp_path):
    a, b = f"life-a-{secrets.token_hex(4)}", f"life-b-{secrets.token_hex(4)}"
    root_a = _root(t, a)
    root_b = _root(t, b, KeyType="EC-P384")
    prof = t.profile()
    assert t.post("/ztp/rootca/profile/set", {"CAName": a, "DeviceProfileUID": prof}).status == 200
    _q(t, f"UPDATE device_profiles SET bootstrap = '{{\"ZTPV1\": true}}' WHERE uid = '{prof}'")
    d = Dev(stack, t, prof, tmp_path / "slots")
    (tmp_path / "slots").mkdir()

    # Provisioned through heartbeats with the device's own key.
    out = d.run()
    assert "ZTPV1=true" in out and f"slot ztp: certificate issued by /O=fleetpki/CN={a}" in out, out
    assert d.state() == "DONE:PROVISION"
    cert1 = d.cert()
    ok, why = verify(root_a, cert1, work)
    assert ok, why
    subj = openssl("x509", "-noout", "-subject", "-nameopt", "RFC2253", input=cert1).stdout_text
    assert subj.strip() == f"subject=CN={d.rot}"
    assert _pub(cert1) == _pub(d.key(), "pkey")
    acts = _q(t, f"SELECT string_agg(command || ':' || status, ',' ORDER BY a.id) FROM device_activity a "
                 f"JOIN devices dv ON dv.id = a.device_id WHERE dv.rot = '{d.rot}'")
    assert acts == "SET_PROPERTIES:SUCCESS,GENERATE_KEY:SUCCESS,INSTALL_CERTIFICATE:SUCCESS", acts
    r = t.post("/ztp/rootca/device/get", {"CAName": a})
    assert r.json()["Devices"] == [{"ROTPublicUID": d.rot}] and r.json()["TotalRecords"] == 1, r
    assert t.post("/ztp/rootca/get", {"CAName": a}).json()["CAs"][0]["ProvisionedDevicesCount"] == 1
    # A root in use is not deleted.
    r = t.post("/ztp/rootca/delete", {"CAName": a})
    assert r.status == 409, r
    # Nothing more to do: the next heartbeat carries no ZTP command.
    d.run()
    assert d.cert() == cert1

    # A factory reset (bootstrap again, the slots lost): a new key.
    shutil.rmtree(d.slots)
    d.slots.mkdir()
    d.booted = False
    d.run()
    cert1b = d.cert()
    assert cert1b is not None and _pub(cert1b) != _pub(cert1) and d.state() == "DONE:PROVISION"
    assert verify(root_a, cert1b, work)[0]
    cert1 = cert1b

    # Renew: same key, new serial and expiry, counted, announced.
    r = t.post("/ztp/devicecertificate/renew", {"CAName": a, "DeviceCertificateValidity": 100,
                                                "ROTPublicUIDs": [d.rot.lower()]})
    assert r.status == 200, r
    assert d.state() == "ISSUE:RENEW"
    d.run()
    cert2 = d.cert()
    assert cert2 != cert1 and _serial(cert2) != _serial(cert1)
    assert _pub(cert2) == _pub(cert1)
    assert 99 < _days_left(cert2) < 101
    assert verify(root_a, cert2, work)[0]
    ev = _events(t, d.rot, "DEVICE_CERTIFICATE_RENEWAL_EVENT")
    assert len(ev) == 1 and ev[0]["CertificateAuthorityName"] == a, ev
    assert ev[0]["CertificateSerialNumber"] == _serial(cert2)
    assert ev[0]["CertificateValidity"] in (99, 100)
    assert "ZTPRenewal=1" in _usage(t, d.rot)

    # Update: a new key, over two heartbeats; no other call meanwhile.
    key2 = d.key()
    r = t.post("/ztp/devicecertificate/update", {"CAName": a, "SerialNumbers": [_serial(cert2)]})
    assert r.status == 200, r
    for path, body in [("/ztp/devicecertificate/renew", {"CAName": a, "DeviceCertificateValidity": 30,
                                                         "ROTPublicUIDs": [d.rot]}),
                       ("/ztp/devicecertificate/revoke", {"CAName": a, "ROTPublicUID": d.rot}),
                       ("/ztp/devicecertificate/delete", {"ROTPublicUIDs": [d.rot]}),
                       ("/ztp/devicecertificate/rootca/transfer", {"FromCA": a, "ToCA": b,
                                                                    "ROTPublicUIDs": [d.rot]})]:
        r = t.post(path, body)
        assert r.status == 409 and "in progress" in r.json()["message"], (path, r)
    d.run()
    cert3 = d.cert()
    assert d.state() == "DONE:UPDATE"
    assert _pub(cert3) != _pub(cert2) and d.key() != key2
    assert verify(root_a, cert3, work)[0]
    assert "ZTPUpdate=1" in _usage(t, d.rot)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    r = t.post("/device/usage/get", {"FromDate": today, "ROTPublicUIDs": [d.rot]})
    assert r.status == 200, r
    # ZTPV1 applied twice (the bootstrap and the factory reset's).
    assert r.json()[d.rot] == {"ZTPV1": 2, "ZTPRenewal": 1, "ZTPUpdate": 1}, r.json()
    r = t.post("/device/info/get", {"ROTPublicUIDs": [d.rot], "Options": ["ZTP"]})
    assert r.status == 200, r
    z = r.json()["DeviceInfo"][0]["ZTP"]
    assert z["CertificateAuthorityName"] == a and z["State"] == "PROVISIONED", z
    assert z["CertificateSerialNumber"] == _serial(cert3)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", z["ExpirationDate"])

    # Revoke: OCSP at once, the root's CRL within seconds; still on the device.
    assert ": good" in _ocsp(stack, work, root_a, cert3)
    r = t.post("/ztp/devicecertificate/revoke", {"CAName": a, "ROTPublicUID": d.rot})
    assert r.status == 200, r
    assert ": revoked" in _ocsp(stack, work, root_a, cert3)
    crl = crl_with(lambda: _crl(t, a)["CRL"], _serial(cert3))
    assert crl.verifies_with(root_a, work)
    assert _serial(cert3) in _crl(t, a)["RevokedSerialNumbers"]
    ok, why = verify(root_a, cert3, work, crl_pem=crl.pem)
    assert not ok and "revoked" in why, why
    r = t.post("/ztp/devicecertificate/revoke", {"CAName": a, "SerialNumber": _serial(cert3)})
    assert r.status == 409, r
    d.run()
    assert d.cert() == cert3
    r = t.post("/device/info/get", {"ROTPublicUIDs": [d.rot], "Options": ["ZTP"]})
    assert r.json()["DeviceInfo"][0]["ZTP"]["State"] == "REVOKED", r

    # Transfer: re-issued under the other root at the next heartbeat.
    r = t.post("/ztp/devicecertificate/rootca/transfer", {"FromCA": a, "ToCA": b,
                                                          "ROTPublicUIDs": [d.rot]})
    assert r.status == 200, r
    out = d.run()
    cert4 = d.cert()
    assert f"certificate issued by /O=fleetpki/CN={b}" in out, out
    assert verify(root_b, cert4, work)[0] and not verify(root_a, cert4, work)[0]
    assert _pub(cert4) == _pub(cert3)
    assert t.post("/ztp/rootca/device/get", {"CAName": b}).json()["Devices"] == [{"ROTPublicUID": d.rot}]
    assert t.post("/ztp/rootca/device/get", {"CAName": a}).json()["Devices"] == []

    # Delete: removed from the device at its next heartbeat.
    r = t.post("/ztp/devicecertificate/delete", {"ROTPublicUIDs": [d.rot]})
    assert r.status == 200, r
    out = d.run()
    assert d.cert() is None and d.key() is None and d.state() == "GONE:DELETE", out
    r = t.post("/ztp/devicecertificate/delete", {"ROTPublicUIDs": [d.rot]})
    assert r.status == 409, r
    # An update provisions a device without a certificate afresh (b).
    r = t.post("/ztp/devicecertificate/update", {"CAName": b, "ROTPublicUIDs": [d.rot]})
    assert r.status == 200, r
    d.run()
    cert5 = d.cert()
    assert cert5 is not None and verify(root_b, cert5, work)[0] and d.state() == "DONE:UPDATE"
    assert t.post("/ztp/rootca/delete", {"CAName": b}).status == 409
    r = t.post("/ztp/devicecertificate/delete", {"ROTPublicUIDs": [d.rot]})
    assert r.status == 200, r
    d.run()
    assert d.cert() is None and d.state() == "GONE:DELETE"
    # b is free now; a still holds the profile.
    assert t.post("/ztp/rootca/delete", {"CAName": a}).status == 409
    assert t.post("/ztp/rootca/delete", {"CAName": b}).status == 200
    assert t.post("/ztp/rootca/profile/delete", {"DeviceProfileUID": prof}).status == 200
    assert t.post("/ztp/rootca/delete", {"CAName": a}).status == 200


def test_server_made_key(stack, t, work, tmp_path):
    name = f"srvkey-{secrets.token_hex(4)}"
    root = _root(t, name)
    prof = t.profile()
    r = t.post("/ztp/rootca/profile/set", {"CAName": name, "DeviceProfileUID": prof,
                                           "ServerGeneratedKey": True, "KeyType": "EC-P384"})
    assert r.status == 200, r
    _q(t, f"UPDATE device_profiles SET bootstrap = '{{\"ZTPV1\": true}}' WHERE uid = '{prof}'")
    d = _provisioned(stack, t, prof, tmp_path / "s")
    cert = d.cert()
    assert cert is not None and verify(root, cert, work)[0]
    assert "secp384r1" in openssl("x509", "-noout", "-text", input=cert).stdout_text
    assert _pub(cert) == _pub(d.key(), "pkey")
    assert d.state() == "DONE:PROVISION"
    acts = _q(t, f"SELECT string_agg(command || ':' || status, ',' ORDER BY a.id) FROM device_activity a "
                 f"JOIN devices dv ON dv.id = a.device_id WHERE dv.rot = '{d.rot}'")
    assert acts.endswith("INSTALL_KEY_AND_CERTIFICATE:SUCCESS"), acts
    # The envelope is gone once installed; the server's copy is sealed.
    assert _q(t, f"SELECT z.wrapped IS NULL, length(c.key_sealed) > 0 FROM ztp_devices z "
                 f"JOIN certificates c ON c.id = z.cert_id JOIN devices dv ON dv.id = z.device_id "
                 f"WHERE dv.rot = '{d.rot}'") == "t|t"
    # Renewal keeps the key the server made; an update makes a new one.
    r = t.post("/ztp/devicecertificate/renew", {"CAName": name, "DeviceCertificateValidity": 60,
                                                "ROTPublicUIDs": [d.rot]})
    assert r.status == 200, r
    d.run()
    cert2 = d.cert()
    assert _serial(cert2) != _serial(cert) and _pub(cert2) == _pub(cert)
    assert verify(root, cert2, work)[0] and d.state() == "DONE:RENEW"
    r = t.post("/ztp/devicecertificate/update", {"CAName": name, "ROTPublicUIDs": [d.rot]})
    assert r.status == 200, r
    d.run()
    cert3 = d.cert()
    assert _pub(cert3) != _pub(cert2) and _pub(cert3) == _pub(d.key(), "pkey")
    assert d.state() == "DONE:UPDATE"


def test_other_tenant_cannot_touch_the_device(stack, t, tmp_path):
    name = f"iso-{secrets.token_hex(4)}"
    _root(t, name)
    prof = _ztp_profile(t, name)
    d = _provisioned(stack, t, prof, tmp_path / "s")
    assert d.cert() is not None
    other = make_secsvc_tenant(stack)
    oname = f"iso-o-{secrets.token_hex(4)}"
    _root(other, oname)
    for path, body in [("/ztp/devicecertificate/renew", {"CAName": oname, "DeviceCertificateValidity": 30,
                                                         "ROTPublicUIDs": [d.rot]}),
                       ("/ztp/devicecertificate/update", {"CAName": oname, "ROTPublicUIDs": [d.rot]}),
                       ("/ztp/devicecertificate/revoke", {"CAName": oname, "ROTPublicUID": d.rot}),
                       ("/ztp/devicecertificate/delete", {"ROTPublicUIDs": [d.rot]})]:
        r = other.post(path, body)
        assert r.status == 404, (path, r)
    assert d.state() == "DONE:PROVISION"


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.skipif(shutil.which("mosquitto") is None or shutil.which("mosquitto_pub") is None,
                    reason="mosquitto is not installed (scripts/lib.sh FLEETPKI_PKGS_TEST)")
def test_mosquitto_accepts_the_device_certificate_until_revoked(stack, t, work, tmp_path):
    name = f"mqtt-{secrets.token_hex(4)}"
    root = _root(t, name)
    prof = _ztp_profile(t, name)
    d = _provisioned(stack, t, prof, tmp_path / "s")
    # The broker's own certificate: from a throwaway CA of the test.
    bk = work.key()
    bca_key = work.key()
    bca = work.file("bca.pem")
    openssl("req", "-x509", "-new", "-key", str(bca_key), "-subj", "/CN=broker test CA",
            "-days", "2", "-out", str(bca))
    bcsr = work.file("b.csr")
    openssl("req", "-new", "-key", str(bk), "-subj", "/CN=localhost", "-out", str(bcsr))
    bcrt = work.file("b.crt")
    ext = work.file("ext.cnf", "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(bcsr), "-CA", str(bca), "-CAkey", str(bca_key),
            "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(bcrt))
    rootf = work.write("ztp-root.pem", root)
    crt = tmp_path / "s" / "ztp.crt.pem"
    key = tmp_path / "s" / "ztp.key.pem"

    def broker(crl=None):
        port = _free_port()
        conf = tmp_path / f"m{port}.conf"
        lines = [f"listener {port} 127.0.0.1", f"cafile {rootf}", f"certfile {bcrt}",
                 f"keyfile {bk}", "require_certificate true", "use_identity_as_username true",
                 "allow_anonymous false",
                 # run as root, it would drop to 'mosquitto', which cannot read tmp_path
                 f"user {pwd.getpwuid(os.getuid()).pw_name}"]
        if crl is not None:
            lines.append(f"crlfile {crl}")
        conf.write_text("\n".join(lines) + "\n")
        p = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return p, port
            except OSError:
                time.sleep(0.05)
        p.kill()
        raise AssertionError(p.stdout.read().decode())

    def publish(port):
        return subprocess.run(["mosquitto_pub", "-h", "localhost", "-p", str(port), "--cafile", str(bca),
                               "--cert", str(crt), "--key", str(key), "-t", "t/ztp", "-m", "hello",
                               "-q", "1"], capture_output=True, text=True, timeout=30)

    # With the root's CRL before the revocation: accepted (so the CRL
    # itself is fine); with the one after it: refused.
    before = work.write("ztp-crl0.pem", _crl(t, name)["CRL"])
    p, port = broker(before)
    try:
        res = publish(port)
        assert res.returncode == 0, res.stdout + res.stderr
    finally:
        p.kill()
        p.wait()
    assert t.post("/ztp/devicecertificate/revoke", {"CAName": name, "ROTPublicUID": d.rot}).status == 200
    crl = crl_with(lambda: _crl(t, name)["CRL"], _serial(d.cert()))
    crlf = work.write("ztp-crl.pem", crl.pem)
    p, port = broker(crlf)
    try:
        res = publish(port)
        assert res.returncode != 0, res.stdout + res.stderr
    finally:
        p.kill()
        p.wait()
    log = p.stdout.read().decode()
    assert "certificate verify failed" in log, log


def test_worker_renews_once_and_writes_expiry_events_once(stack, t, work, tmp_path):
    name = f"auto-{secrets.token_hex(4)}"
    root = _root(t, name, DeviceCertificateValidity=30, RenewBeforeExpiration=60)
    r = t.post("/notification/webhook/create", {
        "NotificationURL": f"https://hooks.invalid/{name}", "AuthorizationToken": "Bearer z",
        "NotificationType": "DEVICE_CERTIFICATE_RENEWAL_EVENT"})
    assert r.status == 200, r
    prof = _ztp_profile(t, name)
    d = _provisioned(stack, t, prof, tmp_path / "s")
    cert1 = d.cert()
    assert d.state() == "DONE:PROVISION"
    # Young (30 days of 30): not due although RenewBeforeExpiration is 60.
    stack.cli.run("--once", program="fleetpki-worker")
    assert d.state() == "DONE:PROVISION"
    _due_for_renewal(t, d)
    # Three workers at once, then one more pass: one renewal, one event.
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        list(ex.map(lambda _: stack.cli.run("--once", program="fleetpki-worker"), range(3)))
    stack.cli.run("--once", program="fleetpki-worker")
    assert d.state() == "ISSUE:RENEW"
    cert_id = _q(t, f"SELECT z.cert_id = z.renewed_for FROM ztp_devices z JOIN devices dv "
                    f"ON dv.id = z.device_id WHERE dv.rot = '{d.rot}'")
    assert cert_id == "t"
    exp = _events(t, d.rot, "DEVICE_CERTIFICATE_EXPIRATION_EVENT")
    assert len(exp) == 1, exp
    assert exp[0]["DaysToExpiration"] == 30 and exp[0]["CertificateAuthorityName"] == name
    assert exp[0]["CertificateSerialNumber"] == _serial(cert1)
    d.run()
    cert2 = d.cert()
    assert _serial(cert2) != _serial(cert1) and _pub(cert2) == _pub(cert1)
    assert verify(root, cert2, work)[0]
    assert d.state() == "DONE:RENEW"
    # The renewed certificate is young: no second renewal.
    stack.cli.run("--once", program="fleetpki-worker")
    assert d.state() == "DONE:RENEW"
    ev = _events(t, d.rot, "DEVICE_CERTIFICATE_RENEWAL_EVENT")
    assert len(ev) == 1 and ev[0]["CertificateSerialNumber"] == _serial(cert2), ev
    # A webhook following the type got it, in the spec's shape.
    body = json.loads(_q(t, f"SELECT body FROM webhook_deliveries WHERE tenant_id = {t.id} "
                            f"AND type = 'DEVICE_CERTIFICATE_RENEWAL_EVENT' ORDER BY id DESC LIMIT 1"))
    assert body["ROTPublicUID"] == d.rot and body["EventType"] == "DEVICE_CERTIFICATE_RENEWAL_EVENT"
    assert body["Payload"]["CertificateSerialNumber"] == _serial(cert2), body
    # The root's own expiry, in the 60-day band: once, with its device count.
    _q(t, f"UPDATE cas SET not_after = now() + interval '45 days' WHERE id = "
          f"(SELECT ca_id FROM ztp_roots WHERE name = '{name}')")
    for _ in range(2):
        stack.cli.run("--once", program="fleetpki-worker")
    rows = _q(t, f"SELECT payload FROM events WHERE tenant_id = {t.id} AND "
                 f"type = 'ROOTCA_EXPIRATION_EVENT' AND payload->>'CertificateAuthorityName' = '{name}'")
    got = [json.loads(x) for x in rows.splitlines()]
    assert len(got) == 1, got
    assert got[0]["DaysToExpiration"] == 60 and got[0]["ProvisionedDevicesCount"] == 1


def test_ztpv1_off_keeps_the_certificate_and_stops_renewal(stack, t, work, tmp_path):
    """ZTPV1 turned off (sql/031): the certificate stays on the device and
    valid, the worker renews it no more; turned on again, it does."""
    name = f"off-{secrets.token_hex(4)}"
    root = _root(t, name, DeviceCertificateValidity=30, RenewBeforeExpiration=60)
    prof = _ztp_profile(t, name)
    d = _provisioned(stack, t, prof, tmp_path / "s")
    cert = d.cert()
    assert d.state() == "DONE:PROVISION" and verify(root, cert, work)[0]

    def ztpv1(on):
        r = t.post("/device/provisioning/set", {"ROTPublicUIDs": [d.rot],
                                                "Provisioning": {"ZTPV1": on}})
        assert r.status == 200, r
        d.run(heartbeats=2)
        assert _q(t, f"SELECT current_props->'ZTPV1' FROM devices WHERE rot = '{d.rot}'") == \
            ("true" if on else "false")

    ztpv1(False)
    _due_for_renewal(t, d)
    for _ in range(2):
        stack.cli.run("--once", program="fleetpki-worker")
    d.run()
    assert d.state() == "DONE:PROVISION" and d.cert() == cert
    assert "good" in _ocsp(stack, work, root, cert)
    ztpv1(True)
    _due_for_renewal(t, d)
    stack.cli.run("--once", program="fleetpki-worker")
    assert d.state() == "ISSUE:RENEW"
    d.run()
    assert d.state() == "DONE:RENEW" and _serial(d.cert()) != _serial(cert)


def test_bad_csr_and_refusals_fail_the_step_with_an_error_event(stack, t, work, tmp_path):
    """A device answering GENERATE_KEY with a CSR whose signature does not
    verify, or with a key the policy refuses, gets no certificate: the
    step is FAILED and the operator gets a DEVICE_ERROR; the heartbeat
    itself is answered."""
    import test_device_protocol as tdp

    name = f"bad-{secrets.token_hex(4)}"
    _root(t, name)
    prof = _ztp_profile(t, name)
    from helpers import tamper_signature
    cases = [tamper_signature(work.csr(subject="/CN=x")), work.csr(kind="rsa1024", subject="/CN=x")]
    for csr in cases:
        (tmp_path / "x").mkdir(exist_ok=True)
        d = Dev(stack, t, prof, tmp_path / "x")
        dev = tdp.Device(stack, d.rot, d.secret)
        a = dev.bootstrap()
        assert a.status == 200, a
        pid = a.json()["Commands"][0]["Id"]
        a = dev.heartbeat([{"Id": pid, "Status": "SUCCESS"}])
        assert a.status == 200 and dev.verified(a), a
        cmds = a.json()["Commands"]
        assert [c["Type"] for c in cmds] == ["GENERATE_KEY"], cmds
        assert cmds[0]["Slot"] == "ztp" and cmds[0]["KeyType"] == "EC-P256"
        a = dev.heartbeat([{"Id": cmds[0]["Id"], "Status": "SUCCESS", "Csr": csr}])
        assert a.status == 200 and dev.verified(a), a
        assert a.json()["Commands"] == []
        assert d.state() == "FAILED:PROVISION"
        errs = _events(t, d.rot, "DEVICE_ERROR")
        assert len(errs) == 1 and errs[0]["CommandId"] == cmds[0]["Id"], errs
        assert _q(t, f"SELECT count(*) FROM ztp_devices z JOIN devices dv ON dv.id = z.device_id "
                     f"WHERE dv.rot = '{d.rot}' AND z.pending_cert_id IS NOT NULL") == "0"


def test_an_unknown_command_id_changes_nothing(stack, t, tmp_path):
    import test_device_protocol as tdp

    name = f"unk-{secrets.token_hex(4)}"
    _root(t, name)
    prof = _ztp_profile(t, name)
    (tmp_path / "x").mkdir()
    d = Dev(stack, t, prof, tmp_path / "x")
    dev = tdp.Device(stack, d.rot, d.secret)
    pid = dev.bootstrap().json()["Commands"][0]["Id"]
    cmds = dev.heartbeat([{"Id": pid, "Status": "SUCCESS"}]).json()["Commands"]
    a = dev.heartbeat([{"Id": "z-1", "Status": "SUCCESS", "Csr": "junk"}])
    assert a.status == 200 and a.json()["Commands"] == cmds, a
    assert d.state() == "KEY:PROVISION"
