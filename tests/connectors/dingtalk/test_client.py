"""Group robot clients against the sandbox robots, over real HTTP (O2, S3)."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib import messages
from django.core.exceptions import ValidationError

from connectors.dingtalk.client import (
    DingTalkRobotClient,
    RobotMessage,
    client_for,
    dingtalk_sign,
    feishu_sign,
)
from connectors.dingtalk.errors import RobotConfigurationError
from connectors.dingtalk.models import RobotChannel, mask_webhook_url
from connectors.dingtalk.validators import validate_webhook_url
from connectors.errors import RateLimited, TransientError
from connectors.observe import remote_call
from core import crypto
from sandbox import faults
from tests.fixtures.monitoring import DINGTALK, FEISHU, WECOM, inbox, make_channel

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGE = RobotMessage(
    title="同步失败",
    markdown="### 销售出库同步失败\n- 店铺: Amazon US\n- 失败: 3",
    mobiles=("13800000000",),
    user_ids=("user123",),
)


def test_o2_signatures_match_the_protocol_test_vectors():
    """GIVEN the test vectors of docs/protocols/alerts-fx-customs.md §1.1-1.2 WHEN signing
    THEN the documented digests come out."""
    assert (
        dingtalk_sign(secret="SECexample0123456789", timestamp_ms=1700000000000)
        == "figG6qqCA/lRh0hsGCW2zNtNV5znkAFut5BI0zKhqnQ="
    )
    assert (
        feishu_sign(secret="examplesecret", timestamp_s=1700000000)
        == "cEt80JCQwBhFVQnPiYqO9uv+3rPYgwG9tbXReZdlAqM="
    )


def test_o2_dingtalk_signed_markdown_is_verified_and_recorded(robot_channel):
    """GIVEN a signed DingTalk channel WHEN a markdown message with @ is sent THEN the
    sandbox verifies the signature, accepts it and records title, text and mentions."""
    answer = client_for(robot_channel).send(MESSAGE)
    assert answer.body == {"errcode": 0, "errmsg": "ok"}
    received = inbox(DINGTALK["token"]).get()
    assert received.accepted and received.signature_checked
    assert received.msgtype == "markdown"
    assert received.title == "同步失败"
    assert "店铺: Amazon US" in received.content
    assert "@13800000000" in received.content  # the highlight needs the @ in the text
    assert received.at_mobiles == ["13800000000"]
    assert received.at_user_ids == ["user123"]


def test_o2_dingtalk_text_message(robot_channel):
    client_for(robot_channel).send(RobotMessage(title="t", markdown="纯文本告警", as_text=True))
    received = inbox(DINGTALK["token"]).get()
    assert received.msgtype == "text" and received.content == "纯文本告警"


def test_o2_wrong_secret_is_rejected_with_the_real_code(live_server, robot_channel):
    """GIVEN a channel with a wrong secret WHEN sending THEN the robot answers 310000 and the
    client raises a configuration error (not retried)."""
    robot_channel.secret = "SECwrong-secret"
    robot_channel.save()
    with pytest.raises(RobotConfigurationError) as caught:
        client_for(robot_channel).send(MESSAGE)
    assert caught.value.code == 310000
    assert "sign not match" in caught.value.remote_message
    rejected = inbox(DINGTALK["token"]).get()
    assert not rejected.accepted and rejected.errcode == 310000


def test_o2_unknown_token_and_missing_signature(live_server, robot_channel):
    unknown = make_channel(live_server, "dingtalk", "no-such-token", DINGTALK["secret"], name="x")
    with pytest.raises(RobotConfigurationError) as caught:
        client_for(unknown).send(MESSAGE)
    assert caught.value.code == 300001
    robot_channel.secret = ""  # the robot signs, the channel does not
    robot_channel.save()
    with pytest.raises(RobotConfigurationError) as caught:
        client_for(robot_channel).send(MESSAGE)
    assert caught.value.code == 310000


def test_o2_keyword_is_added_when_the_robot_requires_one(robot_channel, sandbox_dingtalk_robot):
    """GIVEN a robot with keyword security WHEN the channel knows the keyword THEN messages
    pass; without it the robot answers 310000 'keywords not in content'."""
    sandbox_dingtalk_robot.keyword = "ERP告警"
    sandbox_dingtalk_robot.save()
    with pytest.raises(RobotConfigurationError) as caught:
        client_for(robot_channel).send(MESSAGE)
    assert caught.value.remote_message == "keywords not in content"
    robot_channel.keyword = "ERP告警"
    robot_channel.save()
    client_for(robot_channel).send(MESSAGE)
    accepted = inbox(DINGTALK["token"], accepted=True).get()
    assert "ERP告警" in accepted.content


def test_o2_dingtalk_limit_answers_130101_and_throttles(robot_channel, sandbox_dingtalk_robot):
    """GIVEN the real limit of 20 messages a minute WHEN a 21st is posted THEN the robot
    answers 130101, the client raises RateLimited (retry after 10 minutes) and the robot
    stays throttled."""
    client = client_for(robot_channel)
    for number in range(20):
        client.send(RobotMessage(title=f"#{number}", markdown=f"message {number}"))
    with pytest.raises(RateLimited) as caught:
        client.send(MESSAGE)
    assert caught.value.code == 130101
    assert caught.value.retry_after == 600
    sandbox_dingtalk_robot.refresh_from_db()
    assert sandbox_dingtalk_robot.throttled_until is not None
    assert inbox(DINGTALK["token"], accepted=True).count() == 20


def test_o2_long_messages_are_cut_to_the_vendor_limit(robot_channel):
    """GIVEN a 60 KB alert WHEN sent THEN it is cut below DingTalk's 20 000 bytes, not refused."""
    client_for(robot_channel).send(RobotMessage(title="long", markdown="错" * 20000))
    received = inbox(DINGTALK["token"]).get()
    assert received.accepted and received.size_bytes < 20000
    assert received.content.endswith("…")


def test_o2_feishu_signed_card_and_wrong_secret(live_server, feishu_channel):
    """GIVEN a signed Feishu channel WHEN sending THEN the card with @ arrives; a wrong
    secret gets 19021."""
    feishu_channel.at_user_ids = "ou_7d8a6e6df7621556ce0d21922b676706"
    feishu_channel.save()
    answer = client_for(feishu_channel).send(
        RobotMessage(
            title="告警",
            markdown="**失败** 3 单",
            user_ids=tuple(feishu_channel.at_user_id_list),
            at_all=True,
        )
    )
    assert answer.body["code"] == 0
    received = inbox(FEISHU["token"]).get()
    assert received.accepted and received.signature_checked
    assert received.msgtype == "interactive" and received.title == "告警"
    assert received.at_user_ids == ["ou_7d8a6e6df7621556ce0d21922b676706"]
    assert received.at_all
    feishu_channel.secret = "wrong"
    feishu_channel.save()
    with pytest.raises(RobotConfigurationError) as caught:
        client_for(feishu_channel).send(MESSAGE)
    assert caught.value.code == 19021


def test_o2_wecom_markdown_text_and_bad_key(live_server, wecom_channel):
    """GIVEN a WeCom channel WHEN sending with @mobile THEN a text message with
    mentioned_mobile_list arrives; without mentions markdown; an unknown key gets 93000."""
    client_for(wecom_channel).send(MESSAGE)
    client_for(wecom_channel).send(RobotMessage(title="告警", markdown="**失败** 3 单"))
    first, second = inbox(WECOM["token"])
    assert first.msgtype == "text" and first.at_mobiles == ["13800000000"]
    assert second.msgtype == "markdown" and second.content.startswith("## 告警")
    bad = make_channel(live_server, "wecom", "nope", "", name="bad wecom")
    with pytest.raises(RobotConfigurationError) as caught:
        client_for(bad).send(MESSAGE)
    assert caught.value.code == 93000


def test_o2_remote_call_signal_masks_token_and_signature(robot_channel, feishu_channel):
    """GIVEN a listener on remote_call WHEN messages are sent THEN neither the access token,
    the signature nor the Feishu hook id appears in what it receives."""
    calls = []

    def listen(sender, **kwargs):
        calls.append(kwargs)

    remote_call.connect(listen)
    try:
        client_for(robot_channel).send(MESSAGE)
        client_for(feishu_channel).send(MESSAGE)
    finally:
        remote_call.disconnect(listen)
    assert [c["system"] for c in calls] == ["dingtalk", "feishu"]
    text = repr(calls)
    for secret in (DINGTALK["token"], FEISHU["token"], DINGTALK["secret"], FEISHU["secret"]):
        assert secret not in text
    assert "access_token=***" in calls[0]["url"]
    assert calls[1]["request"]["sign"] == "***"
    assert calls[0]["status"] == 200 and calls[0]["error"] == ""


def test_o2_faults_become_transient_errors(robot_channel):
    """GIVEN fault injection on the robots WHEN the robot fails or is busy THEN the client
    raises TransientError (retried by the dispatcher), not a configuration error."""
    faults.set_profile("robots", error_rate=1)
    with pytest.raises(TransientError) as caught:
        client_for(robot_channel).send(MESSAGE)
    assert caught.value.code == 500
    faults.set_profile("robots", busy_rate=1)
    with pytest.raises(TransientError) as caught:
        client_for(robot_channel).send(MESSAGE)
    assert caught.value.code == -1


def test_o2_unreachable_robot_is_transient(allow_sandbox_hosts):
    client = DingTalkRobotClient(
        webhook_url="http://127.0.0.1:9/robot/send?access_token=x", timeout=2
    )
    with pytest.raises(TransientError):
        client.send(MESSAGE)


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize(
    ("url", "kind", "reason"),
    [
        ("http://oapi.dingtalk.com/robot/send?access_token=a", "dingtalk", "https"),
        ("https://10.0.0.8/robot/send?access_token=a", "dingtalk", "internal address"),
        ("https://169.254.169.254/robot/send?access_token=a", "dingtalk", "internal address"),
        ("https://localhost/robot/send?access_token=a", "dingtalk", "internal host"),
        ("https://robots.corp.internal/robot/send?access_token=a", "dingtalk", "internal host"),
        ("https://oapi.dingtalk.com/robot/send", "dingtalk", "access_token"),
        ("https://oapi.dingtalk.com/other?access_token=a", "dingtalk", "path"),
        ("https://open.feishu.cn/open-apis/bot/v2/hook/", "feishu", "hook id"),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "wecom", "key"),
        ("oapi.dingtalk.com/robot/send?access_token=a", "dingtalk", "full webhook URL"),
    ],
)
def test_s3_webhook_urls_are_validated(settings, url, kind, reason):
    """GIVEN no allowed internal hosts WHEN a webhook URL is not https to a public vendor
    address of the right shape THEN it is refused with a reason a person understands."""
    settings.ROBOT_ALLOWED_INTERNAL_HOSTS = []
    with pytest.raises(ValidationError) as caught:
        validate_webhook_url(url, kind=kind)
    assert reason in " ".join(caught.value.messages)


def test_s3_vendor_urls_and_allowed_sandbox_host_pass(settings):
    settings.ROBOT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]
    for url, kind in [
        ("https://oapi.dingtalk.com/robot/send?access_token=abc", "dingtalk"),
        ("https://open.feishu.cn/open-apis/bot/v2/hook/7a1b-uuid", "feishu"),
        ("https://open.larksuite.com/open-apis/bot/v2/hook/7a1b-uuid", "feishu"),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "wecom"),
        ("http://127.0.0.1:8000/sandbox/robots/dingtalk/robot/send?access_token=t", "dingtalk"),
    ]:
        validate_webhook_url(url, kind=kind)


@pytest.mark.usefixtures("english")
def test_s3_send_refuses_a_host_resolving_to_an_internal_address(settings):
    """GIVEN a host name that resolves to loopback WHEN sending THEN nothing is posted."""
    settings.ROBOT_ALLOWED_INTERNAL_HOSTS = []
    client = DingTalkRobotClient(webhook_url="https://localhost/robot/send?access_token=a")
    with pytest.raises(RobotConfigurationError, match="internal address"):
        client.send(MESSAGE)


def test_s3_channel_secrets_are_encrypted_and_masked(robot_channel):
    """GIVEN a saved channel THEN URL and secret are encrypted at rest and masked for display."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT webhook_url, secret FROM dingtalk_robotchannel WHERE id = %s",
            [robot_channel.pk],
        )
        stored_url, stored_secret = cursor.fetchone()
    assert crypto.is_encrypted(stored_url) and crypto.is_encrypted(stored_secret)
    assert DINGTALK["token"] not in stored_url
    masked = robot_channel.masked_webhook_url
    assert DINGTALK["token"] not in masked and "access_token=***" in masked
    assert "hook/***" in mask_webhook_url("https://open.feishu.cn/open-apis/bot/v2/hook/abc")
    assert parse_qs(urlsplit(robot_channel.webhook_url).query)["access_token"] == [
        DINGTALK["token"]
    ]


def test_s3_channel_limit_cannot_exceed_the_vendor_limit(robot_channel):
    robot_channel.limit_per_minute = 25
    with pytest.raises(ValidationError) as caught:
        robot_channel.full_clean()
    assert "limit_per_minute" in caught.value.message_dict
    assert RobotChannel(kind="feishu").effective_limit_per_minute == 90


def test_o2_admin_send_test_message(robot_channel, admin_client):
    """GIVEN an operator in the admin WHEN "send a test message" runs THEN the robot receives
    it and the admin reports success; a broken channel is reported as an error."""
    url = "/admin/dingtalk/robotchannel/"
    answer = admin_client.post(
        url,
        {"action": "send_test_message", "_selected_action": [robot_channel.pk]},
        follow=True,
    )
    assert answer.status_code == 200
    assert [m.level for m in answer.context["messages"]] == [messages.SUCCESS]
    assert inbox(DINGTALK["token"], accepted=True).count() == 1
    robot_channel.secret = "SECwrong"
    robot_channel.save()
    answer = admin_client.post(
        url,
        {"action": "send_test_message", "_selected_action": [robot_channel.pk]},
        follow=True,
    )
    assert [m.level for m in answer.context["messages"]] == [messages.ERROR]
    page = admin_client.get(url)
    assert DINGTALK["token"] not in page.content.decode()
