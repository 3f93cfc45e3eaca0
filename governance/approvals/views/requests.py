"""Request pages: the per-kind request form, my requests, the inbox, one request.

Views stay thin: forms check what the inventory holds, the approvals services decide
and write (``request_submit``, ``request_approve``...); a service's ``ValidationError``
is shown where the user acted, never turned into a 500. A request the user may not see
answers 404, like a VM they may not see.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from governance.approvals.forms import FORMS, RequestForm
from governance.approvals.lists import (
    clusters_open_for_requests,
    request_inbox,
    request_mine,
    request_visible,
)
from governance.approvals.models import Request
from governance.approvals.parameters_display import describe_parameters
from governance.approvals.services.chains import approvals_needed
from governance.approvals.services.requests import request_submit
from governance.approvals.views.detail import request_page_context
from governance.core.tables import Column, build_table
from inventory.models import VirtualMachine
from inventory.selectors.guests import vm_get

PAGE_SIZE = 50
#: Query parameters that pick the target or identify a submission, never a field's value.
_NOT_PREFILLED = frozenset({"vm", "cluster", "idempotency_key"})


def _target(request: HttpRequest, form_class: type[RequestForm]) -> dict[str, Any]:
    """The VM (404 when invisible) or the cluster the new request acts on."""
    source = request.POST if request.method == "POST" else request.GET
    if form_class.needs_vm:
        raw = source.get("vm") or request.GET.get("vm") or ""
        if not raw.isdigit():
            raise Http404("Open the request form from the VM's page.")
        vm: VirtualMachine = vm_get(user=request.user, pk=int(raw))
        if vm.gone_since is not None:
            raise Http404("This VM no longer exists.")
        return {"vm": vm, "cluster": vm.cluster}
    clusters = clusters_open_for_requests()
    name = source.get("cluster") or request.GET.get("cluster")
    if name:
        return {"vm": None, "cluster": get_object_or_404(clusters, name=name)}
    only = list(clusters[:2])
    return {"vm": None, "cluster": only[0] if len(only) == 1 else None, "clusters": clusters}


@login_required
def request_new_view(request: HttpRequest, kind: str) -> HttpResponse:
    form_class = FORMS.get(kind)
    if form_class is None:
        raise Http404("No such kind of request.")
    target = _target(request, form_class)
    context = {"kind": kind, "title": form_class.title, **target}
    if target["cluster"] is None:
        # A new guest on one of several clusters: choose the cluster first.
        return render(request, "approvals/request_cluster.html", context)
    data = request.POST if request.method == "POST" else None
    # An empty form takes its initial values from the link that opened it (a violation's
    # "Request deletion" names the backup).
    initial = (
        {}
        if data is not None
        else {k: v for k, v in request.GET.items() if k not in _NOT_PREFILLED}
    )
    form = form_class(
        data, user=request.user, vm=target["vm"], cluster=target["cluster"], initial=initial
    )
    if request.method == "POST" and form.is_valid() and "preview" in request.POST:
        context["preview"] = _preview(request, kind, form)
    elif request.method == "POST" and form.is_valid():
        try:
            created = request_submit(
                requester=request.user,
                kind=kind,
                vm=target["vm"],
                cluster=target["cluster"],
                parameters=form.parameters(),
                justification=form.cleaned_data["justification"],
                idempotency_key=str(form.cleaned_data["idempotency_key"]),
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            messages.success(request, f"Request #{created.pk} submitted.")
            return redirect("approvals:request", pk=created.pk)
    context["form"] = form
    return render(
        request,
        "approvals/request_form.html",
        context,
        status=400 if form.is_bound and form.errors else 200,
    )


def _preview(request: HttpRequest, kind: str, form: RequestForm) -> dict[str, Any]:
    """The approvals the request would need if submitted now (nothing is stored)."""
    unsaved = Request(
        kind=kind,
        requester=request.user,
        vm=form.vm,
        cluster=form.cluster,
        parameters=form.parameters(),
    )
    auto, steps = approvals_needed(unsaved)
    return {"auto": auto, "steps": [step.describe() for step in steps]}


_COLUMNS = (
    Column("#", "pk", sort_key="id", numeric=True),
    Column("Kind", "get_kind_display", sort_key="kind"),
    Column("Target"),
    Column("Requester", sort_key="requester"),
    Column("State", "get_state_display", sort_key="state"),
    Column("Submitted", "created_at", sort_key="created"),
)
_SORTS = {
    "id": "id",
    "kind": "kind",
    "requester": "requester__username",
    "state": "state",
    "created": "created_at",
}


def _list(
    request: HttpRequest, queryset: Any, *, default_sort: str, **context: Any
) -> HttpResponse:
    table = build_table(
        request=request,
        queryset=queryset,
        columns=_COLUMNS,
        sorts=_SORTS,
        default_sort=default_sort,
        page_size=PAGE_SIZE,
    )
    return render(request, "approvals/request_list.html", {"table": table, **context})


@login_required
def mine_view(request: HttpRequest) -> HttpResponse:
    return _list(
        request,
        request_mine(user=request.user),
        default_sort="-created",
        title="My requests",
        subtitle="What you asked for, newest first",
        empty="You have not requested anything yet.",
        new_kinds=[(kind, form.title) for kind, form in FORMS.items() if not form.needs_vm],
    )


@login_required
def inbox_view(request: HttpRequest) -> HttpResponse:
    # Oldest first: the request that has waited longest should be decided first.
    return _list(
        request,
        request_inbox(user=request.user),
        default_sort="created",
        title="Approvals waiting for you",
        subtitle="Requests whose current step is yours to decide, oldest first",
        empty="Nothing waits for your decision.",
    )


@login_required
def request_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(request_visible(user=request.user), pk=pk)
    context = request_page_context(request, found)
    # Only the full page shows the parameters; the live part refetched on events does not.
    context["parameter_lines"] = describe_parameters(found, viewer=request.user)
    return render(request, "approvals/request_detail.html", context)


@login_required
def request_timeline_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the request page alone, re-fetched when an event announces a change."""
    found = get_object_or_404(request_visible(user=request.user), pk=pk)
    return render(request, "approvals/_request_live.html", request_page_context(request, found))
