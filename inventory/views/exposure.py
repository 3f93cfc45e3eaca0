"""The exposure report of a node (DESIGN §2, mobility): every guest that ran there in a
window and every copy made of it since, as a page and as a CSV export.

Any signed-in user may open it; they choose among the nodes they may ask about
(``exposure_nodes``) and see only the guests ``restrict`` lets them see, so an end user's
report lists only their own guests. A node they may not ask about answers 404. Viewing
changes nothing and is not audited; an export carries sensitive data out and is.
"""

from __future__ import annotations

from dataclasses import replace

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from governance.audit.services import audit_record
from governance.core.tables import Column, Row, build_table, query_url
from inventory.exports import exposure_csv_lines
from inventory.forms.exposure import ExposureForm
from inventory.selectors.ledgers import (
    exposure_batches,
    exposure_details,
    exposure_guests,
    exposure_nodes,
    exposure_summary,
)

PAGE_SIZE = 25

_COLUMNS = [
    Column("Guest", sort_key="name"),
    Column("VMID", sort_key="vmid", numeric=True),
    Column("Classification", sort_key="classification"),
    Column("Owner", sort_key="owner"),
    Column("Team", sort_key="team"),
    Column("Stays on the node", sort_key="arrived"),
    Column("Copies since", sort_key="copies"),
]
_SORTS = {
    "name": ("name", "vmid"),
    "vmid": ("vmid", "cluster__name"),
    "classification": ("classification", "name"),
    "owner": ("owner_name", "name"),
    "team": ("team_name", "name"),
    "arrived": ("arrived", "name"),
    "copies": ("-copy_count", "name"),
}


def _form(request: HttpRequest) -> ExposureForm:
    form = ExposureForm(request.GET, nodes=exposure_nodes(user=request.user))
    if form.unknown_node:
        raise Http404("No such node.")
    return form


@login_required
def exposure_view(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    context: dict = {"form": form, "table": None}
    if form.asked and form.is_valid():
        node, since, until = form.question()
        guests = exposure_guests(user=request.user, node=node, since=since, until=until)
        table = build_table(
            request=request,
            queryset=guests,
            columns=_COLUMNS,
            sorts=_SORTS,
            default_sort="arrived",
            page_size=PAGE_SIZE,
        )
        entries = exposure_details(table.page.object_list, node=node, since=since, until=until)
        context.update(
            node=node,
            since=since,
            until=until,
            table=replace(table, rows=[Row(entry, []) for entry in entries]),
            summary=exposure_summary(user=request.user, node=node, since=since, until=until),
            csv_query=query_url(request, sort=None, page=None),
        )
    status = 400 if form.asked and form.errors else 200
    return render(request, "inventory/exposure.html", context, status=status)


@login_required
def exposure_csv_view(request: HttpRequest) -> HttpResponse:
    """The whole report as CSV, streamed; the export is audited before the first byte."""
    form = _form(request)
    if not (form.asked and form.is_valid()):
        return render(request, "inventory/exposure.html", {"form": form}, status=400)
    node, since, until = form.question()
    summary = exposure_summary(user=request.user, node=node, since=since, until=until)
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action="inventory.exposure_exported",
            target=node,
            after={
                "cluster": node.cluster.name,
                "node": node.name,
                "since": since,
                "until": until,
                "guests": summary.guests,
                "copies": summary.copies,
                "removable_or_external": summary.risky_copies,
            },
        )
    batches = exposure_batches(user=request.user, node=node, since=since, until=until)
    response = StreamingHttpResponse(
        exposure_csv_lines(batches), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime(until).strftime("%Y%m%d-%H%M")
    name = f"exposure-{node.cluster.name}-{node.name}-{stamp}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
