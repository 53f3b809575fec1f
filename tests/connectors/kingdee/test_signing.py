"""S3: the signature headers are exactly the official SDK's (the test vectors of
docs/protocols/kingdee.md §1.2)."""

from unittest import mock

from k3cloud_webapi_sdk.main import K3CloudApiSdk

from connectors.kingdee import signing
from sandbox.kingdee import auth as sandbox_auth

VECTOR = {
    "acct_id": "1234567890abcd",
    "username": "demo",
    "app_id": "100001_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX",
    "app_secret": "0123456789abcdef0123456789abcdef",
    "lcid": 2052,
    "org_number": 0,
}
URL = (
    "http://127.0.0.1:8080/k3cloud/"
    "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc"
)


def test_protocol_test_vectors():
    """GIVEN the published inputs (docs/protocols/kingdee.md §1.2) THEN every derived value
    matches it."""
    headers = signing.signature_headers(url=URL, timestamp=1700000000, **VECTOR)
    assert signing.gateway_secret(VECTOR["app_id"]) == "MDE3N2I2PzBrPzg4OD45N3IhK3B1InIk"
    assert headers["X-Kd-Appdata"] == "MTIzNDU2Nzg5MGFiY2QsZGVtbywyMDUyLDA="
    assert headers["X-Kd-Signature"] == (
        "YTAxMjg0MWNiNWU2MGRkZTZjZWJkMDZjNjgzMjFiN2VhNTMyOTk1YTNjZDQ0NDA0ZmExMjQ3NjZkYzI3MWVhYQ=="
    )
    assert headers["X-Api-Signature"] == (
        "NzI2MjZlOGJiNjBiYTJkYzM3NTU3NTI0ZGE3YWY4MDhmMDNhMmZmOTc0ZGI4ZWJiYjg0NWFiYWFiNzIwZTczNg=="
    )
    assert headers["X-Api-ClientID"] == "100001"


def test_sdk_sample_secret_decodes_as_documented():
    """The SDK's own sample app-id segment decodes to the documented gateway secret, and the
    SDK's DecodeAppSecret agrees (its random digits are dropped, as docs/protocols/kingdee.md
    §1.2 says)."""
    from k3cloud_webapi_sdk.util import encode_util

    sample = "72epSbtEQMC92Vwt2d3LRa9LRqSc1tqJ"
    assert signing.gateway_secret(f"x_{sample}") == "31ecfd13effe724e7e78fc17f8f94b66"
    assert encode_util.DecodeAppSecret(sample) == signing.gateway_secret(f"x_{sample}")
    assert signing.gateway_secret("no-underscore") == ""


def test_headers_equal_the_official_sdk_build_header():
    """GIVEN the same identity and clock THEN our headers equal the SDK's BuildHeader."""
    sdk = K3CloudApiSdk("http://127.0.0.1:8080/k3cloud/")
    sdk.InitConfig(
        VECTOR["acct_id"],
        VECTOR["username"],
        VECTOR["app_id"],
        VECTOR["app_secret"],
        "http://127.0.0.1:8080/k3cloud/",
        lcid=2052,
        org_num=0,
    )
    with mock.patch("time.time", return_value=1700000000.4):
        theirs = sdk.BuildHeader(URL)
    ours = signing.signature_headers(url=URL, timestamp=1700000000, **VECTOR)
    for name, value in ours.items():
        assert theirs[name] == value, name


def test_sandbox_verifier_is_an_independent_match():
    """The sandbox's own implementation derives the same gateway secret and login sign."""
    assert sandbox_auth.gateway_secret(VECTOR["app_id"]) == signing.gateway_secret(VECTOR["app_id"])
    assert sandbox_auth.login_sign("a", "b", "c", "d", "1") == signing.login_sign(
        acct_id="a", username="b", app_id="c", app_secret="d", timestamp=1
    )
