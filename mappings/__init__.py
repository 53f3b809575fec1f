"""Master-data mappings, code map, tax templates, account mappings, exchange rates."""
