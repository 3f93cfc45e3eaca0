"""The exposure report of a node (DESIGN §2, mobility): every guest that ran there in a
window and every copy made of it since, as a page and as a CSV export.

Any signed-in user may open it; they choose among the nodes they may ask about
(``exposure_nodes``) and see only the guests ``restrict`` lets them see, so an end user's
report lists only their own guests. A node they may not ask about answers 404. Viewing
changes nothing and is not audited; an export carries sensitive data out and is, so it is
a POST behind the CSRF check: a GET that wrote the trail would let any other site add
audit rows through a signed-in user's browser.
"""

from __future__ import annotations

from dataclasses import replace

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

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


_QUESTION = ("cluster", "node", "since", "until")


def _form(request: HttpRequest, data: QueryDict) -> ExposureForm:
    form = ExposureForm(data, nodes=exposure_nodes(user=request.user))
    if form.unknown_node:
        raise Http404("No such node.")
    return form


@login_required
def exposure_view(request: HttpRequest) -> HttpResponse:
    form = _form(request, request.GET)
    form.fields["cluster"].widget.attrs.update(
        {
            "hx-get": reverse("inventory:exposure-node-options"),
            "hx-target": "#id_node",
            "hx-swap": "innerHTML",
            "hx-include": "#id_node",
        }
    )
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
            # The window shown, defaults included, so the file matches the page.
            export_fields=[(key, form.data[key]) for key in _QUESTION if form.data.get(key)],
        )
    status = 400 if form.asked and form.errors else 200
    return render(request, "inventory/exposure.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def exposure_csv_view(request: HttpRequest) -> HttpResponse:
    """The whole report as CSV, streamed; the export is audited before the first byte.
    A GET (an old link) is sent to the report of the same question, where the export
    button is."""
    if request.method == "GET":
        return redirect(f"{reverse('inventory:exposure')}{query_url(request)}")
    form = _form(request, request.POST)
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


@login_required
@require_GET
def exposure_node_options_view(request: HttpRequest) -> HttpResponse:
    """The node select's options for ``?cluster=``, swapped in by htmx when the cluster
    changes; the same nodes the report accepts, so a cluster the user may not ask about
    answers 404 like the report. No cluster gives every node, grouped."""
    cluster = request.GET.get("cluster", "")
    nodes = exposure_nodes(user=request.user)
    if cluster:
        nodes = nodes.filter(cluster__name=cluster)
        if not nodes:
            raise Http404("No such cluster.")
    context = {"nodes": nodes, "grouped": not cluster, "selected": request.GET.get("node")}
    return render(request, "inventory/_exposure_node_options.html", context)
