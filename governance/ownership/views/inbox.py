"""The inbox (claims and transfers waiting for the viewer) and the page to claim a VM.

The inbox lists only what the viewer acts on next: claims for teams they manage (not
their own), transfers offered to them, and accepted transfers into teams they manage
(not to themselves); plus their own open requests, which they may withdraw.

The claim page lists ``vms_claimable()``: unowned live VMs anyone may claim, shown by
cluster, vmid and name only (never config, ledgers or who held them before).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from governance.ownership.forms import ClaimForm
from governance.ownership.selectors import (
    claims_open_by,
    claims_to_decide,
    transfers_open_by,
    transfers_waiting_for,
    vms_claimable,
)
from inventory.selectors.guests import vm_search

CLAIMABLE_PAGE = 50


@login_required
def inbox_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "ownership/inbox.html",
        {
            "claims": list(claims_to_decide(user=user).order_by("created_at", "id")),
            "transfers": list(transfers_waiting_for(user=user).order_by("offered_at", "id")),
            "my_claims": list(claims_open_by(user=user).order_by("created_at", "id")),
            "my_transfers": list(transfers_open_by(user=user).order_by("offered_at", "id")),
        },
    )


@login_required
def claimable_view(request: HttpRequest) -> HttpResponse:
    """Unowned VMs to claim, searchable by vmid, name, MAC or UUID; the first page only."""
    text = request.GET.get("q", "")[:200]
    form = ClaimForm(user=request.user)
    claimable = vms_claimable().only("pk", "vmid", "name", "cluster__name")
    rows = list(vm_search(claimable, text)[: CLAIMABLE_PAGE + 1])
    return render(
        request,
        "ownership/claimable.html",
        {
            "q": text,
            "rows": rows[:CLAIMABLE_PAGE],
            "more": len(rows) > CLAIMABLE_PAGE,
            "teams": list(form.fields["team"].queryset),
        },
    )
