"""Models of connectors.fx."""
