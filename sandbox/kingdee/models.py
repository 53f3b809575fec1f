"""Models of sandbox.kingdee."""
