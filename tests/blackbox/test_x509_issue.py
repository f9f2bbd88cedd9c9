"""POST /x509/v1/certificates: what is issued, and what is refused."""

import datetime
import json
import re

import pytest

from helpers import (assert_json_error, crl_dp_urls, ocsp_urls, fingerprint, pem_der,
                     fp_of_der, pubkey, serial, subject_entries,
                     tamper_signature, verify, x509_text)

CERTS = "/x509/v1/certificates"
FP_RE = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){31}$")
SCHEMA_FAILURE = "Input data schema validation failure."
RSA_SHORT = "The RSA public key length less than 2048 bits is not supported."
CURVE = ("The elliptical curve used in the ECDSA public key algorithm is not "
         "supported. (Use the NIST-recommended curves: P-256, P-384 or P-521)")
SUBJECT_ATTRS = "Error checking SubjectDN allowed attributes in CSR. Allowed: [CN] Found: ["
CN_REGEX = ("Error checking SubjectDN 'CN' attribute in CSR. The value does not "
            "match the regular expression: /^[0-9A-Za-z ]{1,255}$/. Found: ")


def openssl_time(s):
    return datetime.datetime.strptime(s.strip(), "%b %d %H:%M:%S %Y %Z").replace(
        tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def tenant(make_tenant):
    return make_tenant()


@pytest.fixture(scope="module")
def ca_pem(tenant):
    return tenant.ca_pem()


@pytest.mark.parametrize("kind", ["p256", "p384", "p521", "rsa2048"])
def test_issue_happy_path(tenant, ca_pem, env, work, kind):
    csr = work.csr(kind, subject="/CN=Sensor 42")
    r = tenant.post(CERTS, {"csr": csr})
    assert r.status == 201, r
    assert r.content_type == "application/json"
    body = r.json()
    assert set(body) == {"certificateFingerprint", "certificatePem"}, body
    pem = body["certificatePem"]
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    fp = body["certificateFingerprint"]
    assert FP_RE.match(fp), fp
    assert fp == fingerprint(pem) == fp_of_der(pem_der(pem))

    ok, out = verify(ca_pem, pem, work)
    assert ok, out

    # Subject rebuilt by the server: CN "<tenant>:<CN>".
    cns = [v for k, v in subject_entries(pem) if k == "CN"]
    assert cns == [f"{tenant.name}:Sensor 42"], subject_entries(pem)

    # The key is the CSR's.
    assert pubkey(pem) == pubkey(csr, "req")

    text = x509_text(pem)
    assert re.search(r"X509v3 Basic Constraints: critical\s*\n\s*CA:FALSE", text), text
    assert re.search(r"X509v3 Extended Key Usage:.*\n\s*TLS Web Client Authentication\s*\n",
                     text), text
    assert re.search(r"X509v3 Key Usage: critical\s*\n\s*Digital Signature", text), text
    assert "Certificate Sign" not in text
    assert "X509v3 Subject Key Identifier" in text
    assert "X509v3 Authority Key Identifier" in text
    assert "Subject Alternative Name" not in text

    # CRL distribution point: plain HTTP, at the http_url of the stack.
    urls = crl_dp_urls(pem)
    assert len(urls) == 1, urls
    assert urls[0].startswith(env["FLEETPKI_HTTP_URL"] + "/crl/"), urls
    assert urls[0].endswith(".crl"), urls
    # AIA: the OCSP responder, plain HTTP too.
    assert ocsp_urls(pem) == [env["FLEETPKI_HTTP_URL"] + "/ocsp"], text

    # Serial: 16+ random bytes, positive.
    assert serial(pem).bit_length() > 100, hex(serial(pem))

    # Validity: now (backdated a little at most) to ~365 days.
    nb = openssl_time(re.search(r"Not Before: (.*)", text).group(1))
    na = openssl_time(re.search(r"Not After : (.*)", text).group(1))
    now = datetime.datetime.now(datetime.timezone.utc)
    assert now - datetime.timedelta(days=1) <= nb <= now + datetime.timedelta(minutes=1)
    assert datetime.timedelta(days=364) <= na - now <= datetime.timedelta(days=366)


def test_csr_extensions_are_never_copied(tenant, ca_pem, work):
    csr = work.csr("p256", subject="/CN=rogue",
                   addext=["basicConstraints=critical,CA:TRUE",
                           "keyUsage=critical,keyCertSign,cRLSign",
                           "subjectAltName=DNS:evil.example.com",
                           "extendedKeyUsage=serverAuth,codeSigning"])
    fp, pem = tenant.issue(csr)
    text = x509_text(pem)
    assert re.search(r"X509v3 Basic Constraints: critical\s*\n\s*CA:FALSE", text), text
    assert "CA:TRUE" not in text
    assert "Certificate Sign" not in text
    assert "evil.example.com" not in text
    assert "Code Signing" not in text
    assert "TLS Web Server Authentication" not in text
    ok, out = verify(ca_pem, pem, work)
    assert ok, out


def test_serials_and_fingerprints_are_unique(tenant, work):
    key = work.key("p256")
    csr = work.csr(key=key, subject="/CN=same key")
    a = tenant.issue(csr)
    b = tenant.issue(csr)
    assert a[0] != b[0]
    assert serial(a[1]) != serial(b[1])


def test_cn_of_64_characters(tenant, ca_pem, work):
    cn = "A" * 32 + " " + "b1" * 15 + "Z"
    assert len(cn) == 64
    fp, pem = tenant.issue(work.csr("p256", subject=f"/CN={cn}"))
    assert [v for k, v in subject_entries(pem) if k == "CN"] == [f"{tenant.name}:{cn}"]


def test_ca_endpoint(tenant, work):
    r = tenant.get("/x509/v1/ca")
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"certificateFingerprint", "caPem"}, body
    assert body["certificateFingerprint"] == fingerprint(body["caPem"])
    text = x509_text(body["caPem"])
    assert re.search(r"X509v3 Basic Constraints: critical\s*\n\s*CA:TRUE", text), text


@pytest.mark.parametrize("key,sigalg", [("ec-p384", "ecdsa-with-SHA384"),
                                         ("rsa-2048", "sha256WithRSAEncryption")])
def test_ca_key_types(make_tenant, work, key, sigalg):
    t = make_tenant(key=key)
    ca = t.ca_pem()
    fp, pem = t.issue(work.csr("p256", subject="/CN=dev"))
    ok, out = verify(ca, pem, work)
    assert ok, out
    assert re.search(r"Signature Algorithm: " + sigalg, x509_text(pem))


# --- refusals --------------------------------------------------------------

def test_rsa_1024_refused(tenant, work):
    r = tenant.post(CERTS, {"csr": work.csr("rsa1024")})
    assert_json_error(r, 400, message=RSA_SHORT)


def test_secp256k1_refused(tenant, work):
    r = tenant.post(CERTS, {"csr": work.csr("secp256k1")})
    assert_json_error(r, 400, message=CURVE)


def test_explicit_curve_parameters_refused(tenant, work):
    r = tenant.post(CERTS, {"csr": work.csr("p256-explicit")})
    assert_json_error(r, 400)


def test_rsa_exponent_3_refused(tenant, work):
    r = tenant.post(CERTS, {"csr": work.csr("rsa2048-e3")})
    assert_json_error(r, 400)


def test_ed25519_refused(tenant, work):
    r = tenant.post(CERTS, {"csr": work.csr("ed25519")})
    assert_json_error(r, 400)


def test_sha1_signed_csr_refused(tenant, work):
    r = tenant.post(CERTS, {"csr": work.csr("p256", digest="-sha1")})
    assert_json_error(r, 400)


def test_subject_with_o_refused(tenant, work):
    r = tenant.post(CERTS, {"csr": work.csr("p256", subject="/O=Acme/CN=dev 1")})
    assert_json_error(r, 400, prefix=SUBJECT_ATTRS)


@pytest.mark.parametrize("cn", ["dev_1", "dev-1", "dév", "a:b", "x/y"])
def test_bad_cn_characters_refused(tenant, work, cn):
    r = tenant.post(CERTS, {"csr": work.csr("p256", subject=f"/CN={cn.replace('/', chr(92) + '/')}")})
    body = assert_json_error(r, 400, prefix=CN_REGEX)
    assert cn in body["message"], body


def test_broken_signature_refused(tenant, work):
    r = tenant.post(CERTS, {"csr": tamper_signature(work.csr("p256"))})
    assert_json_error(r, 400)


def test_extra_property_refused(tenant, work):
    r = tenant.post(CERTS, {"csr": work.csr("p256"), "admin": True})
    assert_json_error(r, 400, prefix=SCHEMA_FAILURE.rstrip("."))


@pytest.mark.parametrize("value", [42, None, ["x"], {"pem": "x"}, True])
def test_csr_not_a_string_refused(tenant, value):
    r = tenant.post(CERTS, {"csr": value})
    assert_json_error(r, 400, prefix=SCHEMA_FAILURE.rstrip("."))


def test_missing_csr_refused(tenant):
    r = tenant.post(CERTS, {})
    assert_json_error(r, 400, prefix=SCHEMA_FAILURE.rstrip("."))


def test_body_not_an_object_refused(tenant, work):
    r = tenant.post(CERTS, [work.csr("p256")])
    assert_json_error(r, 400)


def test_pem_over_65536_characters_refused(tenant):
    line = "A" * 64 + "\n"
    pem = "-----BEGIN CERTIFICATE REQUEST-----\n" + line * 1100 + \
        "-----END CERTIFICATE REQUEST-----"
    assert len(pem) > 65536
    r = tenant.post(CERTS, {"csr": pem})
    assert_json_error(r, 400, prefix=SCHEMA_FAILURE.rstrip("."))


@pytest.mark.parametrize("pem", [
    "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
    "-----BEGIN CERTIFICATE REQUEST-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n-----END CERTIFICATE REQUEST-----",
    "not a pem at all",
    "",
])
def test_garbage_pem_refused(tenant, pem):
    r = tenant.post(CERTS, {"csr": pem})
    assert_json_error(r, 400)


def test_certificate_instead_of_csr_refused(tenant, ca_pem):
    r = tenant.post(CERTS, {"csr": ca_pem})
    assert_json_error(r, 400)


def test_duplicate_csr_key_refused(tenant, work):
    c = json.dumps(work.csr("p256"))
    body = '{"csr": ' + c + ', "csr": ' + c + "}"
    r = tenant.post(CERTS, body, headers={"Content-Type": "application/json"})
    assert_json_error(r, 400)


@pytest.mark.parametrize("tail", ["x", "}", '{"csr": "y"}', "\x00"])
def test_trailing_garbage_refused(tenant, work, tail):
    body = json.dumps({"csr": work.csr("p256")}) + tail
    r = tenant.post(CERTS, body, headers={"Content-Type": "application/json"})
    assert_json_error(r, 400)


def test_embedded_nul_refused(tenant, work):
    csr = work.csr("p256")
    body = json.dumps({"csr": csr.replace("\n", "\u0000\n", 1)})
    r = tenant.post(CERTS, body, headers={"Content-Type": "application/json"})
    assert_json_error(r, 400)


@pytest.mark.parametrize("body", [b"", b"{", b"null", b"\xff\xfe", b'{"csr": "\\ud800"}'])
def test_malformed_json_refused(tenant, body):
    r = tenant.post(CERTS, body, headers={"Content-Type": "application/json"})
    assert_json_error(r, 400)


def test_refusals_change_nothing(tenant, work):
    before = tenant.get(CERTS).json()["paging"]["totalItems"]
    for kind in ("rsa1024", "secp256k1"):
        tenant.post(CERTS, {"csr": work.csr(kind)})
    tenant.post(CERTS, {"csr": work.csr("p256", subject="/O=x/CN=y")})
    assert tenant.get(CERTS).json()["paging"]["totalItems"] == before


def test_body_over_nginx_limit_is_413_json(tenant):
    r = tenant.post(CERTS, b"{" + b" " * (1024 * 1024 + 10) + b"}",
                    headers={"Content-Type": "application/json"})
    assert_json_error(r, 413)
