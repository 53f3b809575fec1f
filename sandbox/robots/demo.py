"""The sandbox's demo robots (one per vendor) and their credentials."""

DEMO_ROBOTS = [
    {
        "vendor": "dingtalk",
        "name": "ERP 告警群 (DingTalk sandbox)",
        "token": "sandbox-dingtalk-token",
        "secret": "SECsandbox0123456789abcdef",
        "keyword": "",
    },
    {
        "vendor": "feishu",
        "name": "ERP 告警群 (Feishu sandbox)",
        "token": "sandbox-feishu-hook",
        "secret": "sandbox-feishu-secret",
        "keyword": "",
    },
    {
        "vendor": "wecom",
        "name": "ERP 告警群 (WeCom sandbox)",
        "token": "sandbox-wecom-key",
        "secret": "",
        "keyword": "",
    },
]
