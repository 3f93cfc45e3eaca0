from django.urls import path
from rest_framework.routers import SimpleRouter

from governance.ownership import api

router = SimpleRouter()
router.register("vms", api.VmOwnershipViewSet, basename="ownership-vm")
router.register("claims", api.ClaimViewSet, basename="ownership-claim")
router.register("transfers", api.TransferViewSet, basename="ownership-transfer")
router.register("rules", api.RuleViewSet, basename="ownership-rule")

urlpatterns = [
    path("dashboard/", api.DashboardView.as_view(), name="ownership-dashboard"),
    *router.urls,
]
