"""Models of flows."""
