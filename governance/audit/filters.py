"""Filters of the audit trail, shared by the page and the API so both answer alike."""

from __future__ import annotations

import django_filters
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet

from governance.audit.models import AuditEvent


def _target_type_choices() -> list[tuple[str, str]]:
    return [
        (f"{ct.app_label}.{ct.model}", f"{ct.app_label}.{ct.model}")
        for ct in ContentType.objects.order_by("app_label", "model")
    ]


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        field_name="actor_repr", lookup_expr="icontains", label="Actor"
    )
    action = django_filters.CharFilter(lookup_expr="istartswith", label="Action starts with")
    target_type = django_filters.ChoiceFilter(
        choices=_target_type_choices, method="filter_target_type", label="Target type"
    )
    since = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="From (ISO date/time)"
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="Until (ISO date/time)"
    )
    q = django_filters.CharFilter(method="filter_text", label="Text")

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_target_type(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        app_label, _, model = value.partition(".")
        return queryset.filter(
            target_content_type__app_label=app_label, target_content_type__model=model
        )

    def filter_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Q(action__icontains=value)
            | Q(actor_repr__icontains=value)
            | Q(target_repr__icontains=value)
            | Q(target_id=value)
            | Q(request_id=value)
        )
