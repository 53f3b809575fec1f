"""Models of sandbox.jushuitan."""
