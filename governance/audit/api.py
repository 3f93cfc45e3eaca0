"""Read-only REST API over the audit trail (``/api/audit/events/``)."""

from __future__ import annotations

from rest_framework import pagination, permissions, serializers, viewsets

from governance.audit.filters import AuditEventFilter
from governance.audit.models import AuditEvent


class CanViewAuditTrail(permissions.BasePermission):
    """Admins and auditors: whoever holds ``audit.view_auditevent``."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm("audit.view_auditevent"))


class AuditEventSerializer(serializers.ModelSerializer):
    target_type = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "sequence",
            "created_at",
            "actor",
            "actor_repr",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "before",
            "after",
            "request_id",
            "prev_hash",
            "hash",
        ]

    def get_target_type(self, event: AuditEvent) -> str | None:
        content_type = event.target_content_type
        return f"{content_type.app_label}.{content_type.model}" if content_type else None


class AuditCursorPagination(pagination.CursorPagination):
    # The chain order is the one stable, unique order of the trail.
    ordering = "-sequence"
    page_size_query_param = "page_size"
    max_page_size = 500


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Events newest first; filter with ``actor``, ``action``, ``target_type``,
    ``since``/``until`` (ISO 8601) and ``q`` (free text)."""

    queryset = AuditEvent.objects.select_related("target_content_type")
    serializer_class = AuditEventSerializer
    permission_classes = [permissions.IsAuthenticated, CanViewAuditTrail]
    pagination_class = AuditCursorPagination
    filterset_class = AuditEventFilter
    # Cursor pagination needs one fixed order, so client-side ordering is off.
    ordering_fields: list[str] = []
    lookup_field = "sequence"
