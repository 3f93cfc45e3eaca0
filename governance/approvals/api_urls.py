from rest_framework.routers import SimpleRouter

from governance.approvals import api, api_quotas

router = SimpleRouter()
router.register("requests", api.RequestViewSet, basename="approvals-request")
router.register("quotas", api_quotas.TeamQuotaViewSet, basename="approvals-quota")

urlpatterns = router.urls
