"""Events, exception tickets, alerts, the process board, reconciliation."""
