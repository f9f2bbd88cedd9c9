"""Zero-touch provisioning roots (issue 11): /ztp/rootca/... with good and
bad input and tenant isolation; the proof-of-possession certificate; the
root's CRL.  The device side is test_ztp_lifecycle.py."""

import re
import secrets

import pytest

from helpers import openssl, psql, verify, Crl
from secsvc_helpers import make_secsvc_tenant


def _name(prefix="ztp"):
    return f"{prefix}-{secrets.token_hex(6)}.example"


def _error(r, status, contains=None):
    assert r.status == status, r
    body = r.json()
    assert isinstance(body.get("message"), str), body
    if contains is not None:
        assert contains in body["message"], body
    return body["message"]


@pytest.fixture(scope="module")
def t(stack):
    return make_secsvc_tenant(stack)


def _create(t, name=None, **kw):
    body = {"CAName": name or _name(), "CACertificateValidity": 1825,
            "DeviceCertificateValidity": 365}
    body.update(kw)
    return t.post("/ztp/rootca/create", body)


def test_create_answers_the_root_and_it_is_a_ca(t, work):
    name = _name()
    r = _create(t, name, RenewBeforeExpiration=30)
    assert r.status == 200, r
    b = r.json()
    assert b["CAName"] == name and b["CACertificateValidity"] == 1825
    assert b["DeviceCertificateValidity"] == 365 and b["RenewBeforeExpiration"] == 30
    assert b["KeyType"] == "EC-P256"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b["CreatedDate"])
    text = openssl("x509", "-noout", "-text", input=b["Certificate"]).stdout_text
    assert f"CN = {name}" in text and "CA:TRUE" in text and "prime256v1" in text
    ok, out = verify(b["Certificate"], b["Certificate"], work)
    assert ok, out
    # A CA row of the tenant, never its default, its key sealed.
    row = psql(t.url, "SELECT ca.is_default, length(ca.key_sealed) > 32, ca.tenant_id "
                      "FROM cas ca JOIN ztp_roots r ON r.ca_id = ca.id "
                      f"WHERE r.name = '{name}'")
    assert row == f"f|t|{t.id}"


def test_the_root_key_is_made_by_the_signer_process(stack, t):
    """fleetpkid's workers never hold a CA key: the signer made this one."""
    name = _name("signer")
    assert _create(t, name).status == 200
    logs = "".join(p.read_text(errors="replace") for p in stack.logs() if p.suffix == ".log")
    assert f"made root '{name}' (ec-p256)" in logs


@pytest.mark.parametrize("key_type,marker", [("EC-P384", "secp384r1"),
                                             ("RSA-2048", "2048 bit")])
def test_create_other_key_types(t, key_type, marker):
    r = _create(t, KeyType=key_type)
    assert r.status == 200, r
    assert r.json()["KeyType"] == key_type
    assert marker in openssl("x509", "-noout", "-text", input=r.json()["Certificate"]).stdout_text


@pytest.mark.parametrize("body,contains", [
    ({"CAName": "bad name"}, "CAName"),
    ({"CAName": "a" * 46}, None),
    ({"CAName": "a/b"}, "CAName"),
    ({"CAName": ""}, None),
    ({"CACertificateValidity": 1824}, None),
    ({"CACertificateValidity": 3651}, None),
    ({"CACertificateValidity": "1825"}, None),
    ({"DeviceCertificateValidity": 29}, None),
    ({"DeviceCertificateValidity": 3651}, None),
    ({"CACertificateValidity": 1825, "DeviceCertificateValidity": 2000},
     "cannot be greater"),
    ({"RenewBeforeExpiration": 0}, None),
    ({"RenewBeforeExpiration": 366}, None),
    ({"KeyType": "ED25519"}, "KeyType"),
    ({"Unknown": 1}, None),
])
def test_create_bad_input_changes_nothing(t, body, contains):
    before = psql(t.url, f"SELECT count(*) FROM cas WHERE tenant_id = {t.id}")
    _error(_create(t, **body), 400, contains)
    assert psql(t.url, f"SELECT count(*) FROM cas WHERE tenant_id = {t.id}") == before


def test_create_missing_fields(t):
    _error(t.post("/ztp/rootca/create", {"CAName": _name()}), 400)
    _error(t.post("/ztp/rootca/create", {"CACertificateValidity": 1825,
                                         "DeviceCertificateValidity": 30}), 400)


def test_name_unique_across_tenants_says_nothing_of_whose(stack, t):
    name = _name("taken")
    assert _create(t, name).status == 200
    msg = _error(_create(t, name), 409, "taken")
    other = make_secsvc_tenant(stack)
    msg2 = _error(_create(other, name), 409, "taken")
    assert t.name not in msg2 and msg == msg2
    # Case-insensitively too.
    _error(_create(other, name.upper()), 409, "taken")
    assert other.post("/ztp/rootca/get", {"CAName": name}).status == 404


def test_get_one_and_pages(t):
    names = [_name("pg") for _ in range(3)]
    for n in names:
        assert _create(t, n).status == 200
    r = t.post("/ztp/rootca/get", {"CAName": names[1]})
    assert r.status == 200 and [c["CAName"] for c in r.json()["CAs"]] == [names[1]], r
    r = t.post("/ztp/rootca/get", {})
    b = r.json()
    assert r.status == 200 and b["PageNumber"] == 1 and b["PageSize"] == 100
    got = [c["CAName"] for c in b["CAs"]]
    assert set(names) <= set(got) and b["TotalRecords"] == len(got)
    assert t.post("/ztp/rootca/get", {"PageNumber": 2}).json()["CAs"] == []
    _error(t.post("/ztp/rootca/get", {"PageNumber": 0}), 400)
    _error(t.post("/ztp/rootca/get", {"CAName": "nope-" + secrets.token_hex(4)}), 404)
    _error(t.post("/ztp/rootca/get", {"CAName": "bad name"}), 400)


def test_update_renew_before(t):
    name = _name()
    assert _create(t, name).status == 200
    assert "RenewBeforeExpiration" not in t.post("/ztp/rootca/get", {"CAName": name}).json()["CAs"][0]
    r = t.post("/ztp/rootca/update", {"CAName": name, "RenewBeforeExpiration": 90})
    assert r.status == 200, r
    assert t.post("/ztp/rootca/get", {"CAName": name}).json()["CAs"][0]["RenewBeforeExpiration"] == 90
    _error(t.post("/ztp/rootca/update", {"CAName": name, "RenewBeforeExpiration": 366}), 400)
    _error(t.post("/ztp/rootca/update", {"CAName": name}), 400)
    _error(t.post("/ztp/rootca/update", {"CAName": _name(), "RenewBeforeExpiration": 9}), 404)
    assert t.post("/ztp/rootca/get", {"CAName": name}).json()["CAs"][0]["RenewBeforeExpiration"] == 90


def test_pop_certificate_verifies_under_the_root_with_the_code_as_cn(t, work):
    name = _name()
    root = _create(t, name).json()["Certificate"]
    code = "930783746273459058465786283467236543874968549"
    r = t.post("/ztp/rootca/popcertificate/generate", {"CAName": name, "RegistrationCode": code})
    assert r.status == 200, r
    assert r.json()["CAName"] == name
    pop = r.json()["PoPCertificate"]
    subj = openssl("x509", "-noout", "-subject", "-nameopt", "RFC2253", input=pop).stdout_text
    assert subj.strip() == f"subject=CN={code}"
    ok, out = verify(root, pop, work)
    assert ok, out
    # Not under another root.
    other = _create(t).json()["Certificate"]
    ok, _ = verify(other, pop, work)
    assert not ok


@pytest.mark.parametrize("code", ["", "a" * 65, "code with space", "<x>"])
def test_pop_bad_code(t, code):
    name = _name()
    assert _create(t, name).status == 200
    _error(t.post("/ztp/rootca/popcertificate/generate",
                  {"CAName": name, "RegistrationCode": code}), 400)


def test_pop_unknown_root(t):
    _error(t.post("/ztp/rootca/popcertificate/generate",
                  {"CAName": _name(), "RegistrationCode": "abc"}), 404)


def test_crl_get(t, work):
    a, b = _name(), _name()
    ra = _create(t, a).json()["Certificate"]
    assert _create(t, b).status == 200
    r = t.post("/ztp/rootca/crl/get", {"CANames": [a, b]})
    assert r.status == 200, r
    crls = r.json()["CRLs"]
    assert [c["CAName"] for c in crls] == [a, b]
    assert crls[0]["RevokedSerialNumbers"] == []
    crl = Crl(crls[0]["CRL"])
    assert crl.verifies_with(ra, work) and crl.serials == set()
    _error(t.post("/ztp/rootca/crl/get", {"CANames": [a, _name()]}), 404)
    _error(t.post("/ztp/rootca/crl/get", {"CANames": []}), 400)
    _error(t.post("/ztp/rootca/crl/get", {}), 400)


def test_device_get_empty_and_bad(t):
    name = _name()
    assert _create(t, name).status == 200
    r = t.post("/ztp/rootca/device/get", {"CAName": name})
    assert r.status == 200 and r.json()["Devices"] == [] and r.json()["TotalRecords"] == 0, r
    _error(t.post("/ztp/rootca/device/get", {}), 400)
    _error(t.post("/ztp/rootca/device/get", {"CAName": _name()}), 404)


def test_delete_unused_and_profile_linked(t):
    name = _name()
    assert _create(t, name).status == 200
    uid = t.profile()
    r = t.post("/ztp/rootca/profile/set", {"CAName": name, "DeviceProfileUID": uid})
    assert r.status == 200, r
    _error(t.post("/ztp/rootca/delete", {"CAName": name}), 409, "in use")
    assert t.post("/ztp/rootca/get", {"CAName": name}).status == 200
    assert t.post("/ztp/rootca/profile/delete", {"DeviceProfileUID": uid}).status == 200
    _error(t.post("/ztp/rootca/profile/delete", {"DeviceProfileUID": uid}), 404)
    r = t.post("/ztp/rootca/delete", {"CAName": name})
    assert r.status == 200, r
    _error(t.post("/ztp/rootca/get", {"CAName": name}), 404)
    _error(t.post("/ztp/rootca/delete", {"CAName": name}), 404)
    # The name is free again.
    assert _create(t, name).status == 200


def test_profile_link_bad_input(t):
    name = _name()
    assert _create(t, name).status == 200
    _error(t.post("/ztp/rootca/profile/set", {"CAName": name, "DeviceProfileUID": "nope"}), 404)
    uid = t.profile()
    _error(t.post("/ztp/rootca/profile/set", {"CAName": _name(), "DeviceProfileUID": uid}), 404)
    _error(t.post("/ztp/rootca/profile/set", {"CAName": name, "DeviceProfileUID": uid,
                                              "KeyType": "DSA"}), 400)


def test_isolation(stack, t):
    name = _name()
    assert _create(t, name).status == 200
    other = make_secsvc_tenant(stack)
    for path, body in [("/ztp/rootca/get", {"CAName": name}),
                       ("/ztp/rootca/update", {"CAName": name, "RenewBeforeExpiration": 5}),
                       ("/ztp/rootca/crl/get", {"CANames": [name]}),
                       ("/ztp/rootca/device/get", {"CAName": name}),
                       ("/ztp/rootca/popcertificate/generate", {"CAName": name, "RegistrationCode": "x1"}),
                       ("/ztp/rootca/delete", {"CAName": name})]:
        _error(other.post(path, body), 404)
    assert name not in [c["CAName"] for c in other.post("/ztp/rootca/get", {}).json()["CAs"]]
    assert t.post("/ztp/rootca/get", {"CAName": name}).status == 200


def test_device_certificate_routes_bad_input(t):
    name = _name()
    assert _create(t, name).status == 200
    rot = secrets.token_hex(8).upper()
    _error(t.post("/ztp/devicecertificate/renew", {"CAName": name, "DeviceCertificateValidity": 30}), 400)
    _error(t.post("/ztp/devicecertificate/renew", {"CAName": name, "DeviceCertificateValidity": 29,
                                                   "ROTPublicUIDs": [rot]}), 400)
    _error(t.post("/ztp/devicecertificate/renew", {"CAName": name, "DeviceCertificateValidity": 30,
                                                   "ROTPublicUIDs": ["xyz"]}), 400)
    _error(t.post("/ztp/devicecertificate/renew", {"CAName": name, "DeviceCertificateValidity": 30,
                                                   "ROTPublicUIDs": [rot]}), 404)
    _error(t.post("/ztp/devicecertificate/update", {"CAName": name, "SerialNumbers": ["zz"]}), 400)
    _error(t.post("/ztp/devicecertificate/delete", {}), 400)
    _error(t.post("/ztp/devicecertificate/delete", {"ROTPublicUIDs": [rot]}), 404)
    _error(t.post("/ztp/devicecertificate/revoke", {"CAName": name}), 400)
    _error(t.post("/ztp/devicecertificate/revoke", {"CAName": name, "ROTPublicUID": rot,
                                                    "SerialNumber": "AB"}), 400)
    _error(t.post("/ztp/devicecertificate/revoke", {"CAName": name, "ROTPublicUID": rot}), 404)
    _error(t.post("/ztp/devicecertificate/rootca/transfer",
                  {"FromCA": name, "ToCA": name, "ROTPublicUIDs": [rot]}), 400)
    _error(t.post("/ztp/devicecertificate/rootca/transfer",
                  {"FromCA": name, "ToCA": _name(), "ROTPublicUIDs": [rot]}), 404)


def test_requires_auth(stack):
    r = stack.client.post("/ztp/rootca/get", {})
    assert r.status == 401, r
