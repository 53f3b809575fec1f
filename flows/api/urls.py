"""Routes of the six flow endpoints; each flow adds its own."""

urlpatterns: list = []
