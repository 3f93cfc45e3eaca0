"""Pages of the shared kernel."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from kombu.exceptions import OperationalError

from governance.accounts.roles import Role, roles_of
from governance.core.forms import PingForm
from governance.core.tasks import ping_user

logger = logging.getLogger(__name__)


def _home_context(request: HttpRequest, ping_form: PingForm) -> dict:
    roles = roles_of(request.user)
    memberships = request.user.team_memberships.select_related("team").order_by("team__name")
    user = request.user
    return {
        "heading": f"Welcome, {user.first_name or user.get_username()}",
        "roles": [role for role in Role if role in roles],
        "memberships": memberships,
        "ping_form": ping_form,
    }


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html", _home_context(request, PingForm()))


@login_required
@require_POST
def ping(request: HttpRequest) -> HttpResponse:
    """Queue a ping through the worker; its echo arrives over the websocket.

    With htmx the form swaps itself for a fresh copy carrying the outcome; without
    JavaScript the browser is redirected home with a message.
    """
    form = PingForm(request.POST)
    is_htmx = request.headers.get("HX-Request") == "true"
    queued = False
    if form.is_valid():
        try:
            ping_user.delay(request.user.pk, form.cleaned_data["text"])
            queued = True
        except OperationalError:
            logger.exception("could not queue a ping for user %s", request.user.pk)
            form.add_error(None, "The task queue is unreachable; try again in a moment.")
    if is_htmx:
        return render(
            request,
            "core/_ping_form.html",
            {"ping_form": PingForm() if queued else form, "queued": queued},
        )
    if queued:
        messages.success(request, "Ping queued. Watch the activity panel.")
        return redirect("core:home")
    return render(request, "core/home.html", _home_context(request, form), status=400)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and compose health checks."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
