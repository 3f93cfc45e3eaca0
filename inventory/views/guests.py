"""The VM list (filters, one search box, sorting, keyset pages) and the VM page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from governance.core.permissions import restrict
from governance.core.tables import query_url, sort_headers
from inventory.forms.guests import VmFilterForm
from inventory.keyset import InvalidCursor, keyset_paginate
from inventory.models import Cluster
from inventory.selectors.guests import VM_SORTS, is_dormant, vm_get, vm_list
from inventory.selectors.os_releases import vm_os
from inventory.selectors.vm_page import vm_page

PAGE_SIZE = 50

_COLUMNS = (
    ("Name", "name"),
    ("VMID", "vmid"),
    ("Cluster", "cluster"),
    ("Node", None),
    ("Status", "status"),
    ("Kind", None),
    ("Tags", None),
    ("Class", None),
    ("Last seen", "last_seen"),
)


@login_required
def vm_list_view(request: HttpRequest) -> HttpResponse:
    form = VmFilterForm(request.GET)
    rows, next_url, previous_url, cursor_error = [], None, None, ""
    sort = ""
    if form.is_valid():
        sort, order = form.order()
        queryset = vm_list(user=request.user, filters=form.filters())
        try:
            page = keyset_paginate(
                queryset, order=order, cursor=request.GET.get("cursor"), size=PAGE_SIZE
            )
        except InvalidCursor:
            cursor_error = "That page link has expired; showing the first page."
            page = keyset_paginate(queryset, order=order, cursor=None, size=PAGE_SIZE)
        rows = page.rows
        if page.next_cursor:
            next_url = query_url(request, cursor=page.next_cursor)
        if page.previous_cursor:
            previous_url = query_url(request, cursor=page.previous_cursor)
    clusters = restrict(Cluster.objects.all(), request.user).values_list("name", flat=True)
    return render(
        request,
        "inventory/vm_list.html",
        {
            "form": form,
            "rows": [(vm, is_dormant(vm)) for vm in rows],
            "headers": sort_headers(request, _COLUMNS, sort, sortable=VM_SORTS),
            "sort": sort,
            "next_url": next_url,
            "previous_url": previous_url,
            "cursor_error": cursor_error,
            "clusters": list(clusters),
            "filtered": any(v for k, v in request.GET.items() if k not in ("sort", "cursor")),
        },
        status=200 if form.is_valid() else 400,
    )


@login_required
def vm_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """One guest; 404 when the user may not see it."""
    vm = vm_get(user=request.user, pk=pk)
    context = {"vm": vm, "dormant": is_dormant(vm), **vm_page(user=request.user, vm=vm)}
    context["os"] = vm_os(vm)
    return render(request, "inventory/vm_detail.html", context)
