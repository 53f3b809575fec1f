"""Models of sandbox.fx."""
