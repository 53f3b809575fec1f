"""Monitoring pages: board, tickets, search, checklist."""

urlpatterns: list = []
