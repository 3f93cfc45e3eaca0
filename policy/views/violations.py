"""Violation pages: the filtered list, one violation with its evidence and remediation
runs, and the policy section of the VM page.

Everyone signed in may open these: the querysets come through ``restrict``, so owners
and custodians see their VMs' violations and nothing else (another VM's violation
answers 404), while security officers, admins and auditors see all of them.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from governance.core.permissions import get_object_or_404_for
from governance.core.tables import Column, build_table
from inventory.selectors.guests import vm_get
from policy.evidence import evidence_items
from policy.forms import ViolationFilterForm
from policy.lists import (
    VIOLATION_SORTS,
    violation_list,
    violation_remediations,
    vm_policy_section,
)
from policy.models import Violation


@login_required
def violation_list_view(request: HttpRequest) -> HttpResponse:
    form = ViolationFilterForm(request.GET)
    valid = form.is_valid()
    # An invalid filter shows its error above the default list rather than nothing.
    filters = form.filters() if valid else {"state": "open"}
    queryset = violation_list(user=request.user, filters=filters)
    table = build_table(
        request=request,
        queryset=queryset,
        columns=[Column(label, sort_key=key) for label, key in _HEADERS],
        sorts=VIOLATION_SORTS,
        default_sort="-detected",
        page_size=50,
    )
    return render(
        request,
        "policy/violation_list.html",
        {
            "form": form,
            "table": table,
            "filtered": any(v for k, v in request.GET.items() if k not in ("sort", "page")),
        },
        status=200 if valid else 400,
    )


_HEADERS = (
    ("Detected", "detected"),
    ("Policy", "policy"),
    ("VM", "vm"),
    ("Finding", None),
    ("Remediation", "remediation"),
    ("Last seen", "seen"),
    ("Resolved", "resolved"),
)


@login_required
def violation_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    violation = get_object_or_404_for(
        request.user,
        Violation.objects.select_related("policy", "vm", "vm__node", "cluster"),
        pk=pk,
    )
    return render(
        request,
        "policy/violation_detail.html",
        {
            "violation": violation,
            "evidence": evidence_items(violation.evidence),
            "runs": violation_remediations(violation=violation),
        },
    )


@login_required
def vm_section_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The VM page's policy section alone, for live refreshes (404 for invisible VMs)."""
    vm = vm_get(user=request.user, pk=pk)
    return render(
        request,
        "policy/_vm_section_body.html",
        {"vm": vm, "section": vm_policy_section(user=request.user, vm=vm)},
    )
