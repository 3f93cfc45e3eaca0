from django.urls import path

from inventory.views import clusters, diversity, exposure, guests, infra

app_name = "inventory"

urlpatterns = [
    path("clusters/", clusters.cluster_list, name="clusters"),
    path("clusters/new/", clusters.cluster_register_view, name="cluster-register"),
    path("clusters/<slug:name>/", clusters.cluster_detail, name="cluster"),
    path("clusters/<slug:name>/sync/", clusters.cluster_sync, name="cluster-sync"),
    path("clusters/<slug:name>/toggle/", clusters.cluster_toggle, name="cluster-toggle"),
    path("nodes/", infra.node_list, name="nodes"),
    path("exposure/", exposure.exposure_view, name="exposure"),
    path("exposure.csv", exposure.exposure_csv_view, name="exposure-csv"),
    path(
        "exposure/node-options/",
        exposure.exposure_node_options_view,
        name="exposure-node-options",
    ),
    path("storage/", infra.storage_list, name="storage"),
    path("storage/<int:pk>/class/", infra.storage_class_set, name="storage-class"),
    path("vms/", guests.vm_list_view, name="vms"),
    path("vms/<int:pk>/", guests.vm_detail_view, name="vm"),
    path("os-diversity/", diversity.diversity_view, name="os-diversity"),
]
