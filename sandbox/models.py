"""Models of sandbox."""
