"""The simulated robots check what the real ones check (O2): raw HTTP, no portal client."""

import base64
import hashlib
import hmac
import json
import time

import pytest
import requests

from sandbox import faults
from sandbox.robots.models import ReceivedMessage
from tests.fixtures.monitoring import DINGTALK, FEISHU, WECOM, inbox

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {"msgtype": "text", "text": {"content": "[ERP-SYNC] 订单同步失败 3 单"}}


def _dingtalk_url(live_server, *, timestamp_ms=None, secret=DINGTALK["secret"], sign=None):
    timestamp_ms = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    if sign is None:
        digest = hmac.new(
            secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
        ).digest()
        sign = base64.b64encode(digest).decode()
    return f"{live_server.url}/sandbox/robots/dingtalk/robot/send", {
        "access_token": DINGTALK["token"],
        "timestamp": str(timestamp_ms),
        "sign": sign,
    }


def _post(url, params=None, body=BODY):
    return requests.post(
        url,
        params=params,
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
        timeout=10,
    )


def test_o2_dingtalk_accepts_a_correct_signature(live_server, sandbox_dingtalk_robot):
    url, params = _dingtalk_url(live_server)
    assert _post(url, params).json() == {"errcode": 0, "errmsg": "ok"}
    assert inbox(DINGTALK["token"]).get().signature_checked


def test_o2_dingtalk_signature_encoded_twice_is_rejected(live_server, sandbox_dingtalk_robot):
    """GIVEN a client that URL-encodes the sign itself and lets requests encode it again
    (the known cause of 'sign not match') THEN the robot answers 310000."""
    url, params = _dingtalk_url(live_server)
    params["sign"] = requests.utils.quote(params["sign"], safe="")
    answer = _post(url, params).json()
    assert answer["errcode"] == 310000


def test_o2_dingtalk_timestamp_more_than_an_hour_off(live_server, sandbox_dingtalk_robot):
    """GIVEN a correct signature over a timestamp 61 minutes old THEN 310000."""
    url, params = _dingtalk_url(live_server, timestamp_ms=int(time.time() * 1000) - 61 * 60_000)
    assert _post(url, params).json()["errcode"] == 310000
    url, params = _dingtalk_url(live_server, timestamp_ms=int(time.time() * 1000) - 59 * 60_000)
    assert _post(url, params).json()["errcode"] == 0


def test_o2_dingtalk_missing_token_bad_json_bad_type_too_long(live_server, sandbox_dingtalk_robot):
    base = f"{live_server.url}/sandbox/robots/dingtalk/robot/send"
    assert _post(base).json()["errcode"] == 40035
    url, params = _dingtalk_url(live_server)
    answer = requests.post(url, params=params, data=b"{not json", timeout=10).json()
    assert answer["errcode"] == 40035
    assert _post(url, params, body={"msgtype": "voice"}).json()["errcode"] == 40008
    big = {"msgtype": "text", "text": {"content": "x" * 20001}}
    assert _post(url, params, body=big).json()["errcode"] == 460101
    assert inbox(DINGTALK["token"], accepted=True).count() == 0


def test_o2_dingtalk_limit_and_ten_minute_penalty(live_server, sandbox_dingtalk_robot):
    """GIVEN 20 accepted messages in a minute WHEN a 21st comes THEN 130101, and the robot
    keeps refusing for 10 minutes even when the minute has passed."""
    url, params = _dingtalk_url(live_server)
    for _ in range(20):
        assert _post(url, params).json()["errcode"] == 0
    answer = _post(url, params).json()
    assert answer == {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
    sandbox_dingtalk_robot.refresh_from_db()
    remaining = (sandbox_dingtalk_robot.throttled_until.timestamp() - time.time()) / 60
    assert 9.5 < remaining <= 10
    ReceivedMessage.objects.filter(accepted=True).delete()  # the minute has passed
    assert _post(url, params).json()["errcode"] == 130101


def test_o2_feishu_checks_body_signature_and_keyword(live_server, sandbox_feishu_robot):
    sandbox_feishu_robot.keyword = "告警"
    sandbox_feishu_robot.save()
    url = f"{live_server.url}/sandbox/robots/feishu/open-apis/bot/v2/hook/{FEISHU['token']}"
    timestamp = str(int(time.time()))
    key = f"{timestamp}\n{FEISHU['secret']}".encode()
    sign = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    body = {"timestamp": timestamp, "sign": sign, "msg_type": "text"}
    ok = _post(url, body={**body, "content": {"text": "库存同步告警"}}).json()
    assert ok["code"] == 0 and ok["msg"] == "success"
    no_keyword = _post(url, body={**body, "content": {"text": "库存同步失败"}}).json()
    assert no_keyword["code"] == 19024
    wrong = _post(url, body={**body, "sign": "AAAA", "content": {"text": "告警"}}).json()
    assert wrong["code"] == 19021
    unknown = _post(url.replace(FEISHU["token"], "nope"), body=body).json()
    assert unknown["code"] == 19001
    stored = inbox(FEISHU["token"]).first().body
    assert stored["sign"] == "***"  # the inbox never keeps a signature


def test_o2_wecom_key_limit_and_length(live_server, sandbox_wecom_robot):
    url = f"{live_server.url}/sandbox/robots/wecom/cgi-bin/webhook/send"
    params = {"key": WECOM["token"]}
    for _ in range(20):
        assert _post(url, params).json()["errcode"] == 0
    assert _post(url, params).json()["errcode"] == 45009
    assert _post(url, {"key": "nope"}).json()["errcode"] == 93000
    long_text = {"msgtype": "text", "text": {"content": "x" * 2049}}
    assert _post(url, params, body=long_text).json()["errcode"] == 40058


def test_o2_fault_injection_on_the_robots(live_server, sandbox_dingtalk_robot):
    """GIVEN fault profiles for system 'robots' THEN the robot fails the way it is told to."""
    url, params = _dingtalk_url(live_server)
    faults.set_profile("robots", error_rate=1)
    assert _post(url, params).status_code == 500
    faults.set_profile("robots", rate_limit_rate=1)
    assert _post(url, params).json()["errcode"] == 130101
    faults.set_profile("robots", busy_rate=1)
    assert _post(url, params).json()["errcode"] == -1
    faults.set_profile("robots")
    assert _post(url, params).json()["errcode"] == 0
    assert [m.errcode for m in inbox(DINGTALK["token"])] == [500, 130101, -1, 0]


def test_o2_inbox_page_and_json(live_server, sandbox_dingtalk_robot):
    """GIVEN received messages THEN a person sees them on the inbox page; machines get JSON."""
    url, params = _dingtalk_url(live_server)
    _post(url, params)
    page = requests.get(f"{live_server.url}/sandbox/robots/inbox/", timeout=10)
    assert page.status_code == 200
    assert "订单同步失败" in page.text
    data = requests.get(
        f"{live_server.url}/sandbox/robots/inbox/",
        params={"format": "json", "robot": DINGTALK["token"]},
        timeout=10,
    ).json()
    assert data["count"] == 1
    assert data["messages"][0]["signature_checked"] is True


def test_o2_inbox_admin_is_read_only(admin_client, live_server, sandbox_dingtalk_robot):
    url, params = _dingtalk_url(live_server)
    _post(url, params)
    message = ReceivedMessage.objects.get()
    assert admin_client.get("/admin/sandbox_robots/receivedmessage/").status_code == 200
    assert admin_client.get("/admin/sandbox_robots/receivedmessage/add/").status_code == 403
    detail = admin_client.get(f"/admin/sandbox_robots/receivedmessage/{message.pk}/change/")
    assert detail.status_code == 200
    assert b'name="content"' not in detail.content  # shown, not editable
