"""The VM list (filters, one search box, sorting, keyset pages) and the VM page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from governance.core.permissions import restrict
from inventory.forms.guests import VmFilterForm
from inventory.keyset import InvalidCursor, keyset_paginate
from inventory.models import Cluster
from inventory.selectors.guests import VM_SORTS, is_dormant, vm_get, vm_list
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


def _url(request: HttpRequest, **changes: str | None) -> str:
    """The current query with ``changes`` applied (None removes a parameter)."""
    query = request.GET.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value is not None:
            query[key] = value
    return f"?{query.urlencode()}"


def _headers(request: HttpRequest, sort: str) -> list[dict]:
    """Column headers; clicking the sorted column flips it, any other starts ascending."""
    headers = []
    for label, key in _COLUMNS:
        direction = None
        if key is not None and sort.removeprefix("-") == key:
            direction = "desc" if sort.startswith("-") else "asc"
        url = None
        if key is not None and key in VM_SORTS:
            url = _url(request, sort=f"-{key}" if direction == "asc" else key, cursor=None)
        headers.append({"label": label, "url": url, "direction": direction})
    return headers


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
            next_url = _url(request, cursor=page.next_cursor)
        if page.previous_cursor:
            previous_url = _url(request, cursor=page.previous_cursor)
    clusters = restrict(Cluster.objects.all(), request.user).values_list("name", flat=True)
    return render(
        request,
        "inventory/vm_list.html",
        {
            "form": form,
            "rows": [(vm, is_dormant(vm)) for vm in rows],
            "headers": _headers(request, sort),
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
    return render(request, "inventory/vm_detail.html", context)
