"""Simulated Jushuitan open API."""
