"""The signed-in person's notifications: list, mark one or all read."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from governance.notifications.selectors import notifications_for, unread_count
from governance.notifications.services import (
    notification_mark_read,
    notifications_mark_all_read,
)

PAGE_SIZE = 50


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(notifications_for(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "unread": unread_count(user=request.user)}
    return render(request, "notifications/list.html", context)


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    # Someone else's notification is invisible: 404, the same as one that never existed.
    if not notification_mark_read(user=request.user, notification_id=pk) and not (
        notifications_for(user=request.user).filter(pk=pk).exists()
    ):
        raise Http404
    return redirect("notifications:list")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    notifications_mark_all_read(user=request.user)
    return redirect("notifications:list")
