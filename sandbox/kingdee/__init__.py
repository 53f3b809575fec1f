"""Simulated Kingdee K3Cloud WebAPI server."""
