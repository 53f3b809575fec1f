"""Jushuitan (聚水潭) open API client."""
