"""The ownership VM list (what every dashboard number links to) and bulk assignment.

Bulk assignment posts to the list's own URL query, so "every VM matching the filter"
is rebuilt on the server from the same filters, through the same permission-scoped
queryset, and never from a list of ids the browser sent. Ticked rows narrow that
queryset further (``pk__in`` over it), so a forged id outside it changes nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from governance.core.tables import query_url, sort_headers
from governance.ownership.forms import BulkAssignForm, OwnershipFilterForm
from governance.ownership.lists import owned_vm_list, owned_vm_matches
from governance.ownership.services import ownership_assign_bulk
from inventory.keyset import InvalidCursor, keyset_paginate
from inventory.models import VirtualMachine

PAGE_SIZE = 50
MATCHING_CAP = 1000
ASSIGN_PERMISSION = "ownership.add_ownership"
# The assignment form shares field names (owner, team) with the filter form on one page.
ASSIGN_PREFIX = "assign"

_COLUMNS = (
    ("Name", "name"),
    ("VMID", "vmid"),
    ("Cluster", "cluster"),
    ("Status", "status"),
    ("Owner", None),
    ("Custodian", None),
    ("Team", None),
    ("Lease ends", None),
    ("First seen", "first_seen"),
)
# Parameters that move around one listing rather than choose it.
_NAVIGATION_PARAMS = ("sort", "cursor")


def _filtered(request: HttpRequest, form: OwnershipFilterForm) -> QuerySet[VirtualMachine]:
    return owned_vm_list(
        user=request.user, filters=form.filters(), ownership=form.ownership_filters()
    )


def _matches(request: HttpRequest, form: OwnershipFilterForm) -> QuerySet[VirtualMachine]:
    return owned_vm_matches(
        user=request.user, filters=form.filters(), ownership=form.ownership_filters()
    )


def _filter_query(request: HttpRequest) -> str:
    query = request.GET.copy()
    for name in _NAVIGATION_PARAMS:
        query.pop(name, None)
    return query.urlencode()


@login_required
def vm_list_view(request: HttpRequest) -> HttpResponse:
    form = OwnershipFilterForm(request.GET)
    can_assign = request.user.has_perm(ASSIGN_PERMISSION)
    rows, next_url, previous_url, cursor_error, sort, matching = [], None, None, "", "", None
    if form.is_valid():
        sort, order = form.order()
        queryset = _filtered(request, form)
        try:
            page = keyset_paginate(
                queryset, order=order, cursor=request.GET.get("cursor"), size=PAGE_SIZE
            )
        except InvalidCursor:
            cursor_error = "That page link has expired; showing the first page."
            page = keyset_paginate(queryset, order=order, cursor=None, size=PAGE_SIZE)
        rows = page.rows
        next_url = query_url(request, cursor=page.next_cursor) if page.next_cursor else None
        if page.previous_cursor:
            previous_url = query_url(request, cursor=page.previous_cursor)
        # Only the assigning admin needs the size of "every match": one COUNT, capped so
        # it stops early on a filter matching most of a large fleet (the dashboard has the
        # exact figures).
        if can_assign:
            matching = _matches(request, form).order_by()[: MATCHING_CAP + 1].count()
    filter_query = _filter_query(request)
    return render(
        request,
        "ownership/vm_list.html",
        {
            "form": form,
            "rows": rows,
            "headers": sort_headers(request, _COLUMNS, sort),
            "sort": sort,
            "next_url": next_url,
            "previous_url": previous_url,
            "cursor_error": cursor_error,
            "filtered": bool(filter_query),
            "filter_query": filter_query,
            "can_assign": can_assign,
            "matching": matching,
            "matching_cap": MATCHING_CAP,
            "assign_form": BulkAssignForm(prefix=ASSIGN_PREFIX) if can_assign else None,
        },
        status=200 if form.is_valid() else 400,
    )


@login_required
@require_POST
def bulk_assign_view(request: HttpRequest) -> HttpResponse:
    """Assign the ticked VMs, or every VM the query's filters match, in one transaction."""
    if not request.user.has_perm(ASSIGN_PERMISSION):
        raise PermissionDenied
    back = f"{reverse('ownership:vms')}?{_filter_query(request)}"
    filters = OwnershipFilterForm(request.GET)
    form = BulkAssignForm(request.POST, prefix=ASSIGN_PREFIX, vm_ids=request.POST.getlist("vm"))
    if not filters.is_valid():
        messages.error(request, "The filter is not valid; nothing was assigned.")
        return redirect(back)
    if not form.is_valid():
        for error in [*form.non_field_errors(), *_field_errors(form)]:
            messages.error(request, error)
        return redirect(back)
    queryset = _matches(request, filters)
    if form.cleaned_data["target"] == "selected":
        queryset = queryset.filter(pk__in=[int(pk) for pk in form.vm_ids])
    try:
        changed = ownership_assign_bulk(
            actor=request.user, vms_qs=queryset, **form.service_kwargs()
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect(back)
    count = changed if isinstance(changed, int) else len(changed)
    messages.success(request, f"Assigned {count} VM{'s' if count != 1 else ''}.")
    return redirect(back)


def _field_errors(form: BulkAssignForm) -> list[str]:
    return [
        f"{form.fields[name].label or name.replace('_', ' ').capitalize()}: {error}"
        for name, errors in form.errors.items()
        if name != "__all__"
        for error in errors
    ]
