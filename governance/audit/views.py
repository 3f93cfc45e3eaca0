"""The audit trail page (admins and auditors: ``audit.view_auditevent``)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from governance.audit.filters import AuditEventFilter
from governance.audit.models import AuditEvent
from governance.core.tables import Column, build_table


def _target(event: AuditEvent) -> str:
    if not event.target_content_type_id:
        return ""
    content_type = event.target_content_type
    return f"{content_type.app_label}.{content_type.model} #{event.target_id} {event.target_repr}"


@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
def event_list(request: HttpRequest) -> HttpResponse:
    filterset = AuditEventFilter(
        request.GET, queryset=AuditEvent.objects.select_related("target_content_type")
    )
    table = build_table(
        request=request,
        queryset=filterset.qs,
        columns=[
            Column("#", "sequence", sort_key="sequence", numeric=True),
            Column(
                "When",
                lambda event: timezone.localtime(event.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                sort_key="created",
            ),
            Column("Actor", "actor_repr", sort_key="actor"),
            Column("Action", "action", sort_key="action"),
            Column("Target", _target),
        ],
        sorts={
            "sequence": "sequence",
            "created": "created_at",
            "actor": ("actor_repr", "sequence"),
            "action": ("action", "sequence"),
        },
        default_sort="-sequence",
        page_size=50,
    )
    return render(request, "audit/event_list.html", {"filter_form": filterset.form, "table": table})
