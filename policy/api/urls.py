from django.urls import path
from rest_framework.routers import SimpleRouter

from policy.api import views

router = SimpleRouter()
router.register("policies", views.PolicyViewSet, basename="policy")
router.register("violations", views.ViolationViewSet, basename="policy-violation")
router.register("remediations", views.RemediationViewSet, basename="policy-remediation")
router.register("quarantines", views.QuarantineViewSet, basename="policy-quarantine")
router.register("exemptions", views.ExemptionViewSet, basename="policy-exemption")

urlpatterns = [
    path("dry-run/", views.DryRunView.as_view(), name="policy-dry-run"),
    *router.urls,
]
