"""Models of sandbox.robots."""
