"""Nodes and storage pages; admins set a storage's class inline (htmx)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from governance.core.permissions import can, get_object_or_404_for, restrict
from governance.core.tables import Column, build_table
from inventory.forms.clusters import StorageClassForm
from inventory.models import Node, Storage, StorageClass, StorageNodeStatus
from inventory.services.clusters import storage_classify


@login_required
def node_list(request: HttpRequest) -> HttpResponse:
    nodes = restrict(Node.objects.select_related("cluster"), request.user).annotate(
        guest_count=Count("guests", filter=Q(guests__gone_since__isnull=True))
    )
    if cluster := request.GET.get("cluster"):
        nodes = nodes.filter(cluster__name=cluster)
    table = build_table(
        request=request,
        queryset=nodes,
        columns=[
            Column("Cluster", "cluster.name", sort_key="cluster"),
            Column("Node", "name", sort_key="name"),
            Column("Status", "status", sort_key="status"),
            Column("CPUs", "maxcpu", numeric=True),
            Column("Memory", "maxmem", numeric=True),
            Column("Guests", "guest_count", sort_key="guests", numeric=True),
            Column("Last seen", "last_seen"),
        ],
        sorts={
            "cluster": ("cluster__name", "name"),
            "name": ("name", "cluster__name"),
            "status": ("status", "name"),
            "guests": "guest_count",
        },
        default_sort="cluster",
        page_size=50,
    )
    return render(request, "inventory/node_list.html", {"table": table})


@login_required
def storage_list(request: HttpRequest) -> HttpResponse:
    statuses = StorageNodeStatus.objects.select_related("node").order_by("node__name")
    storages = restrict(
        Storage.objects.select_related("cluster").prefetch_related(
            Prefetch("node_statuses", queryset=statuses)
        ),
        request.user,
    ).filter(gone_since__isnull=True)
    if cluster := request.GET.get("cluster"):
        storages = storages.filter(cluster__name=cluster)
    if storage_class := request.GET.get("class"):
        storages = storages.filter(storage_class=storage_class)
    table = build_table(
        request=request,
        queryset=storages,
        columns=[
            Column("Cluster", sort_key="cluster"),
            Column("Storage", sort_key="name"),
            Column("Type", sort_key="type"),
            Column("Shared"),
            Column("Content"),
            Column("Per node"),
            Column("Class", sort_key="class"),
        ],
        sorts={
            "cluster": ("cluster__name", "name"),
            "name": ("name", "cluster__name"),
            "type": ("plugintype", "name"),
            "class": ("storage_class", "name"),
        },
        default_sort="cluster",
        page_size=50,
    )
    may_classify = request.user.has_perm("inventory.change_storage")
    return render(
        request,
        "inventory/storage_list.html",
        {"table": table, "may_classify": may_classify, "storage_classes": StorageClass.choices},
    )


@require_POST
@login_required
def storage_class_set(request: HttpRequest, pk: int) -> HttpResponse:
    """Set one storage's class; answers htmx with the updated cell, others with a redirect."""
    storage = get_object_or_404_for(
        request.user, Storage.objects.select_related("cluster"), "change", pk=pk
    )
    form = StorageClassForm(request.POST)
    status = 200
    if form.is_valid():
        storage = storage_classify(
            actor=request.user, storage=storage, storage_class=form.cleaned_data["storage_class"]
        )
        note = f"{storage.name} is now {storage.get_storage_class_display()}."
    else:
        status, note = 400, "Choose one of the listed classes."
    if request.headers.get("HX-Request"):
        return render(
            request,
            "inventory/_storage_class_cell.html",
            {
                "row": storage,
                "may_classify": can(request.user, "change", storage),
                "storage_classes": StorageClass.choices,
                "note": note,
            },
            status=status,
        )
    (messages.success if status == 200 else messages.error)(request, note)
    return redirect("inventory:storage")
