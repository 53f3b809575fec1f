"""Simulated exchange-rate sources (CFETS parity and a backup)."""
