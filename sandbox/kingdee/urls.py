"""URLs of the simulator (mounted under /sandbox/ by sandbox.urls)."""

urlpatterns: list = []
