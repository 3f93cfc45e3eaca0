"""Cluster pages: the list, registration with its connection report, detail, "Sync now".

Anyone may open the list (it shows the clusters they may see, none for most roles
today); registering, disabling and syncing need the admins' ``change_cluster``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from governance.core.permissions import can, get_object_or_404_for, restrict
from governance.core.tables import Column, build_table
from inventory.forms.clusters import ClusterForm
from inventory.models import Cluster, Node, Storage, SyncRun
from inventory.services.clusters import (
    ClusterConnectionFailed,
    cluster_disable,
    cluster_enable,
    cluster_register,
    cluster_sync_request,
)
from inventory.services.connection import cluster_test_connection


@login_required
def cluster_list(request: HttpRequest) -> HttpResponse:
    clusters = restrict(Cluster.objects.all(), request.user).annotate(
        node_count=Count("nodes", filter=Q(nodes__gone_since__isnull=True), distinct=True),
        guest_count=Count("guests", filter=Q(guests__gone_since__isnull=True), distinct=True),
    )
    table = build_table(
        request=request,
        queryset=clusters,
        columns=[
            Column("Name", "name", sort_key="name"),
            Column("PVE", "pve_version"),
            Column("Nodes", "node_count", numeric=True),
            Column("Guests", "guest_count", sort_key="guests", numeric=True),
            Column("Last sync", "last_sync_at", sort_key="synced"),
            Column("Status", lambda c: c.get_last_sync_status_display()),
            Column("Enabled", lambda c: "yes" if c.enabled else "no"),
        ],
        sorts={"name": "name", "guests": "guest_count", "synced": "last_sync_at"},
        default_sort="name",
    )
    return render(request, "inventory/cluster_list.html", {"table": table})


@login_required
@permission_required("inventory.add_cluster", raise_exception=True)
def cluster_register_view(request: HttpRequest) -> HttpResponse:
    """GET shows the form; POST with ``action=test`` only tests, otherwise registers."""
    form = ClusterForm(request.POST or None)
    report = None
    if request.method == "POST" and form.is_valid():
        settings = form.trust_settings()
        if request.POST.get("action") == "test":
            report = cluster_test_connection(form.endpoint())
        else:
            try:
                registration = cluster_register(
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    url=form.cleaned_data["url"],
                    token_id=form.cleaned_data["token_id"],
                    token_secret=form.cleaned_data["token_secret"],
                    **settings,
                )
            except ClusterConnectionFailed as failure:
                report = failure.report
                form.add_error(None, report.message)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                for warning in registration.warnings:
                    messages.warning(request, warning)
                messages.success(
                    request,
                    f"Cluster {registration.cluster.name} registered "
                    f"(PVE {registration.report.version}); the first sync is queued.",
                )
                return redirect("inventory:cluster", name=registration.cluster.name)
    status = (
        400 if request.method == "POST" and (form.errors or (report and not report.ok)) else 200
    )
    return render(
        request, "inventory/cluster_register.html", {"form": form, "report": report}, status=status
    )


@login_required
def cluster_detail(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_object_or_404_for(request.user, Cluster.objects.all(), name=name)
    nodes = Node.objects.filter(cluster=cluster).annotate(
        guest_count=Count("guests", filter=Q(guests__gone_since__isnull=True))
    )
    storages = Storage.objects.filter(cluster=cluster, gone_since__isnull=True)
    runs = build_table(
        request=request,
        queryset=SyncRun.objects.filter(cluster=cluster),
        columns=[
            Column("Started", "started_at", sort_key="started"),
            Column("Finished", "finished_at"),
            Column("Status", lambda run: run.get_status_display()),
            Column("Full", lambda run: "yes" if run.full else ""),
            Column("Guests seen", lambda run: run.stats.get("guests_seen", ""), numeric=True),
            Column("API calls", lambda run: _calls(run.stats), numeric=True),
            Column("Error", "error"),
        ],
        sorts={"started": "started_at"},
        default_sort="-started",
        page_size=10,
        prefix="r",
    )
    return render(
        request,
        "inventory/cluster_detail.html",
        {
            "cluster": cluster,
            "nodes": nodes,
            "storages": storages,
            "runs": runs,
            "can_change": can(request.user, "change", cluster),
        },
    )


def _calls(stats: dict) -> int | str:
    calls = stats.get("api_calls")
    if isinstance(calls, dict):
        return sum(int(v) for v in calls.values() if isinstance(v, int | float))
    return calls if isinstance(calls, int) else ""


def _changeable(request: HttpRequest, name: str) -> Cluster:
    """404 for clusters the user cannot see, 403 for those they see but may not change."""
    return get_object_or_404_for(request.user, Cluster.objects.all(), "change", name=name)


@require_POST
@login_required
def cluster_sync(request: HttpRequest, name: str) -> HttpResponse:
    cluster = _changeable(request, name)
    try:
        cluster_sync_request(actor=request.user, cluster=cluster)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"A sync of {cluster.name} is queued.")
    return redirect("inventory:cluster", name=cluster.name)


@require_POST
@login_required
def cluster_toggle(request: HttpRequest, name: str) -> HttpResponse:
    cluster = _changeable(request, name)
    if cluster.enabled:
        cluster_disable(actor=request.user, cluster=cluster)
        messages.success(request, f"{cluster.name} is disabled: it is no longer synced.")
    else:
        cluster_enable(actor=request.user, cluster=cluster)
        messages.success(request, f"{cluster.name} is enabled again.")
    return redirect("inventory:cluster", name=cluster.name)
