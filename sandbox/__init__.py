"""Simulators of the external systems, mounted under /sandbox/ when enabled."""
