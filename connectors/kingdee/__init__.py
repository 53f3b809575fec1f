"""Kingdee Cloud Galaxy (金蝶云星空) K3Cloud WebAPI client."""
