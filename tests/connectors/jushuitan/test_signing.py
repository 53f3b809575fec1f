"""The open-platform signature against the known values of
docs/protocols/jushuitan.md §1.3."""

from connectors.jushuitan.signing import dump_biz, sign

SECRET = "e9c5ca33fecb404b8e6cdbd0ef4a6d25"
APP_KEY = "5b53060f23d84ddf9703056e84fa5a2d"


def test_token_request_vector_from_the_official_signing_doc():
    """GIVEN the docId=70 token example WHEN signed THEN the published sign comes out (G4)."""
    params = {
        "app_key": APP_KEY,
        "timestamp": "1639128407",
        "grant_type": "authorization_code",
        "charset": "utf-8",
        "code": "123456",
    }
    assert sign(params, SECRET) == "05e3a51e19e0883afd1882ccd309e0b9"


def test_business_request_vector_with_raw_utf8_biz():
    """GIVEN a business call whose biz holds Chinese text unescaped THEN the known sign."""
    params = {
        "app_key": APP_KEY,
        "access_token": "d7b01bf0842a4742a9450e21ffd95f60",
        "timestamp": "1639128407",
        "charset": "utf-8",
        "version": "2",
        "biz": '{"page_index":"1","page_size":"100","nicks":["老板"]}',
    }
    assert sign(params, SECRET) == "395f5a78b446be465ac03a02491296c7"


def test_third_vector_and_sign_is_excluded_from_itself():
    params = {
        "access_token": "token",
        "app_key": "app",
        "biz": dump_biz({"page_index": 1, "page_size": 50}),
        "charset": "utf-8",
        "timestamp": "1785312000",
        "version": "2",
    }
    assert params["biz"] == '{"page_index":1,"page_size":50}'
    assert sign(params, "secret") == "63b407c8cb9317b230c24ec1536f4fa2"
    assert sign({**params, "sign": "whatever"}, "secret") == "63b407c8cb9317b230c24ec1536f4fa2"
