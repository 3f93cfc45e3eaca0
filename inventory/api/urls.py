from django.urls import path
from rest_framework.routers import SimpleRouter

from inventory.api import views
from inventory.api.diversity import OsDiversityView
from inventory.api.exposure import ExposureView

router = SimpleRouter()
router.register("clusters", views.ClusterViewSet, basename="inventory-cluster")
router.register("nodes", views.NodeViewSet, basename="inventory-node")
router.register("storage", views.StorageViewSet, basename="inventory-storage")
router.register("vms", views.VirtualMachineViewSet, basename="inventory-vm")
router.register("residency", views.ResidencyViewSet, basename="inventory-residency")
router.register("copies", views.CopyViewSet, basename="inventory-copy")
router.register("lineage", views.LineageViewSet, basename="inventory-lineage")
router.register("tasks", views.TaskViewSet, basename="inventory-task")
router.register("sync-runs", views.SyncRunViewSet, basename="inventory-syncrun")

urlpatterns = [
    path("exposure/", ExposureView.as_view(), name="inventory-exposure"),
    path("os-diversity/", OsDiversityView.as_view(), name="inventory-os-diversity"),
    *router.urls,
]
