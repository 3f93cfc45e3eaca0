from django.urls import path, re_path

from governance.ownership.views import dashboards, vms

app_name = "ownership"

urlpatterns = [
    path("", dashboards.dashboard_view, name="dashboard"),
    path("mine/", dashboards.mine_view, name="mine"),
    path("teams/", dashboards.team_index_view, name="teams"),
    path("teams/<slug:slug>/", dashboards.team_view, name="team"),
    re_path(r"^export\.(?P<fmt>csv|json)$", dashboards.export_view, name="export"),
    path("vms/", vms.vm_list_view, name="vms"),
    path("vms/assign/", vms.bulk_assign_view, name="assign-bulk"),
]
