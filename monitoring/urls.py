"""Monitoring pages, mounted at /monitoring/: board, search, tickets, metrics."""

from django.urls import path

from .views import board, checklist, guided, metrics, search, tickets

app_name = "monitoring"

urlpatterns = [
    path("board/", board.board, name="board"),
    path("board/data/", board.board_data, name="board-data"),
    path("search/", search.search, name="search"),
    path("tickets/", tickets.ticket_list, name="tickets"),
    path("tickets/bulk/", tickets.ticket_bulk, name="tickets-bulk"),
    path("tickets/<int:pk>/", tickets.ticket_detail, name="ticket"),
    path("tickets/<int:pk>/<slug:action>/", tickets.ticket_action, name="ticket-action"),
    path("metrics", metrics.metrics, name="metrics"),
    path("checklist/", checklist.checklist, name="checklist"),
    path("setup/", guided.guided_setup, name="guided-setup"),
]
