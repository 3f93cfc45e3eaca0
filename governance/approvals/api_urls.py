from rest_framework.routers import SimpleRouter

from governance.approvals import api

router = SimpleRouter()
router.register("requests", api.RequestViewSet, basename="approvals-request")

urlpatterns = router.urls
