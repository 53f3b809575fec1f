"""The cause keys of tickets live in flows/causes.py (the engine computes them; issue 23 point
2: flows imports no monitoring). Re-exported here for the data migration that folded the
per-document tickets (0005_fold_ticket_causes)."""

from flows.causes import cause_key, normalised

__all__ = ["cause_key", "normalised"]
