"""Simulated DingTalk / Feishu / WeCom robot receivers."""
