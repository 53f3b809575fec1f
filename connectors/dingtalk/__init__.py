"""DingTalk (and Feishu / WeCom) group robot clients."""
