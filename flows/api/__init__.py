"""The REST endpoints of the flows (the six API paths of the brief)."""
