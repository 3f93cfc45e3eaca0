"""Remediation runs (list, one run with its log, live), quarantines and exemptions.

Like the violation pages, these come through ``restrict``: owners see their VMs' runs,
quarantines and exemptions; security officers, admins and auditors see all.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from governance.core.permissions import get_object_or_404_for
from governance.core.tables import Column, build_table
from policy.forms import RemediationFilterForm
from policy.lists import REMEDIATION_SORTS, exemption_list, quarantine_list, remediation_list
from policy.models import Remediation


@login_required
def remediation_list_view(request: HttpRequest) -> HttpResponse:
    form = RemediationFilterForm(request.GET)
    valid = form.is_valid()
    queryset = remediation_list(user=request.user, filters=form.filters() if valid else {})
    table = build_table(
        request=request,
        queryset=queryset,
        columns=[
            Column("Created", sort_key="created"),
            Column("Action", sort_key="action"),
            Column("VM"),
            Column("Violation"),
            Column("State", sort_key="state"),
            Column("Attempts", sort_key="attempts", numeric=True),
            Column("Proxmox task"),
        ],
        sorts=REMEDIATION_SORTS,
        default_sort="-created",
        page_size=50,
    )
    return render(
        request,
        "policy/remediation_list.html",
        {"form": form, "table": table},
        status=200 if valid else 400,
    )


def _run(request: HttpRequest, pk: int) -> Remediation:
    return get_object_or_404_for(
        request.user,
        Remediation.objects.select_related(
            "violation", "violation__policy", "quarantine", "vm", "cluster", "requested_by"
        ),
        pk=pk,
    )


@login_required
def remediation_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "policy/remediation_detail.html", {"run": _run(request, pk)})


@login_required
def remediation_status_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's state and log alone: what the page re-fetches on a live event."""
    return render(request, "policy/_remediation_status.html", {"run": _run(request, pk)})


@login_required
def quarantine_list_view(request: HttpRequest) -> HttpResponse:
    open_only = request.GET.get("state", "open") == "open"
    table = build_table(
        request=request,
        queryset=quarantine_list(user=request.user, open_only=open_only),
        columns=[
            Column("Since", sort_key="since"),
            Column("VM"),
            Column("Cause", sort_key="cause"),
            Column("Firewall"),
            Column("Lifted", sort_key="lifted"),
        ],
        sorts={"since": ("since",), "cause": ("cause", "-since"), "lifted": ("lifted_at",)},
        default_sort="-since",
        page_size=50,
    )
    return render(request, "policy/quarantine_list.html", {"table": table, "open_only": open_only})


@login_required
def exemption_list_view(request: HttpRequest) -> HttpResponse:
    active_only = request.GET.get("state", "active") == "active"
    table = build_table(
        request=request,
        queryset=exemption_list(user=request.user, active_only=active_only),
        columns=[
            Column("Policy", sort_key="policy"),
            Column("VM"),
            Column("Finding"),
            Column("Until", sort_key="until"),
            Column("Reason"),
            Column("Granted by"),
        ],
        sorts={"policy": ("policy__name", "until"), "until": ("until",)},
        default_sort="until",
        page_size=50,
    )
    return render(
        request, "policy/exemption_list.html", {"table": table, "active_only": active_only}
    )
