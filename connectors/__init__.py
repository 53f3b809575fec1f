"""Connectors to the external systems; they know nothing of flows."""
