"""REST API routes, one include per app."""

urlpatterns: list = []
