from django.urls import path

from governance.core import views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("ping/", views.ping, name="ping"),
    path("healthz", views.healthz, name="healthz"),
]
