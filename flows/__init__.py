"""The sync engine and the flows."""
