"""The OS diversity report page and its CSV export (the API is ``inventory.api.diversity``)."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from governance.accounts.roles import Role, roles_of
from governance.core.spreadsheets import spreadsheet_safe
from inventory.selectors.diversity import diversity_rows, os_diversity


def vm_list_url(**filters: str) -> str:
    return f"{reverse('inventory:vms')}?{urlencode(filters)}"


@login_required
def diversity_view(request: HttpRequest) -> HttpResponse:
    """Any role may look; what it counts is what ``restrict`` lets the user see (a
    manager their teams' guests, an end user their own). ``?format=csv`` downloads it."""
    roles = roles_of(request.user)
    if not roles:
        raise PermissionDenied("The OS diversity report needs a Steward role.")
    report = os_diversity(user=request.user)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="os-diversity.csv"'
        rows = diversity_rows(report)
        csv.writer(response).writerows([spreadsheet_safe(c) for c in row] for row in rows)
        return response
    rows = [
        (group, vm_list_url(os=group.key), [group.teams.get(t, 0) for t in report.teams])
        for group in report.groups
    ]
    return render(
        request,
        "inventory/diversity.html",
        {
            "report": report,
            "rows": rows,
            "eol_url": vm_list_url(eol="yes"),
            "is_admin": Role.ADMIN in roles,
        },
    )
