"""The official Kingdee SDK (kingdee-cdp-webapi-sdk), configured with the sandbox's demo
credentials, works against the simulated server: signature, session and envelopes are real."""

import json

import pytest
from k3cloud_webapi_sdk.main import K3CloudApiSdk

from sandbox.kingdee.models import KdSession

pytestmark = pytest.mark.django_db(transaction=True)


def _sdk(url: str, settings, **overrides) -> K3CloudApiSdk:
    values = {
        "acct_id": settings.acct_id,
        "user_name": settings.username,
        "app_id": settings.app_id,
        "app_secret": settings.app_secret,
        "lcid": 2052,
    } | overrides
    sdk = K3CloudApiSdk(url, timeout=10)
    sdk.InitConfig(server_url=url, org_num=100, connect_timeout=10, request_timeout=10, **values)
    return sdk


def test_sdk_queries_and_saves_with_demo_credentials(live_server, kingdee_sandbox):
    """S3: GIVEN the SDK configured with the README demo credentials WHEN it queries and saves
    THEN the sandbox verifies its signature headers, opens a session and answers like K3Cloud."""
    url = f"{live_server.url}/sandbox/kingdee/k3cloud/"
    sdk = _sdk(url, kingdee_sandbox)
    rows = json.loads(
        sdk.ExecuteBillQuery(
            {"FormId": "BD_STOCK", "FieldKeys": "FNumber,FName", "OrderString": "FNumber ASC"}
        )
    )
    assert [r[0] for r in rows] == ["20001", "20002", "20003"]
    assert sdk.cookiesStore.SID  # the server issued kdservice-sessionid and the SDK kept it
    answer = json.loads(
        sdk.Save(
            "SAL_OUTSTOCK",
            {
                "Model": {
                    "FDate": "2026-05-01",
                    "FSaleOrgId": {"FNumber": "100"},
                    "FStockOrgId": {"FNumber": "100"},
                    "FCustomerID": {"FNumber": "10001"},
                    "F_PAEZ_PlatformOrderNo": "112-0000001-0000001",
                    "FEntity": [
                        {
                            "FMaterialID": {"FNumber": "SKU-PB-1001"},
                            "FStockID": {"FNumber": "20001"},
                            "FRealQty": 2,
                        }
                    ],
                }
            },
        )
    )
    status = answer["Result"]["ResponseStatus"]
    assert status["IsSuccess"] is True
    assert status["SuccessEntitys"][0]["Number"].startswith("XSCKD")
    assert answer["Result"]["Number"] == status["SuccessEntitys"][0]["Number"]
    # The SDK's later calls ride on the session: only one session was opened.
    assert KdSession.objects.count() == 1


def test_sdk_with_wrong_secret_gets_msgcode_1(live_server, kingdee_sandbox):
    """GIVEN a wrong app secret WHEN the SDK calls THEN the real MsgCode 1 shape comes back."""
    url = f"{live_server.url}/sandbox/kingdee/k3cloud/"
    sdk = _sdk(url, kingdee_sandbox, app_secret="0" * 32)
    rows = json.loads(sdk.ExecuteBillQuery({"FormId": "BD_STOCK", "FieldKeys": "FNumber"}))
    status = rows[0][0]["Result"]["ResponseStatus"]
    assert status["MsgCode"] == 1
    assert status["Errors"][0]["Message"] == "会话信息已丢失，请重新登录"
    answer = json.loads(sdk.View("SAL_OUTSTOCK", {"Number": "XSCKD000001"}))
    assert answer["Result"]["ResponseStatus"]["MsgCode"] == 1


def test_sdk_with_unknown_account_set_gets_non_200(live_server, kingdee_sandbox):
    """GIVEN an unknown account set id WHEN the SDK calls THEN a non-200 'Fail to verify
    thirty passport' answer (the SDK raises it)."""
    url = f"{live_server.url}/sandbox/kingdee/k3cloud/"
    sdk = _sdk(url, kingdee_sandbox, acct_id="000000000000aa")
    with pytest.raises(RuntimeError, match="Fail to verify thirty passport"):
        sdk.ExecuteBillQuery({"FormId": "BD_STOCK", "FieldKeys": "FNumber"})


def test_live_session_is_honoured_without_signature(live_server, kingdee_sandbox):
    """docs/protocols/kingdee.md §1.3: GIVEN a live session id WHEN a request carries it without
    any signature headers THEN the server serves it; a random id is not honoured (MsgCode 1)."""
    import requests

    url = f"{live_server.url}/sandbox/kingdee/k3cloud/"
    sdk = _sdk(url, kingdee_sandbox)
    sdk.ExecuteBillQuery({"FormId": "BD_STOCK", "FieldKeys": "FNumber"})
    service = (
        url + "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc"
    )
    body = {"data": {"FormId": "BD_STOCK", "FieldKeys": "FNumber"}}
    ok = requests.post(
        service, json=body, headers={"kdservice-sessionid": sdk.cookiesStore.SID}, timeout=5
    )
    assert len(ok.json()) == 3
    bad = requests.post(service, json=body, headers={"kdservice-sessionid": "nope"}, timeout=5)
    assert bad.json()[0][0]["Result"]["ResponseStatus"]["MsgCode"] == 1
