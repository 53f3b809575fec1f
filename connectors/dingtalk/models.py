"""Models of connectors.dingtalk."""
